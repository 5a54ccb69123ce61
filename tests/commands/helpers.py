"""Shared steps of the end-to-end command tests (plain functions, no fixtures)."""

from __future__ import annotations

import re

import json
from typing import Any

APPROVALS = "C0APPROVALS"


def responses_since(stack: Any, start: int, n: int = 1, timeout: float = 10.0) -> list[Any]:
    return stack.fake.wait_for(lambda: (r := stack.fake.responses()[start:]) and len(r) >= n and r, timeout=timeout)


def ask(stack: Any, user: str, text: str, timeout: float = 10.0) -> Any:
    """Send `/whalet text` as ``user``; returns (HTTP response, the first response_url post)."""
    before = len(stack.fake.responses())
    http = stack.slack_requests.command(user, text)
    assert http.status_code == 200, http.text
    if http.text:  # answered in the ack itself (bad input)
        return http, None
    return http, responses_since(stack, before, timeout=timeout)[0]


def cards(stack: Any) -> list[Any]:
    return [m for m in stack.fake.messages(APPROVALS) if not m.is_reply and "Pay" in m.text]


def card_for(stack: Any, request_id: str, timeout: float = 10.0) -> Any:
    return stack.fake.wait_for(
        lambda: next((m for m in cards(stack) if request_id in json.dumps(m.blocks)), None), timeout=timeout
    )


def request_payout(
    stack: Any, text: str = 'payout 1200.50 USD to acme-us for "March invoices"', user: str = "U0REQ"
) -> tuple[str, Any]:
    """Request a payout; returns (request id, its card as posted)."""
    _, post = ask(stack, user, text)
    assert post is not None and ("Sent for approval" in post.text or "提交审批" in post.text), post and post.text
    request_id = re.findall(r"`([A-Z]{2}-[A-Z0-9]+)`", post.text)[-1]  # in either language
    return request_id, card_for(stack, request_id)


def has_buttons(message: Any) -> bool:
    """The card still offers Approve (a decided card may offer only Request again)."""
    return any(
        b.get("type") == "actions" and any(e.get("action_id") == "approval_approve" for e in b.get("elements", []))
        for b in message.blocks
    )


def click(stack: Any, user: str, message: Any, action_id: str = "approval_approve", **forge: Any) -> Any:
    before = len(stack.fake.responses())
    http = stack.slack_requests.block_action(user, message, action_id, **forge)
    assert http.status_code == 200, http.text
    return responses_since(stack, before)[0]


def row(stack: Any, request_id: str) -> dict[str, Any]:
    with stack.services.store.read() as db:
        return next(db.query("SELECT * FROM approval_requests WHERE id = ?", [request_id]))


def audit_actions(stack: Any, request_id: str) -> list[str]:
    with stack.services.store.read() as db:
        return [
            r[0]
            for r in db.execute(
                "SELECT action FROM audit_log WHERE subject = ? ORDER BY id", [f"approval:{request_id}"]
            )
        ]
