"""Whalet's final word on a payout or pay (payoutResultNotify / payResultNotify) applied to its request.

Called by the notifications package inside ITS transaction (the inbox row and this state change
commit together), so this module never opens one. The notification may arrive before our own
confirm call returns, or while the request is CONFIRM_UNKNOWN: either way it settles the
request, and the confirm call that returns later loses its compare-and-set harmlessly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlite_utils import Database

from commands.approvals import repo
from commands.approvals.states import State, allowed

if TYPE_CHECKING:
    from services.container import Services

SUCCESS_STATUSES = ("SUCCESS",)
FAIL_STATUSES = ("FAIL", "FAILED")


def apply_result(services: Services, db: Database, kind: str, business_id: str | None, mer_order_no: str,
                 status: str, fail_reason: str | None) -> str | None:
    """Settle the request behind ``mer_order_no``; returns its id (thread it under ("approval", id))
    or None when the order was not made through the bot. Queues the card update in ``db``'s transaction."""
    row = repo.load_by_order(db, mer_order_no)
    if row is None or row["kind"] != kind or (business_id and row.get("whalet_id") not in (None, business_id)):
        return None
    status = (status or "").upper()
    target = State.SUCCEEDED if status in SUCCESS_STATUSES else State.FAILED if status in FAIL_STATUSES else None
    changes = {"result_status": status}
    if target is State.FAILED:
        changes["fail_reason"] = fail_reason or "Whalet gave no reason"
    try:
        if target is not None and allowed(row["state"], target):
            row = repo.transition(db, row, target, **changes)
        else:
            row = repo.bump(db, row, **changes)
    except repo.StaleRequest:
        return row["id"]
    repo.audit(services, db, row, "whalet", f"result.{status.lower() or 'unknown'}", fail_reason=fail_reason)
    repo.update_card(services, db, row)
    return str(row["id"])
