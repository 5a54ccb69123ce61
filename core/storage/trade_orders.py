"""Trade orders bound to B2B collections from Slack (``trade_order_bindings``).

Like a documents sending: ``claim`` writes the row before Whalet is called (unique per modal,
and one live binding per collection and trade order number, by a partial unique index), the
caller calls Whalet, ``finish`` records the answer. ``tradeOrderBindNotify`` finds its row by
Whalet's bind id or the trade order number, which says under which collection to thread it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from core.clock import iso

SENDING, ACCEPTED, REFUSED, UNKNOWN, FAILED = "sending", "accepted", "refused", "unknown", "failed"
DECIDED = {"PASS": "passed", "REJECT": "rejected"}


def live(db: Database, collection_id: str, trade_order_no: str) -> dict[str, Any] | None:
    rows = list(
        db.query(
            """SELECT * FROM trade_order_bindings WHERE collection_id = ? AND trade_order_no = ?
               AND state IN ('sending', 'accepted', 'passed')""",
            [collection_id, trade_order_no],
        )
    )
    return rows[0] if rows else None


def claim(db: Database, binding: dict[str, Any], now: datetime) -> int | None:
    """The new row's id, or None when this modal was already sent or the trade order is bound
    (or being bound) to this collection."""
    cursor = db.execute(
        """INSERT OR IGNORE INTO trade_order_bindings (form_id, collection_id, user_id, trade_order_no, amount,
               currency, buyer_name, requested_by, channel, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?)""",
        [
            binding["form_id"],
            binding["collection_id"],
            binding["user_id"],
            binding["trade_order_no"],
            str(binding["amount"]),
            binding["currency"],
            binding["buyer_name"],
            binding["requested_by"],
            binding["channel"],
            iso(now),
        ],
    )
    if cursor.rowcount != 1:
        return None
    row = db.execute("SELECT id FROM trade_order_bindings WHERE form_id = ?", [binding["form_id"]]).fetchone()
    return int(row[0])


def finish(
    db: Database,
    row_id: int,
    state: str,
    *,
    bind_id: str | None,
    detail: str | None,
    contract: dict[str, Any] | None,
    now: datetime,
) -> None:
    db.execute(
        """UPDATE trade_order_bindings SET state = ?, bind_id = ?, detail = ?, contract = ?, finished_at = ?
           WHERE id = ? AND state = 'sending'""",
        [state, bind_id, detail, json.dumps(contract) if contract else None, iso(now), row_id],
    )


def record_decision(db: Database, body: dict[str, Any]) -> dict[str, Any] | None:
    """Whalet's decision on a binding: the row it is about (by bind id, else trade order number),
    updated, or None when the binding was not made from Slack."""
    rows: list[dict[str, Any]] = []
    if body.get("bindId"):
        rows = list(db.query("SELECT * FROM trade_order_bindings WHERE bind_id = ?", [str(body["bindId"])]))
    if not rows and body.get("tradeOrderNo"):
        rows = list(
            db.query(
                "SELECT * FROM trade_order_bindings WHERE trade_order_no = ? AND user_id = ? ORDER BY id DESC LIMIT 1",
                [str(body["tradeOrderNo"]), str(body.get("userId") or "")],
            )
        )
    if not rows:
        return None
    status = str(body.get("status") or "")
    db.execute(
        "UPDATE trade_order_bindings SET result = ?, remark = ?, state = ? WHERE id = ?",
        [status, body.get("remark"), DECIDED.get(status.upper(), rows[0]["state"]), rows[0]["id"]],
    )
    return rows[0] | {"result": status, "remark": body.get("remark")}
