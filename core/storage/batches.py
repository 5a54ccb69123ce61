"""Queries on ``batches`` and ``batch_lines``: a batch payout's lines and how each was released.

A line's fields (beneficiary, amount, currencies, purpose, reference) are written once, when the
batch is created, and never updated: the batch's fingerprint covers their digest. What changes
is how the line is being released: ``request_id`` (its current payout request), ``attempt`` (the
order number's last digit) and ``outcome`` / ``reason`` when it ended without a payout request
that says so itself (refused at apply, the batch expired first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from core.storage.dialect import row_lock

LINE_FIELDS = (
    "line_no",
    "beneficiary_id",
    "beneficiary_name",
    "account_tail",
    "amount",
    "currency",
    "to_currency",
    "purpose",
    "reference",
    "flags",
)


def insert(db: Database, batch_id: str, file_name: str, rates: str, lines: Sequence[dict[str, Any]]) -> None:
    db.execute("INSERT INTO batches (id, file_name, rates) VALUES (?, ?, ?)", [batch_id, file_name, rates])
    for line in lines:
        values = [batch_id, *(line[name] for name in LINE_FIELDS)]
        db.execute(
            f"INSERT INTO batch_lines (batch_id, {', '.join(LINE_FIELDS)}) VALUES ({', '.join('?' * len(values))})",
            values,
        )


def batch(db: Database, batch_id: str) -> dict[str, Any] | None:
    return next(iter(db.query("SELECT * FROM batches WHERE id = ?", [batch_id])), None)


def lines(db: Database, batch_id: str, *, lock: bool = False) -> list[dict[str, Any]]:
    clause = row_lock(db, skip_locked=False) if lock else ""
    return list(db.query(f"SELECT * FROM batch_lines WHERE batch_id = ? ORDER BY line_no{clause}", [batch_id]))


def claim(db: Database, batch_id: str, line_no: int, was: str | None, request_id: str, attempt: int) -> bool:
    """The line's next payout request, if no one else gave it one since ``was`` was read."""
    cursor = db.execute(
        "UPDATE batch_lines SET request_id = ?, attempt = ? WHERE batch_id = ? AND line_no = ? "
        "AND COALESCE(request_id, '') = ? AND outcome IS NULL",
        [request_id, attempt, batch_id, line_no, was or ""],
    )
    return int(cursor.rowcount) == 1


def end_line(db: Database, batch_id: str, line_no: int, outcome: str, reason: str) -> None:
    db.execute(
        "UPDATE batch_lines SET outcome = ?, reason = ? WHERE batch_id = ? AND line_no = ? AND outcome IS NULL",
        [outcome, reason, batch_id, line_no],
    )


def set_rates(db: Database, batch_id: str, rates: str) -> None:
    db.execute("UPDATE batches SET rates = ? WHERE id = ?", [rates, batch_id])


def claim_results(db: Database, batch_id: str, now: str) -> bool:
    """Once per batch: the results table goes to its thread."""
    cursor = db.execute(
        "UPDATE batches SET results_posted_at = ? WHERE id = ? AND results_posted_at IS NULL", [now, batch_id]
    )
    return int(cursor.rowcount) == 1


def amounts(
    db: Database, *, requester: str, since: str, states: Sequence[str], currency: str | None, party: str | None
) -> list[tuple[str, str]]:
    """(amount, currency) of the lines of ``requester``'s batches in ``states`` made since ``since``
    (a batch counts in limits by its lines, in each line's currency and to each line's party)."""
    marks = ",".join("?" * len(states))
    where = f"r.requester = ? AND r.created_at >= ? AND r.lines_digest IS NOT NULL AND r.state IN ({marks})"
    params: list[Any] = [requester, since, *states]
    if currency is not None:
        where += " AND l.currency = ?"
        params.append(currency)
    if party is not None:
        where += " AND l.beneficiary_id = ?"
        params.append(party)
    sql = f"SELECT l.amount, l.currency FROM batch_lines l JOIN approval_requests r ON r.id = l.batch_id WHERE {where}"
    return [(str(row[0]), str(row[1])) for row in db.execute(sql, params)]
