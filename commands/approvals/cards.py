"""The approval card: what approvers see, and the buttons whose clicks we must be able to trust.

Layout follows Slack's approval guidance (research note §9): the action and its scope in the
first line ("Pay out 1,250.00 USD to Acme Supplies Inc (••••6789)?"), then who asked, amount and
fee, rate and what the beneficiary receives, purpose and reference, flags, approvals so far and
needed, and the expiry as a Slack date token (each reader sees their own time zone) plus a
countdown. Once the request is decided, the buttons are replaced by one status line.

The actions block's ``block_id`` carries the request id, its version and its fingerprint
(``apr|<id>|<version>|<sha256>``): a click proves which card (and which revision) it came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.clock import parse_iso
from commands.approvals.states import State
from services.slack.blocks import Block, actions, button, context, cut, esc, finish, plain, section
from whalet.masking import mask
from whalet.money import Money

APPROVE_ACTION = "approval_approve"
REJECT_ACTION = "approval_reject"
BLOCK_PREFIX = "apr"


@dataclass(frozen=True)
class CardRef:
    request_id: str
    version: int
    fingerprint: str


def actions_block_id(request_id: str, version: int, fingerprint: str) -> str:
    return f"{BLOCK_PREFIX}|{request_id}|{version}|{fingerprint}"


def parse_block_id(block_id: str | None) -> CardRef | None:
    parts = (block_id or "").split("|")
    if len(parts) != 4 or parts[0] != BLOCK_PREFIX or not parts[2].isdigit():
        return None
    return CardRef(parts[1], int(parts[2]), parts[3])


def slack_time(moment: datetime, fmt: str = "{time}") -> str:
    """A Slack date token: shown in the reader's own zone; the fallback is UTC."""
    return f"<!date^{int(moment.timestamp())}^{fmt}|{moment.astimezone(UTC).strftime('%H:%M UTC')}>"


def _money(amount: str | None, currency: str | None) -> str:
    if amount in (None, "") or not currency:
        return "—"
    return Money(Decimal(amount), currency).format()


def headline(row: Mapping[str, Any], *, plain: bool = False) -> str:
    """"Pay out 1,250.00 USD to Acme Supplies Inc (••••6789)?"; ``plain`` for plain_text fields."""
    safe = (lambda text: text or "") if plain else esc
    amount = _money(row["amount"], row["currency"])
    if row["kind"] == "pay":
        return f"Pay {amount} to Whalet user {safe(row.get('payee_user_id'))}?"
    name = safe(row.get("beneficiary_name") or row.get("beneficiary_id"))
    return f"Pay out {amount} to {name} ({mask(row.get('account_tail'))})?"


def _who(users: Sequence[str]) -> str:
    tags = [f"<@{u}>" for u in users]
    if not tags:
        return "nobody recorded"
    return tags[0] if len(tags) == 1 else ", ".join(tags[:-1]) + " and " + tags[-1]


