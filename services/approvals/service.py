"""Creating a payout or pay request (product spec §2): policy, apply at Whalet, the card.

1. Policy checks and an APPLYING row in one transaction, so a crash after the apply call leaves
   something to reconcile rather than a quote nobody knows about.
2. The apply call (``Kind.apply``); its answer must match the request (amount, currency, order,
   beneficiary or payee): a mismatch abandons the request with an alert and no card, because
   approvers would otherwise approve something Whalet is not going to do.
3. PENDING and the card, in one transaction.

Clicks, rejects and expiry are in ``approvals.clicks``; sending the confirm in ``approvals.confirm``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlite_utils import Database

from services.approvals import copies, policy, repo
from services.approvals.confirm import FREEZE_FLAG, count_call, is_frozen
from services.approvals.lease import alerts_language, card_language
from services.approvals.fingerprint import fingerprint
from services.approvals.kinds import KINDS, mismatch_of, with_quote
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from core.config import Tier
from core.i18n import N_, Later, Translator, later
from core.storage.claims import serialize_on
from services.book import BookEntry, is_new
from services.slack.blocks import esc
from whalet.client import new_order_no
from services.whalet_words import sentence_of
from whalet.errors import OutcomeUnknown, WhaletError
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

__all__ = ["FREEZE_FLAG", "NewRequest", "Refused", "create", "is_frozen"]

log = logging.getLogger("whalet_bot.approvals")

FLAG_POSSIBLE_SPLIT = N_("possible split")  # stored in English, marked for a card in another language


def new_request_id(kind: str) -> str:
    """Short enough to say aloud: 'PO-7K3QX9AB' for a payout, 'PY-…' for a pay."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return KINDS[kind].id_prefix + "".join(secrets.choice(letters) for _ in range(8))


@dataclass(frozen=True)
class NewRequest:
    kind: str  # "payout" | "pay"
    requester: str
    amount: Money
    purpose: str
    reference: str = ""
    beneficiary: BookEntry | None = None  # payout
    to_currency: str | None = None  # payout; defaults to the beneficiary's currency
    payee_user_id: str | None = None  # pay
    origin_channel: str | None = None
    response_url: str | None = None


class Refused(Exception):
    """Nothing was sent (or nothing changed); ``later`` is the sentence for the person, translated
    where it is shown (``exc.text(translator)``); ``str(exc)`` is the English."""

    def __init__(self, message: Later | str) -> None:
        self.later = message
        super().__init__(str(message))

    def text(self, t: Translator) -> str:
        return t.text(self.later)


class _Unquoted(Exception):
    """The window holds a currency whose rate to the new request's was not fetched beforehand
    (a request in it was made meanwhile): fetch it outside the transaction and decide again."""

    def __init__(self, currencies: set[str]) -> None:
        super().__init__(", ".join(sorted(currencies)))
        self.currencies = currencies


def _window_sum(totals: dict[str, Decimal], currency: str, rates: dict[str, Decimal]) -> Decimal:
    """The window's requests in ``currency``: others converted at Whalet's rate to it."""
    missing = {c for c in totals if c != currency and c not in rates}
    if missing:
        raise _Unquoted(missing)
    return sum((amount if c == currency else amount * rates[c] for c, amount in totals.items()), Decimal(0))


def tier(
    services: Services, db: Database, r: ApprovalRequest, rates: dict[str, Decimal]
) -> tuple[int, list[str], tuple[tuple[str, ...], ...]]:
    """Approvals needed, extra flags and the tier's approval layers; refuses (PolicyRefused)
    what the policy does not allow.

    The caller holds the requester's and the party's locks (``serialize_on``), so the sums read
    here cannot change before this request's own row is inserted in the same transaction.

    With ``approvals.aggregate_window_hours`` the tier follows the sum of the requester's
    requests to the same party within the window that may still move money (any currency,
    converted with ``rates``: Whalet's quotes, fetched before the transaction) plus this one;
    when that raised the tier the card says "possible split"."""
    now = services.clock.now()
    spent = repo.spent_today(db, r.requester, r.currency, policy.today_start(services.config, now))
    needed = policy.required_approvals(
        services.config, r.money, frozen=is_frozen(services), spent_today=spent, requester=r.requester
    )
    approvals = services.config.approvals
    assert approvals is not None  # required_approvals refuses without a policy
    own = approvals.tier_for(r.currency, r.amount)
    if approvals.aggregate_window_hours is None or own is None:
        return needed, [], _layers(own)
    since = now - timedelta(hours=approvals.aggregate_window_hours)
    total = _window_sum(repo.window_totals(db, r.requester, r.party, since), r.currency, rates) + r.amount
    highest = [t for t in approvals.tiers if t.currency == r.currency][-1]
    aggregate = approvals.tier_for(r.currency, total) or highest
    if aggregate.approvals > needed:
        return aggregate.approvals, [FLAG_POSSIBLE_SPLIT], _layers(aggregate)
    return needed, [], _layers(own)


