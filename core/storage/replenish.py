"""Whalet's requests for more documents (EDD and trade replenish) as to-dos with an owner.

Lifecycle, one row per ``replenishId`` in ``replenish_todos``::

    OPEN (nobody) --"I'll handle it"--> TAKEN (owner) --PASS (or any final word)--> CLOSED
    OPEN -------------------------------------------------PASS-------------------> CLOSED
    OPEN / TAKEN --REJECT--> OPEN / TAKEN again, ``docs`` = REJECTED (Whalet asks again)

``docs`` follows the documents sent from Slack (``replenish_submissions``): NULL (none yet),
SENDING (claimed by one submission), SUBMITTED (Whalet took them), REJECTED (Whalet's REJECT);
a REJECT reopens the to-do rather than closing it, because Whalet still wants documents.

Every transition is a compare-and-set inside the caller's transaction, so two people clicking at
once get one owner, and a result that arrives before its request (Whalet does not promise order)
still ends CLOSED: the request then only fills in the details. Whalet may also change its mind:
a second request for the same ``replenishId`` replaces the details (materials, deadline), and a
second result replaces the decision (the inbox relays only content it has not seen before). The reminder is sent once, when
``deadline - reminder_hours`` has passed and the to-do is still not closed; ``reminded_at``
records it so a restart never repeats it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from core.clock import iso
from whalet.models import parse_whalet_time

OPEN, TAKEN, CLOSED = "OPEN", "TAKEN", "CLOSED"
COLUMNS = (
    "replenish_id",
    "kind",
    "api_code",
    "user_id",
    "trade_id",
    "trade_type",
    "reason",
    "materials",
    "deadline",
    "state",
    "owner",
    "taken_at",
    "result",
    "remark",
    "closed_at",
    "reminded_at",
    "card_channel",
    "created_at",
    "docs",
    "docs_by",
    "docs_since",
    "rounds",
)
REJECTED = "REJECT"


def _kind(operation: str) -> str:
    return "trade" if operation.startswith("trade") else "edd"


def _deadline(value: Any) -> str | None:
    try:
        return iso(parse_whalet_time(value)) if value not in (None, "") else None
    except (ValueError, TypeError):
        return None


def get(db: Database, replenish_id: str) -> dict[str, Any] | None:
    row = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM replenish_todos WHERE replenish_id = ?", [replenish_id]
    ).fetchone()
    if row is None:
        return None
    todo = dict(zip(COLUMNS, row, strict=True))
    todo["materials"] = json.loads(todo["materials"] or "[]")
    return todo


def record_request(db: Database, operation: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A documents request arrived: create the to-do, or fill in details if its result came first."""
    replenish_id = str(body["replenishId"])
    details = {
        "api_code": operation,
        "user_id": body.get("userId"),
        "trade_id": body.get("tradeId"),
        "trade_type": body.get("tradeType"),
        "reason": body.get("reason"),
        "materials": json.dumps(body.get("requiredMaterials") or [], ensure_ascii=False, default=str),
        "deadline": _deadline(body.get("deadline")),
    }
    db.execute(
        """INSERT INTO replenish_todos (replenish_id, kind, state, created_at) VALUES (?, ?, 'OPEN', ?)
           ON CONFLICT(replenish_id) DO NOTHING""",
        [replenish_id, _kind(operation), iso(now)],
    )
    assignments = ", ".join(f"{column} = COALESCE(?, {column})" for column in details)
    db.execute(f"UPDATE replenish_todos SET {assignments} WHERE replenish_id = ?", [*details.values(), replenish_id])
    todo = get(db, replenish_id)
    assert todo is not None
    return todo


def claim_card(db: Database, replenish_id: str, channel: str) -> bool:
    """True once per to-do: the caller posts the card (in ``channel``) only when this wins."""
    cursor = db.execute(
        "UPDATE replenish_todos SET card_channel = ? WHERE replenish_id = ? AND card_channel IS NULL",
        [channel, replenish_id],
    )
    return cursor.rowcount == 1


