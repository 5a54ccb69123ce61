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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from services.approvals.kinds import KINDS
from services.approvals.states import State
from services.slack.blocks import Block, actions, button, confirm_dialog, context, cut, esc, finish, section
from whalet.masking import mask, mask_digit_runs
from whalet.money import Money

if TYPE_CHECKING:
    from services.approvals.request import Approval, ApprovalRequest

APPROVE_ACTION = "approval_approve"
REJECT_ACTION = "approval_reject"
AGAIN_ACTION = "approval_request_again"  # on a card that ended without paying: the requester asks anew
AGAIN_STATES = (State.EXPIRED, State.FAILED, State.REJECTED)
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


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None or not currency:
        return "—"
    return Money(amount, currency).format()


def headline(r: ApprovalRequest, *, plain: bool = False) -> str:
    """ "Pay out 1,250.00 USD to Acme Supplies Inc (••••6789)?"; ``plain`` for plain_text fields."""
    safe = (lambda text: text or "") if plain else esc
    if r.is_batch:
        return f"Pay out the batch {safe(r.reference)}: {safe(r.summary)}?"
    amount = _money(r.amount, r.currency)
    if not KINDS[r.kind].to_account:
        return f"Pay {amount} to {payee(r, safe)}?"
    return f"Pay out {amount} to {safe(r.beneficiary_name or r.beneficiary_id)} ({mask(r.account_tail)})?"


def payee(r: ApprovalRequest, safe: Any = esc) -> str:
    """A pay's payee: the name the policy gives the Whalet user, with the id; else the id."""
    if r.payee_name:
        return f"{safe(r.payee_name)} (Whalet user {safe(r.payee_user_id)})"
    return f"Whalet user {safe(r.payee_user_id)}"


def total_debited(r: ApprovalRequest) -> str:
    """What leaves the balance: amount plus fee (in one sum when they share a currency)."""
    if r.fee is None:
        return f"{_money(r.amount, r.currency)} + the fee"
    fee_currency = r.fee_currency or r.currency
    if fee_currency == r.currency:
        return _money(r.amount + r.fee, r.currency)
    return f"{_money(r.amount, r.currency)} + {_money(r.fee, fee_currency)}"


def _who(users: Sequence[str]) -> str:
    tags = [f"<@{u}>" for u in users]
    if not tags:
        return "nobody recorded"
    return tags[0] if len(tags) == 1 else ", ".join(tags[:-1]) + " and " + tags[-1]


def status_line(r: ApprovalRequest, names: Sequence[str]) -> str:
    """Where the request stands, in one line (the card's footer, the App Home's "Your requests")."""
    if r.attention:
        return f":rotating_light: *Needs attention:* {esc(r.attention)} " + _state_line(r, names)
    return _state_line(r, names)


def _state_line(r: ApprovalRequest, names: Sequence[str]) -> str:
    state = r.state
    at = slack_time(r.decided_at) if r.decided_at else ""
    note = f" {esc(r.note)}" if r.note else ""
    if state is State.PENDING:
        so_far = f" so far: {_who(names)}" if names else ""
        return f":hourglass_flowing_sand: Waiting for approval — {len(names)} of {r.required_approvals}{so_far}.{note}"
    if state is State.APPROVED:
        return f":hourglass: Approved by {_who(names)} — not sent to Whalet yet.{note}"
    if state is State.CONFIRMING:
        return f":arrows_counterclockwise: Approved by {_who(names)} — sending to Whalet…"
    if state is State.CONFIRMED:
        return f":white_check_mark: Approved by {_who(names)} at {at} — sent to Whalet, waiting for the result.{note}"
    if state is State.SUCCEEDED and r.is_batch:
        return f":white_check_mark: Approved by {_who(names)} — every line settled.{note}"
    if state is State.SUCCEEDED:
        return f":white_check_mark: Approved by {_who(names)} — Whalet reports it done ({esc(r.result_status)}).{note}"
    if state is State.FAILED:
        reason = esc(mask_digit_runs(r.fail_reason or "no reason given"))  # Whalet's words may name an account
        return f":x: Failed — {reason}" + (f" (approved by {_who(names)})" if names else "") + "."
    if state is State.CONFIRM_UNKNOWN:
        return (
            ":grey_question: Approved and sent to Whalet, but the outcome is unknown. We check with Whalet "
            f"(by order number) before anything else; nothing is sent twice.{note}"
        )
    if state is State.REJECTED:
        reason = f": {esc(r.reason)}" if r.reason else ""
        return f":no_entry_sign: Rejected by <@{r.decided_by}> at {at}{reason}"
    if state is State.EXPIRED and r.is_batch and r.confirm_attempts:
        return f":alarm_clock: Expired before it was approved again; the lines already sent stand.{note}"
    if state is State.EXPIRED:
        return f":alarm_clock: Expired — not sent.{note}"
    return f"{state.value}.{note}"


def card_text(r: ApprovalRequest) -> str:
    """The notification / fallback text of the card."""
    return cut(f"{headline(r)} ({r.state.value.replace('_', ' ').lower()})", 3000)


