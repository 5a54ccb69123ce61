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
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.i18n import N_, translator
from services.approvals.card_status import slack_time, state_name, status_line
from services.approvals.kinds import KINDS
from services.approvals.states import State
from services.slack.blocks import Block, actions, button, confirm_dialog, context, cut, esc, finish, section
from whalet.masking import mask
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


def _money(amount: Decimal | None, currency: str | None, locale: str | None = None) -> str:
    if amount is None or not currency:
        return "—"
    return translator(locale).amount(Money(amount, currency))


def headline(r: ApprovalRequest, *, plain: bool = False, locale: str | None = None) -> str:
    """ "Pay out 1,250.00 USD to Acme Supplies Inc (••••6789)?"; ``plain`` for plain_text fields."""
    _ = translator(locale).gettext
    safe = (lambda text: text or "") if plain else esc
    if r.is_batch:
        return _("Pay out the batch %(file)s: %(summary)s?", file=safe(r.reference), summary=safe(r.summary))
    amount = _money(r.amount, r.currency, locale)
    if not KINDS[r.kind].to_account:
        return _("Pay %(amount)s to %(payee)s?", amount=amount, payee=payee(r, safe, locale))
    return _(
        "Pay out %(amount)s to %(beneficiary)s (%(account)s)?",
        amount=amount,
        beneficiary=safe(r.beneficiary_name or r.beneficiary_id),
        account=mask(r.account_tail),
    )


def payee(r: ApprovalRequest, safe: Any = esc, locale: str | None = None) -> str:
    """A pay's payee: the name the policy gives the Whalet user, with the id; else the id."""
    _ = translator(locale).gettext
    if r.payee_name:
        return _("%(name)s (Whalet user %(user)s)", name=safe(r.payee_name), user=safe(r.payee_user_id))
    return _("Whalet user %(user)s", user=safe(r.payee_user_id))


def total_debited(r: ApprovalRequest, locale: str | None = None) -> str:
    """What leaves the balance: amount plus fee (in one sum when they share a currency)."""
    if r.fee is None:
        return translator(locale).gettext("%(amount)s + the fee", amount=_money(r.amount, r.currency, locale))
    fee_currency = r.fee_currency or r.currency
    if fee_currency == r.currency:
        return _money(r.amount + r.fee, r.currency, locale)
    return f"{_money(r.amount, r.currency, locale)} + {_money(r.fee, fee_currency, locale)}"


def card_text(r: ApprovalRequest, locale: str | None = None) -> str:
    """The notification / fallback text of the card."""
    shown = translator(locale).gettext(
        "%(headline)s (%(state)s)", headline=headline(r, locale=locale), state=state_name(r.state, locale)
    )
    return cut(shown, 3000)


def card_blocks(r: ApprovalRequest, approvals: Sequence[Approval], locale: str | None = None) -> list[dict[str, Any]]:
    """The card for request ``r`` with the approvals given so far (and those that stopped counting).
    Copies in other languages carry the same block_id: one request, one fingerprint."""
    _ = translator(locale).gettext
    blocks = detail_blocks(r, approvals, locale)
    lapsed = [a.approver for a in approvals if not a.counts]
    if lapsed:
        lines = [
            _(
                "%(who)s's approval no longer counts: not an approver now, or above their approval limit.",
                who="<@" + u + ">",
            )
            for u in lapsed
        ]
        blocks.append(context(" ".join(lines)))
    expiry = ""
    if r.expires_at and r.state is State.PENDING:
        # A Slack date token, drawn by each reader's Slack in their own zone: never stale, unlike
        # a countdown written into the message when it was posted.
        expiry = _("Open until %(time)s", time=slack_time(r.expires_at, "{date_short_pretty} at {time}"))
    if r.is_batch:
        ids = _("Batch `%(id)s`, one Whalet order per line", id=r.id)
    else:
        ids = _("Request `%(id)s` · order `%(order)s`", id=r.id, order=r.mer_order_no)
    blocks.append(context(status_line(r, [a.approver for a in approvals if a.counts], locale), expiry, ids))
    if r.state is State.PENDING:
        blocks.append(buttons(r, locale))
    elif r.state in AGAIN_STATES:
        blocks.append(actions(button(_("Request again"), AGAIN_ACTION, r.id), block_id=f"again|{r.id}"))
    return finish(blocks)


def _field(label: str, value: str) -> str:
    return f"*{label}*\n{value}"


