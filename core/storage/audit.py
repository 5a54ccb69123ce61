"""Reading the append-only audit log back, for ``/whalet audit`` (writing is ``Store.audit``)."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

CHUNK = 500


def rows_since(db: Database, since: str, subject: str | None = None) -> list[dict[str, Any]]:
    """Audit rows at or after ``since`` (ISO), oldest first, with the amount of the approval
    request each one is about (when it is about one)."""
    query = """SELECT a.id, a.at, a.actor, a.action, a.subject, a.detail, r.amount, r.currency, r.state
                 FROM audit_log a
                 LEFT JOIN approval_requests r ON a.subject = 'approval:' || r.id
                WHERE a.at >= ?"""
    params: list[Any] = [since]
    if subject is not None:
        query += " AND a.subject = ?"
        params.append(subject)
    names = ("id", "at", "actor", "action", "subject", "detail", "amount", "currency", "state")
    return [dict(zip(names, row, strict=True)) for row in db.execute(query + " ORDER BY a.id", params)]


def bot_orders(db: Database, orders: list[str]) -> dict[str, tuple[str, str, list[str]]]:
    """For Whalet order numbers the bot made: order -> (request id, requester, approvers), read
    in chunks (an export may hold thousands of records)."""
    found: dict[str, tuple[str, str, list[str]]] = {}
    for start in range(0, len(orders), CHUNK):
        chunk = orders[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        requests = {
            request_id: (order, requester)
            for order, request_id, requester in db.execute(
                f"SELECT mer_order_no, id, requester FROM approval_requests WHERE mer_order_no IN ({marks})", chunk
            )
        }
        givers: dict[str, list[str]] = {request_id: [] for request_id in requests}
        if requests:
            ids = list(requests)
            for request_id, approver in db.execute(
                f"SELECT request_id, approver FROM approvals WHERE request_id IN ({', '.join('?' * len(ids))}) "
                "ORDER BY at, approver",
                ids,
            ):
                givers[request_id].append(approver)
        for request_id, (order, requester) in requests.items():
            found[order] = (request_id, requester, givers[request_id])
    return found