def card_blocks(r: ApprovalRequest, approvals: Sequence[Approval], now: datetime) -> list[dict[str, Any]]:
    """The card for request ``r`` with the approvals given so far (and those that stopped counting)."""
    blocks = detail_blocks(r, approvals)
    lapsed = [a.approver for a in approvals if not a.counts]
    if lapsed:
        blocks.append(
            context(
                " ".join(
                    f"<@{u}>'s approval no longer counts: not an approver now, or above their approval limit."
                    for u in lapsed
                )
            )
        )
    expiry = ""
    if r.expires_at and r.state is State.PENDING:
        # A Slack date token, drawn by each reader's Slack in their own zone: never stale, unlike
        # a countdown written into the message when it was posted.
        expiry = f"Open until {slack_time(r.expires_at, '{date_short_pretty} at {time}')}"
    blocks.append(
        context(
            status_line(r, [a.approver for a in approvals if a.counts]),
            expiry,
            f"Batch `{r.id}`, one Whalet order per line"
            if r.is_batch
            else f"Request `{r.id}` · order `{r.mer_order_no}`",
        )
    )
    if r.state is State.PENDING:
        blocks.append(buttons(r))
    elif r.state in AGAIN_STATES:
        blocks.append(actions(button("Request again", AGAIN_ACTION, r.id), block_id=f"again|{r.id}"))
    return finish(blocks)


def detail_blocks(r: ApprovalRequest, approvals: Sequence[Approval]) -> list[Block]:
    """Everything an approver must see before approving: the headline, every field, the flags
    and the approval layers. The channel card, its DM copies and the App Home entry all show
    these same blocks, so no copy approves on less than the card shows."""
    if r.is_batch:
        return batch_blocks(r, approvals)
    fields = [
        f"*Requested by*\n<@{r.requester}>",
        f"*Amount*\n{_money(r.amount, r.currency)}",
        f"*Fee*\n{_money(r.fee, r.fee_currency or r.currency)}",
        f"*Total debited*\n{total_debited(r)}",
    ]
    if KINDS[r.kind].to_account:
        if r.rate is not None and r.to_currency not in (None, r.currency):
            fields.append(f"*Rate*\n1 {r.currency} = {r.rate} {r.to_currency}")
        fields.append(f"*Beneficiary gets*\n{_money(r.to_amount, r.to_currency)}")
        fields.append(f"*Beneficiary*\n{esc(r.beneficiary_name)} ({mask(r.account_tail)})")
    else:
        fields.append(f"*Payee*\n{payee(r)}")
    fields.append(f"*Purpose*\n{esc(r.purpose) or '—'}")
    if r.reference:
        fields.append(f"*Reference*\n{esc(r.reference)}")
    blocks: list[Block] = [section(f"*{headline(r)}*"), section("", fields=fields)]
    if r.flags:
        blocks.append(context(":warning: " + " · ".join(f"*{esc(f)}*" for f in r.flags)))
    if r.layers:
        blocks.append(context(*layer_lines(r, approvals)))
    return blocks


def batch_blocks(r: ApprovalRequest, approvals: Sequence[Approval]) -> list[Block]:
    """A batch's card: what it adds up to (``summary``: lines, totals per currency, flagged lines,
    indicative rates, written when the batch was made and covered by its fingerprint); every line
    is listed in the card's thread."""
    fields = [
        f"*Requested by*\n<@{r.requester}>",
        f"*File*\n{esc(r.reference)}",
        f"*Note*\n{esc(r.purpose) or '—'}",
        "*Fees*\nWhalet's, per line, quoted at release",
    ]
    blocks: list[Block] = [
        section(f"*{headline(r)}*"),
        section("", fields=fields),
        context("Every line is in this card's thread; each is paid as its own Whalet order once approved."),
    ]
    if r.flags:
        blocks.append(context(":warning: " + " · ".join(f"*{esc(f)}*" for f in r.flags)))
    if r.layers:
        blocks.append(context(*layer_lines(r, approvals)))
    return blocks


def layer_people(layer: tuple[str, ...]) -> str:
    return ", ".join(f"<!subteam^{entry}>" if entry.startswith("S") else f"<@{entry}>" for entry in layer)


def layer_lines(r: ApprovalRequest, approvals: Sequence[Approval]) -> list[str]:
    """Each approval layer, who may give it and who did (in order: layer 2 waits for layer 1)."""
    by_layer = {a.layer: a.approver for a in approvals if a.counts and a.layer is not None}
    lines = []
    for index, layer in enumerate(r.layers):
        done = by_layer.get(index)
        outcome = f":white_check_mark: <@{done}>" if done else "waiting"
        lines.append(f"*Layer {index + 1} of {len(r.layers)}* ({layer_people(layer)}): {outcome}")
    return lines


def buttons(r: ApprovalRequest) -> Block:
    """Approve and Reject, with the block_id that proves which request (and card) was clicked;
    the DM copies and the App Home show these same buttons, answered by the same handlers."""
    verb = "batch" if r.is_batch else KINDS[r.kind].noun
    confirm = confirm_dialog(f"Approve this {verb}?", headline(r, plain=True), "Approve")
    return actions(
        button(f"Approve {verb}", APPROVE_ACTION, r.id, style="primary", confirm=confirm),
        button("Reject", REJECT_ACTION, r.id),
        block_id=actions_block_id(r.id, r.version, r.fingerprint or ""),
    )
