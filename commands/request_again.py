"""**Request again** on a card that ended without paying (expired, failed, rejected).

Requests now wait for hours or days, and still some end unpaid; the requester should not have to
type the payout again. One click (the requester only: nobody asks for money in another's name)
makes a new request with the same details, through the same checks as a typed command (role,
freeze, tiers, limits, the book), and a new card. A second click within ten minutes (a double
click, a retry) answers with the request the first one made instead of making another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commands.common import refusal_text
from commands.payout import sent_for_approval
from core.i18n import Later, later, translator
from core.storage import replays
from services import book
from services.approvals import policy, repo
from services.approvals.request import ApprovalRequest
from services.approvals.service import NewRequest, Refused, create
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services


async def request_again(services: Services, clicker: str, request_id: str) -> str:
    """The sentence for the clicker, in their language; a new request made when everything allows it."""
    t = translator(await services.locales.locale_of(clicker))
    _ = t.gettext
    with services.store.read() as db:
        old = repo.load(db, request_id)
    if old is None:
        return _("This approval request does not exist (any more).")
    if old.requester != clicker:
        return _("Only <@%(requester)s>, who asked for this one, can request it again.", requester=old.requester)
    refusal = policy.requester_refusal(await policy.resolver(services).role_of(clicker, fresh=True), old.kind)
    if refusal is not None:
        return refusal.text(t)
    new = _same_details(services, old)
    if isinstance(new, Later):
        return t.text(new)
    with services.store.transaction() as db:
        first, earlier = replays.claim(db, f"again:{old.id}", services.clock.now())
    if not first:
        if earlier:
            return _("This request was already asked for again; the new request is `%(id)s`.", id=earlier)
        return _("This request was already asked for again; the new request is still being made.")
    try:
        made_now = await create(services, new)
    except Refused as exc:
        return _("Not sent: %(reason)s", reason=refusal_text(exc, t))
    with services.store.transaction() as db:
        replays.link(db, f"again:{old.id}", made_now.id)
        repo.audit(services, db, made_now, clicker, "request.again", of=old.id)
    return sent_for_approval(services, made_now, t.locale)


def _same_details(services: Services, old: ApprovalRequest) -> NewRequest | Later:
    """The old request's details as a new one; a sentence when the book no longer has its beneficiary."""
    entry: Any = None
    if old.kind == "payout":
        entry = book.lookup(services, old.beneficiary_id or "")
        if entry is None:
            return later(
                "%(beneficiary)s is no longer in the beneficiary book.",
                beneficiary=old.beneficiary_name or old.beneficiary_id,
            )
    return NewRequest(
        kind=old.kind,
        requester=old.requester,
        amount=Money(old.amount, old.currency),
        purpose=old.purpose,
        reference=old.reference,
        beneficiary=entry,
        to_currency=old.to_currency,
        payee_user_id=old.payee_user_id,
        origin_channel=old.origin_channel,
    )