def _layers(chosen: Tier | None) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(layer) for layer in chosen.layers) if chosen is not None and chosen.layers else ()


async def _quote_window(services: Services, r: ApprovalRequest, rates: dict[str, Decimal]) -> None:
    """Whalet's rate to ``r``'s currency for every other currency in its anti-splitting window
    (read now; a currency that joins meanwhile is caught by ``_window_sum``)."""
    approvals = services.config.approvals
    if approvals is None or approvals.aggregate_window_hours is None:
        return
    since = services.clock.now() - timedelta(hours=approvals.aggregate_window_hours)
    with services.store.read() as db:
        currencies = set(repo.window_totals(db, r.requester, r.party, since))
    for currency in sorted(currencies - {r.currency} - set(rates)):
        try:
            quote = await services.whalet.query_rate(r.user_id, currency, r.currency, r.fund_source)
        except WhaletError as exc:
            values = {"currency": currency, "to": r.currency, "why": sentence_of(exc)}
            if KINDS[r.kind].to_account:
                raise Refused(
                    later(
                        "Your other requests to the same beneficiary include %(currency)s, and the anti-splitting "
                        "check needs Whalet's %(currency)s to %(to)s rate, which Whalet did not give: %(why)s "
                        "Nothing was requested.",
                        **values,
                    )
                ) from exc
            raise Refused(
                later(
                    "Your other requests to the same payee include %(currency)s, and the anti-splitting "
                    "check needs Whalet's %(currency)s to %(to)s rate, which Whalet did not give: %(why)s "
                    "Nothing was requested.",
                    **values,
                )
            ) from exc
        rates[currency] = quote.rate


WINDOW_TRIES = 3  # a new currency in the window between quoting and deciding: quote again


async def _insert_applying(services: Services, request: ApprovalRequest, new: NewRequest) -> ApprovalRequest:
    """The policy checks and the APPLYING row, in one transaction under the requester's and the
    party's locks; returns the request with its tier and flags."""
    rates: dict[str, Decimal] = {}
    for _ in range(WINDOW_TRIES):
        await _quote_window(services, request, rates)
        try:
            with services.store.transaction() as db:
                serialize_on(db, f"requester:{request.requester}", f"party:{request.party or ''}")
                try:
                    needed, extra, layers = tier(services, db, request, rates)
                except policy.PolicyRefused as exc:
                    raise Refused(exc.later) from None
                b = new.beneficiary
                now = request.created_at
                flags = policy.flags(services.config, new.amount, new_beneficiary=b is not None and is_new(db, b, now))
                request = request.with_(required_approvals=needed, flags=tuple(flags + extra), layers=layers)
                repo.insert(db, request)
                repo.audit(services, db, request, new.requester, "request.apply", amount=new.amount.format())
                return request
        except _Unquoted:
            continue
    raise Refused(
        later("Requests to the same recipient kept arriving in new currencies; please try again in a minute.")
    )