def record_result(db: Database, operation: str, body: dict[str, Any], now: datetime) -> tuple[dict[str, Any], bool]:
    """Whalet decided: PASS closes the to-do, REJECT reopens it. Returns (to-do, did it change state)."""
    replenish_id = str(body["replenishId"])
    db.execute(
        """INSERT INTO replenish_todos (replenish_id, kind, user_id, trade_id, state, created_at)
           VALUES (?, ?, ?, ?, 'OPEN', ?) ON CONFLICT(replenish_id) DO NOTHING""",
        [replenish_id, _kind(operation), body.get("userId"), body.get("tradeId"), iso(now)],
    )
    status, remark = str(body.get("status") or ""), body.get("remark")
    if status.upper() == REJECTED:  # Whalet wants documents again: the to-do is open again
        cursor = db.execute(
            """UPDATE replenish_todos SET result = ?, remark = ?, docs = 'REJECTED',
                   state = CASE WHEN owner IS NULL THEN 'OPEN' ELSE 'TAKEN' END
               WHERE replenish_id = ? AND state != 'CLOSED'""",
            [status, remark, replenish_id],
        )
    else:
        cursor = db.execute(
            """UPDATE replenish_todos SET state = 'CLOSED', result = ?, remark = ?, closed_at = ?
               WHERE replenish_id = ? AND state != 'CLOSED'""",
            [status, remark, iso(now), replenish_id],
        )
    if cursor.rowcount == 0:  # already closed: a later result (other status or remark) is Whalet's latest word
        db.execute(
            "UPDATE replenish_todos SET result = ?, remark = ? WHERE replenish_id = ?", [status, remark, replenish_id]
        )
    todo = get(db, replenish_id)
    assert todo is not None
    return todo, cursor.rowcount == 1


@dataclass(frozen=True)
class TakeOutcome:
    taken: bool  # True: this user is now the owner
    todo: dict[str, Any] | None  # None: no such to-do

    @property
    def reason(self) -> str:
        """Why the click did not make the user the owner, in a sentence."""
        if self.todo is None:
            return "This request is not known to the bot."
        if self.todo["state"] == CLOSED:
            return f"This request is already closed ({self.todo['result'] or 'done'})."
        return f"<@{self.todo['owner']}> is already handling this."


def take(db: Database, replenish_id: str, user_id: str, now: datetime) -> TakeOutcome:
    """Compare-and-set OPEN -> TAKEN; exactly one of several racing clicks wins. (Sending documents
    also makes the sender the owner of a to-do nobody had taken.)"""
    cursor = db.execute(
        "UPDATE replenish_todos SET state = 'TAKEN', owner = ?, taken_at = ? WHERE replenish_id = ? AND state = 'OPEN'",
        [user_id, iso(now), replenish_id],
    )
    return TakeOutcome(cursor.rowcount == 1, get(db, replenish_id))


def due_reminders(db: Database, now: datetime, reminder_hours: int) -> list[dict[str, Any]]:
    """Open or taken to-dos whose deadline is within ``reminder_hours`` and not yet reminded."""
    horizon = iso(now + timedelta(hours=reminder_hours))
    rows = db.execute(
        """SELECT replenish_id FROM replenish_todos WHERE state != 'CLOSED' AND reminded_at IS NULL
           AND card_channel IS NOT NULL AND deadline IS NOT NULL AND deadline <= ? ORDER BY deadline""",
        [horizon],
    ).fetchall()
    return [todo for (replenish_id,) in rows if (todo := get(db, replenish_id)) is not None]


def mark_reminded(db: Database, replenish_id: str, now: datetime) -> bool:
    cursor = db.execute(
        "UPDATE replenish_todos SET reminded_at = ? WHERE replenish_id = ? AND reminded_at IS NULL",
        [iso(now), replenish_id],
    )
    return cursor.rowcount == 1


def open_todos(db: Database) -> list[dict[str, Any]]:
    rows = db.execute("SELECT replenish_id FROM replenish_todos WHERE state != 'CLOSED' ORDER BY deadline").fetchall()
    return [todo for (replenish_id,) in rows if (todo := get(db, replenish_id)) is not None]