def detail_blocks(r: ApprovalRequest, approvals: Sequence[Approval], locale: str | None = None) -> list[Block]:
    """Everything an approver must see before approving: the headline, every field, the flags
    and the approval layers. The channel card, its DM copies and the App Home entry all show
    these same blocks, so no copy approves on less than the card shows."""
    if r.is_batch:
        return batch_blocks(r, approvals, locale)
    _ = translator(locale).gettext
    fields = [
        _field(_("Requested by"), f"<@{r.requester}>"),
        _field(_("Amount"), _money(r.amount, r.currency, locale)),
        _field(_("Fee"), _money(r.fee, r.fee_currency or r.currency, locale)),
        _field(_("Total debited"), total_debited(r, locale)),
    ]
    if KINDS[r.kind].to_account:
        if r.rate is not None and r.to_currency not in (None, r.currency):
            fields.append(_field(_("Rate"), f"1 {r.currency} = {r.rate} {r.to_currency}"))
        fields.append(_field(_("Beneficiary gets"), _money(r.to_amount, r.to_currency, locale)))
        fields.append(_field(_("Beneficiary"), f"{esc(r.beneficiary_name)} ({mask(r.account_tail)})"))
    else:
        fields.append(_field(_("Payee"), payee(r, locale=locale)))
    fields.append(_field(_("Purpose"), esc(r.purpose) or "—"))
    if r.reference:
        fields.append(_field(_("Reference"), esc(r.reference)))
    blocks: list[Block] = [section(f"*{headline(r, locale=locale)}*"), section("", fields=fields)]
    if r.flags:
        blocks.append(context(":warning: " + " · ".join(f"*{esc(_(f))}*" for f in r.flags)))
    if r.layers:
        blocks.append(context(*layer_lines(r, approvals, locale)))
    return blocks


def batch_blocks(r: ApprovalRequest, approvals: Sequence[Approval], locale: str | None = None) -> list[Block]:
    """A batch's card: what it adds up to (``summary``: lines, totals per currency, flagged lines,
    indicative rates, written when the batch was made and covered by its fingerprint); every line
    is listed in the card's thread."""
    _ = translator(locale).gettext
    fields = [
        _field(_("Requested by"), f"<@{r.requester}>"),
        _field(_("File"), esc(r.reference)),
        _field(_("Note"), esc(r.purpose) or "—"),
        _field(_("Fees"), _("Whalet's, per line, quoted at release")),
    ]
    blocks: list[Block] = [
        section(f"*{headline(r, locale=locale)}*"),
        section("", fields=fields),
        context(_("Every line is in this card's thread; each is paid as its own Whalet order once approved.")),
    ]
    if r.flags:
        blocks.append(context(":warning: " + " · ".join(f"*{esc(_(f))}*" for f in r.flags)))
    if r.layers:
        blocks.append(context(*layer_lines(r, approvals, locale)))
    return blocks


def layer_people(layer: tuple[str, ...]) -> str:
    return ", ".join(f"<!subteam^{entry}>" if entry.startswith("S") else f"<@{entry}>" for entry in layer)


def layer_lines(r: ApprovalRequest, approvals: Sequence[Approval], locale: str | None = None) -> list[str]:
    """Each approval layer, who may give it and who did (in order: layer 2 waits for layer 1)."""
    _ = translator(locale).gettext
    by_layer = {a.layer: a.approver for a in approvals if a.counts and a.layer is not None}
    lines = []
    for index, layer in enumerate(r.layers):
        done = by_layer.get(index)
        outcome = f":white_check_mark: <@{done}>" if done else _("waiting")
        lines.append(
            _(
                "*Layer %(layer)s of %(layers)s* (%(people)s): %(outcome)s",
                layer=index + 1,
                layers=len(r.layers),
                people=layer_people(layer),
                outcome=outcome,
            )
        )
    return lines


# "Approve this payout?" / "Approve payout": one sentence per kind, so each language words it whole.
APPROVE_QUESTION = {
    "batch": N_("Approve this batch?"),
    "payout": N_("Approve this payout?"),
    "payment": N_("Approve this payment?"),
}
APPROVE_BUTTON = {"batch": N_("Approve batch"), "payout": N_("Approve payout"), "payment": N_("Approve payment")}


def buttons(r: ApprovalRequest, locale: str | None = None) -> Block:
    """Approve and Reject, with the block_id that proves which request (and card) was clicked;
    the DM copies and the App Home show these same buttons, answered by the same handlers."""
    _ = translator(locale).gettext
    verb = "batch" if r.is_batch else KINDS[r.kind].noun
    question = _(APPROVE_QUESTION[verb]) if verb in APPROVE_QUESTION else f"Approve this {verb}?"
    label = _(APPROVE_BUTTON[verb]) if verb in APPROVE_BUTTON else f"Approve {verb}"
    confirm = confirm_dialog(question, headline(r, plain=True, locale=locale), _("Approve"), _("Not yet"))
    return actions(
        button(label, APPROVE_ACTION, r.id, style="primary", confirm=confirm),
        button(_("Reject"), REJECT_ACTION, r.id),
        block_id=actions_block_id(r.id, r.version, r.fingerprint or ""),
    )