async def create(services: Services, new: NewRequest) -> ApprovalRequest:
    """Apply at Whalet and put the card up; raises Refused with the reason otherwise."""
    now = services.clock.now()
    whalet_user = services.config.whalet.user_id
    if whalet_user is None:
        raise Refused(later("No Whalet user id is configured ([whalet] default_user_id), so nothing can be paid."))
    kind = KINDS[new.kind]
    b = new.beneficiary
    request = ApprovalRequest(
        id=new_request_id(new.kind),
        kind=new.kind,
        state=State.APPLYING,
        version=1,
        requester=new.requester,
        user_id=whalet_user,
        fund_source=services.config.whalet.default_fund_source,
        amount=new.amount.amount,
        currency=new.amount.currency,
        to_currency=new.to_currency or (b.currency if b else None),
        beneficiary_id=b.id if b else None,
        beneficiary_name=b.name if b else None,
        account_tail=b.account_tail if b else None,
        payee_user_id=new.payee_user_id,
        payee_name=next((u.name for u in services.config.whalet.users if u.id == new.payee_user_id), None),
        purpose=new.purpose,
        reference=new.reference,
        mer_order_no=new_order_no(kind.order_prefix),
        origin_channel=new.origin_channel,
        response_url=new.response_url,
        created_at=now,
        whalet_calls=1,
    )
    request = await _insert_applying(services, request, new)
    count_call(services, "apply")
    try:
        answer = await kind.apply(services.whalet, request)
    except WhaletError as exc:
        _abandon(
            services,
            request,
            card_language(services).text(sentence_of(exc)),
            "request.apply_failed",
            error=type(exc).__name__,
            answer=str(exc),
        )
        raise Refused(_apply_failed(exc)) from exc
    mismatch = mismatch_of(request, answer)
    if mismatch:
        _abandon(services, request, mismatch, "request.apply_mismatch")
        if services.alerts is not None:
            t = alerts_language(services)
            text = t.gettext(
                ":rotating_light: Whalet's answer to the %(kind)s request `%(id)s` (order `%(order)s`) does not "
                "match what was asked: %(mismatch)s. It was not put up for approval and will never be confirmed; "
                "Whalet releases the quote at its expiry.",
                kind=t.text(policy.kind_noun(kind.noun)),
                id=request.id,
                order=request.mer_order_no,
                mismatch=esc(mismatch),
            )
            services.alerts.raise_alert(f"approval:{request.id}:mismatch", text, quiet_seconds=0)
        raise Refused(
            later(
                "Whalet's answer did not match the request (%(mismatch)s), so it was not put up for approval "
                "and nothing will be paid. The alerts channel has the details.",
                mismatch=mismatch,
            )
        )
    ttl = timedelta(minutes=services.config.approvals.ttl_minutes if services.config.approvals else 1440)
    people = await copies.audience(
        services, new.requester, new.amount
    )  # user groups are a Slack call: before the transaction
    with services.store.transaction() as db:
        current = repo.load(db, request.id, lock=True)
        assert current is not None
        # the request outlives the quote: renewed at release (requote.py)
        filled = with_quote(current, answer).with_(expires_at=now + ttl)
        current = repo.transition(
            db,
            current,
            State.PENDING,
            whalet_id=filled.whalet_id,
            fee=filled.fee,
            fee_currency=filled.fee_currency,
            to_amount=filled.to_amount,
            to_currency=filled.to_currency,
            rate=filled.rate,
            expires_at=filled.expires_at,
            quote_expires_at=filled.quote_expires_at,
            fingerprint=fingerprint(filled),
        )
        repo.audit(
            services, db, current, new.requester, "request", whalet_id=answer.whalet_id, expires_at=current.expires_at
        )
        repo.post_card(services, db, current, people)
    services.wake_outbox()
    return current


def _abandon(services: Services, request: ApprovalRequest, note: str, action: str, **detail: object) -> None:
    with services.store.transaction() as db:
        current = repo.load(db, request.id, lock=True)
        assert current is not None
        current = repo.transition(db, current, State.ABANDONED, note=note, decided_at=services.clock.now())
        repo.audit(services, db, current, "whalet", action, **detail)


def _apply_failed(exc: WhaletError) -> Later | str:
    """What the requester is told when the apply step fails."""
    if isinstance(exc, OutcomeUnknown):
        # Nothing can be paid either way: an applied order only moves money once confirmed, and
        # this request will never be confirmed; Whalet releases an unconfirmed order at its expiry.
        return later(
            "Whalet did not give a trustworthy answer to the request, so it was not put up for "
            "approval and nothing will be paid. Please try again in a minute."
        )
    return sentence_of(exc)