def _countdown(expires: datetime, now: datetime) -> str:
    minutes = int((expires - now).total_seconds() // 60)
    if minutes < 1:
        return "expires in less than a minute"
    return f"expires in {minutes} min" if minutes < 120 else f"expires in {minutes // 60} h {minutes % 60} min"


def _status(row: Mapping[str, Any], approvers: Sequence[tuple[str, str]], now: datetime) -> str:
    state = State(row["state"])
    names = [a for a, _ in approvers]
    at = slack_time(parse_iso(row["decided_at"])) if row.get("decided_at") else ""
    note = f" {esc(row['note'])}" if row.get("note") else ""
    if state is State.PENDING:
        so_far = f" so far: {_who(names)}" if names else ""
        return f":hourglass_flowing_sand: Waiting for approval — {len(names)} of {row['required_approvals']}{so_far}."
    if state is State.CONFIRMING:
        return f":arrows_counterclockwise: Approved by {_who(names)} — sending to Whalet…"
    if state is State.CONFIRMED:
        return f":white_check_mark: Approved by {_who(names)} at {at} — sent to Whalet, waiting for the result.{note}"
    if state is State.SUCCEEDED:
        return f":white_check_mark: Approved by {_who(names)} — Whalet reports it done ({esc(row.get('result_status'))}).{note}"
    if state is State.FAILED:
        reason = esc(row.get("fail_reason") or "no reason given")
        return f":x: Failed — {reason}" + (f" (approved by {_who(names)})" if names else "") + "."
    if state is State.CONFIRM_UNKNOWN:
        return (":grey_question: Approved and sent to Whalet, but the answer was lost. We check with Whalet "
                f"(by order number) before anything else; nothing is sent twice.{note}")
    if state is State.REJECTED:
        reason = f": {esc(row['reason'])}" if row.get("reason") else ""
        return f":no_entry_sign: Rejected by <@{row.get('decided_by')}> at {at}{reason}"
    if state is State.EXPIRED:
        return f":alarm_clock: Expired — not sent.{note}"
    return f"{state.value}.{note}"


def card_text(row: Mapping[str, Any]) -> str:
    """The notification / fallback text of the card."""
    return cut(f"{headline(row)} ({State(row['state']).value.replace('_', ' ').lower()})", 3000)


def card_blocks(row: Mapping[str, Any], approvers: Sequence[tuple[str, str]], now: datetime) -> list[dict[str, Any]]:
    """The card for ``row`` (an approval_requests row) with the approvals given so far."""
    fields = [f"*Requested by*\n<@{row['requester']}>",
              f"*Amount*\n{_money(row['amount'], row['currency'])}",
              f"*Fee*\n{_money(row.get('fee'), row['currency'])}"]
    if row["kind"] == "payout":
        if row.get("rate") and row.get("to_currency") not in (None, row["currency"]):
            fields.append(f"*Rate*\n1 {row['currency']} = {row['rate']} {row.get('to_currency')}")
        fields.append(f"*Beneficiary gets*\n{_money(row.get('to_amount'), row.get('to_currency'))}")
        fields.append(f"*Beneficiary*\n{esc(row.get('beneficiary_name'))} ({mask(row.get('account_tail'))})")
    else:
        fields.append(f"*Payee*\nWhalet user {esc(row.get('payee_user_id'))}")
    fields.append(f"*Purpose*\n{esc(row.get('purpose')) or '—'}")
    if row.get("reference"):
        fields.append(f"*Reference*\n{esc(row['reference'])}")
    blocks: list[Block] = [section(f"*{headline(row)}*"), section("", fields=fields)]
    flags = json.loads(row.get("flags") or "[]")
    if flags:
        blocks.append(context(":warning: " + " · ".join(f"*{esc(f)}*" for f in flags)))
    state = State(row["state"])
    expiry = ""
    if row.get("expires_at") and state is State.PENDING:
        expires = parse_iso(row["expires_at"])
        expiry = f"Expires at {slack_time(expires)} ({_countdown(expires, now)})"
    blocks.append(context(_status(row, approvers, now), expiry,
                          f"Request `{row['id']}` · order `{row['mer_order_no']}`"))
    if state is State.PENDING:
        blocks.append(_buttons(row))
    return finish(blocks)


def _buttons(row: Mapping[str, Any]) -> Block:
    verb = "payout" if row["kind"] == "payout" else "payment"
    confirm = {"title": plain(f"Approve this {verb}?", 100), "text": plain(headline(row, plain=True), 300),
               "confirm": plain("Approve", 30), "deny": plain("Not yet", 30)}
    return actions(
        button(f"Approve {verb}", APPROVE_ACTION, row["id"], style="primary", confirm=confirm),
        button("Reject", REJECT_ACTION, row["id"]),
        block_id=actions_block_id(row["id"], int(row["version"]), row["fingerprint"]),
    )
