"""Queries on ``approval_requests`` and ``approvals``: payout and pay requests and who approved them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from core.storage import batches
from core.storage.dialect import row_lock


def counts_by_state(db: Database) -> list[tuple[str, int]]:
    return [(row[0], int(row[1])) for row in db.execute("SELECT state, COUNT(*) FROM approval_requests GROUP BY state")]


def beneficiary_paid(db: Database, beneficiary_id: str, paid_states: tuple[str, ...]) -> bool:
    """Whether a request to this beneficiary ever reached one of ``paid_states``."""
    marks = ",".join("?" * len(paid_states))
    return (
        db.execute(
            f"SELECT 1 FROM approval_requests WHERE beneficiary_id = ? AND state IN ({marks}) LIMIT 1",
            [beneficiary_id, *paid_states],
        ).fetchone()
        is not None
    )


def request(db: Database, request_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    """One request; with ``lock``, its row is held until the transaction ends (Postgres waits for
    another replica's decision on it instead of deciding on a copy that is about to be stale)."""
    clause = row_lock(db, skip_locked=False) if lock else ""
    return next(iter(db.query(f"SELECT * FROM approval_requests WHERE id = ?{clause}", [request_id])), None)


def request_by_order(db: Database, mer_order_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    clause = row_lock(db, skip_locked=False) if lock else ""
    return next(iter(db.query(f"SELECT * FROM approval_requests WHERE mer_order_no = ?{clause}", [mer_order_no])), None)


def requests_in(db: Database, states: Sequence[str]) -> list[dict[str, Any]]:
    """Oldest first."""
    marks = ",".join("?" * len(states))
    return list(db.query(f"SELECT * FROM approval_requests WHERE state IN ({marks}) ORDER BY created_at", list(states)))


def requests_of_batch(db: Database, batch_id: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM approval_requests WHERE batch_id = ? ORDER BY line_no, id", [batch_id]))


def requests_of(db: Database, requester: str, limit: int) -> list[dict[str, Any]]:
    """A requester's latest requests (any state but APPLYING / ABANDONED), newest first; a batch
    is one of them, the payouts of its lines are not."""
    return list(
        db.query(
            """SELECT * FROM approval_requests WHERE requester = ? AND batch_id IS NULL
                            AND state NOT IN ('APPLYING', 'ABANDONED') ORDER BY created_at DESC, id LIMIT ?""",
            [requester, limit],
        )
    )


def insert_request(db: Database, row: dict[str, Any]) -> None:
    db.execute(
        f"INSERT INTO approval_requests ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    )


def compare_and_set(db: Database, request_id: str, state: str, version: int, sets: dict[str, Any]) -> bool:
    """Write ``sets`` only if the row still has the state and version the caller read."""
    cursor = db.execute(
        f"UPDATE approval_requests SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ? AND state = ? AND version = ?",
        [*sets.values(), request_id, state, version],
    )
    return int(cursor.rowcount) == 1


def amounts(
    db: Database,
    *,
    requester: str,
    since: str,
    states: Sequence[str],
    currency: str | None = None,
    party: str | None = None,
) -> list[tuple[str, str]]:
    """(amount, currency) of ``requester``'s requests created since ``since`` in ``states``; with
    ``currency``, only those in it; with ``party``, only those to that beneficiary or payee ('' matches
    requests to nobody)."""
    marks = ",".join("?" * len(states))
    # A batch counts by its lines (core/storage/batches.py), so neither the batch row (one
    # currency for many) nor the payouts its lines become are counted here a second time.
    where = "requester = ? AND created_at >= ? AND lines_digest IS NULL AND batch_id IS NULL"
    params: list[Any] = [requester, since]
    if currency is not None:
        where += " AND currency = ?"
        params.append(currency)
    if party is not None:
        where += " AND COALESCE(beneficiary_id, payee_user_id) = ?"
        params.append(party)
    single = [
        (str(row[0]), str(row[1]))
        for row in db.execute(
            f"SELECT amount, currency FROM approval_requests WHERE {where} AND state IN ({marks})", [*params, *states]
        )
    ]
    return single + batches.amounts(db, requester=requester, since=since, states=states, currency=currency, party=party)


def awaiting_result(db: Database, states: Sequence[str], decided_before: str) -> list[tuple[Any, ...]]:
    """(id, kind, user_id, mer_order_no, amount, currency, decided or created) of requests in
    ``states`` without a result, decided (or created) at or before ``decided_before``."""
    marks = ", ".join("?" for _ in states)
    return [
        tuple(row)
        for row in db.execute(
            f"""SELECT id, kind, user_id, mer_order_no, amount, currency, COALESCE(decided_at, created_at)
            FROM approval_requests WHERE state IN ({marks}) AND result_status IS NULL
            AND COALESCE(decided_at, created_at) <= ? ORDER BY mer_order_no""",
            [*states, decided_before],
        )
    ]


def summaries_in(db: Database, states: Sequence[str]) -> list[dict[str, Any]]:
    """What a digest lists about open requests, oldest first."""
    marks = ", ".join("?" for _ in states)
    return list(
        db.query(
            f"""SELECT id, kind, state, requester, amount, currency, beneficiary_name, payee_user_id,
                               created_at FROM approval_requests WHERE state IN ({marks}) AND batch_id IS NULL
                               ORDER BY created_at""",
            list(states),
        )
    )


# --- approvals given ---------------------------------------------------------------------------


def approvals_of(db: Database, request_id: str) -> list[tuple[str, str, str | None, int | None, str | None]]:
    """(approver, at, revoked_at, layer, terms), in the order given."""
    return [
        (row[0], row[1], row[2], None if row[3] is None else int(row[3]), row[4])
        for row in db.execute(
            "SELECT approver, at, revoked_at, layer, terms FROM approvals WHERE request_id = ? ORDER BY at, approver",
            [request_id],
        )
    ]


def add_approval(
    db: Database, request_id: str, approver: str, at: str, layer: int | None = None, terms: str | None = None
) -> bool:
    """False when this person had already approved this request (one row per pair)."""
    return (
        int(
            db.execute(
                "INSERT OR IGNORE INTO approvals (request_id, approver, at, layer, terms) VALUES (?, ?, ?, ?, ?)",
                [request_id, approver, at, layer, terms],
            ).rowcount
        )
        == 1
    )


def set_revoked(db: Database, request_id: str, approver: str, revoked_at: str | None) -> bool:
    """Mark an approval as not counting since ``revoked_at`` (None: counting again); True on a change."""
    if revoked_at is None:
        sql = "UPDATE approvals SET revoked_at = NULL WHERE request_id = ? AND approver = ? AND revoked_at IS NOT NULL"
        return int(db.execute(sql, [request_id, approver]).rowcount) == 1
    sql = "UPDATE approvals SET revoked_at = ? WHERE request_id = ? AND approver = ? AND revoked_at IS NULL"
    return int(db.execute(sql, [revoked_at, request_id, approver]).rowcount) == 1


def delete_approvals(db: Database, request_id: str) -> list[str]:
    """Remove a request's approvals (its terms changed beyond what they approved; the audit log
    keeps them); returns who had approved, so they can approve again."""
    givers = [row[0] for row in db.execute("SELECT approver FROM approvals WHERE request_id = ?", [request_id])]
    db.execute("DELETE FROM approvals WHERE request_id = ?", [request_id])
    return givers
