"""Documents sent to Whalet from a replenish to-do: the claim, the record, and Whalet's answer.

A sending is three short transactions around the slow part (downloading files, calling Whalet),
never one transaction held across it:

1. ``claim``: compare-and-set on the to-do (``docs`` not SENDING or SUBMITTED, not closed) and
   the submission row, unique per (to-do, round) and per modal: two submits of one modal, or
   two people at once, give one sending; the other is told who is sending.
2. the caller downloads and calls Whalet;
3. ``finish``: the answer on the submission row and the to-do's ``docs`` in one transaction (with
   the card update and the thread reply the caller enqueues), or ``release`` when nothing was sent.

A process killed between 1 and 3 leaves ``docs = 'SENDING'``: after ``STALE_AFTER`` anyone may
claim again, and the abandoned row is marked so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from core.clock import iso
from core.storage import replenish

STALE_AFTER = timedelta(minutes=10)
SENDING, ACCEPTED, REFUSED, UNKNOWN, FAILED, ABANDONED = (
    "sending",
    "accepted",
    "refused",
    "unknown",
    "failed",
    "abandoned",
)


@dataclass(frozen=True)
class Claim:
    round: int | None  # None: not claimed
    todo: dict[str, Any] | None

    @property
    def reason(self) -> str:
        """Why no sending was claimed, in a sentence."""
        todo = self.todo
        if todo is None:
            return "This documents request is not known to the bot."
        if todo["state"] == replenish.CLOSED:
            return f"This request is already closed ({todo['result'] or 'done'})."
        if todo["docs"] == "SENDING":
            return f"<@{todo['docs_by']}> is sending documents for this request right now."
        if todo["docs"] == "SUBMITTED":
            return f"<@{todo['docs_by']}> already sent documents; Whalet has not decided yet."
        return "These documents were already sent from this form."


def claim(
    db: Database, replenish_id: str, form_id: str, user_id: str, note: str, files: list[dict[str, Any]], now: datetime
) -> Claim:
    """Make this the one sending for the to-do (see the module docstring)."""
    stale = iso(now - STALE_AFTER)
    if db.execute("SELECT 1 FROM replenish_submissions WHERE form_id = ?", [form_id]).fetchone():
        return Claim(None, replenish.get(db, replenish_id))
    before = replenish.get(db, replenish_id)
    cursor = db.execute(
        """UPDATE replenish_todos SET docs = 'SENDING', docs_by = ?, docs_since = ?, rounds = rounds + 1,
               owner = COALESCE(owner, ?), taken_at = COALESCE(taken_at, ?),
               state = CASE WHEN state = 'OPEN' THEN 'TAKEN' ELSE state END
           WHERE replenish_id = ? AND state != 'CLOSED'
             AND (docs IS NULL OR docs = 'REJECTED' OR (docs = 'SENDING' AND docs_since < ?))""",
        [user_id, iso(now), user_id, iso(now), replenish_id, stale],
    )
    todo = replenish.get(db, replenish_id)
    if cursor.rowcount != 1 or todo is None or before is None:
        return Claim(None, todo)
    db.execute(
        "UPDATE replenish_submissions SET state = ?, finished_at = ? WHERE replenish_id = ? AND state = ?",
        [ABANDONED, iso(now), replenish_id, SENDING],
    )
    db.execute(
        """INSERT INTO replenish_submissions (replenish_id, round, form_id, submitted_by, note, files,
               prior_docs, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            replenish_id,
            todo["rounds"],
            form_id,
            user_id,
            note or None,
            json.dumps(files, ensure_ascii=False),
            before["docs"] if before["docs"] != "SENDING" else None,
            SENDING,
            iso(now),
        ],
    )
    return Claim(int(todo["rounds"]), todo)


def _row(db: Database, replenish_id: str, round_: int) -> dict[str, Any] | None:
    rows = list(
        db.query("SELECT * FROM replenish_submissions WHERE replenish_id = ? AND round = ?", [replenish_id, round_])
    )
    return rows[0] if rows else None


def release(db: Database, replenish_id: str, round_: int) -> dict[str, Any] | None:
    """Nothing reached Whalet (a file refused, Whalet refused or never answered): the to-do is as
    before the claim, so Submit documents is offered again. Returns the to-do."""
    row = _row(db, replenish_id, round_)
    prior = row["prior_docs"] if row else None
    db.execute(
        "UPDATE replenish_todos SET docs = ? WHERE replenish_id = ? AND docs = 'SENDING' AND rounds = ?",
        [prior, replenish_id, round_],
    )
    return replenish.get(db, replenish_id)


def finish(
    db: Database,
    replenish_id: str,
    round_: int,
    state: str,
    detail: str | None,
    files: list[dict[str, Any]] | None,
    now: datetime,
) -> dict[str, Any] | None:
    """Record how the sending ended; an accepted one leaves the to-do SUBMITTED (unless Whalet's
    decision already arrived), any other releases the claim. Returns the to-do."""
    assignments = "state = ?, detail = ?, finished_at = ?" + (", files = ?" if files is not None else "")
    params: list[Any] = [state, detail, iso(now)] + (
        [json.dumps(files, ensure_ascii=False)] if files is not None else []
    )
    db.execute(
        f"UPDATE replenish_submissions SET {assignments} WHERE replenish_id = ? AND round = ? AND state = ?",
        [*params, replenish_id, round_, SENDING],
    )
    if state != ACCEPTED:
        return release(db, replenish_id, round_)
    db.execute(
        "UPDATE replenish_todos SET docs = 'SUBMITTED' WHERE replenish_id = ? AND docs = 'SENDING' AND rounds = ?",
        [replenish_id, round_],
    )
    return replenish.get(db, replenish_id)


def record_decision(db: Database, replenish_id: str, status: str, remark: str | None) -> None:
    """Whalet's decision goes on the latest accepted sending (for the audit of who sent what)."""
    db.execute(
        """UPDATE replenish_submissions SET result = ?, remark = ? WHERE id = (
               SELECT MAX(id) FROM replenish_submissions WHERE replenish_id = ? AND state = ?)""",
        [status, remark, replenish_id, ACCEPTED],
    )


def submissions(db: Database, replenish_id: str) -> list[dict[str, Any]]:
    rows = list(db.query("SELECT * FROM replenish_submissions WHERE replenish_id = ? ORDER BY round", [replenish_id]))
    for row in rows:
        row["files"] = json.loads(row["files"] or "[]")
    return rows
