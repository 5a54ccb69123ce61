"""The policy over a whole batch file, before anything is created (``batch_create``).

Each line against the ceiling for one payment; each currency's total against its tier and the
requester's daily limit (the batch's tier is the strictest of its currencies); with
``aggregate_window_hours``, each beneficiary's lines together with the requester's other recent
requests to them. Every reason is collected, by row, and the whole file refused with them. Flags
(exact duplicates, new beneficiaries) mark lines without refusing them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlite_utils import Database

from core.i18n import N_, Later, Translator, later

from services.approvals import policy, repo
from services.approvals.confirm import is_frozen
from services.approvals.service import FLAG_POSSIBLE_SPLIT
from services.book import BookEntry, is_new
from services.whalet_words import sentence_of
from whalet.errors import WhaletError
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

FLAG_DUPLICATE = N_("duplicate line")  # flags are stored in English, marked for a card in another language
FLAG_NEW = N_("new beneficiary")
FIRST_REASONS = 20  # a refused file lists this many reasons, then a count


@dataclass(frozen=True)
class BatchLine:
    line_no: int  # 1-based, in file order
    row: int  # the file's row (the header is row 1), for messages
    beneficiary: BookEntry
    amount: Money
    to_currency: str
    purpose: str
    reference: str


class BatchRefused(Exception):
    """The file was refused; ``reasons`` are the sentences (by line) in English, ``later`` the same
    to translate where they are shown (``exc.texts(translator)``); nothing was created."""

    def __init__(self, reasons: Sequence[Later | str]) -> None:
        self.later = list(reasons)
        self.reasons = [str(reason) for reason in reasons]
        super().__init__("; ".join(self.reasons))

    def texts(self, t: Translator) -> list[str]:
        return [t.text(reason) for reason in self.later]


def totals(lines: list[BatchLine]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        found[line.amount.currency] += line.amount.amount
    return dict(sorted(found.items()))


def pair(currency: str, to_currency: str) -> str:
    return f"{currency}>{to_currency}"


async def indicative_rates(services: Services, user_id: str, lines: list[BatchLine]) -> dict[str, str]:
    """Whalet's rate for each currency pair that converts, shown on the card and the base the
    release's quotes are held to."""
    rates: dict[str, str] = {}
    for line in lines:
        key = pair(line.amount.currency, line.to_currency)
        if line.to_currency == line.amount.currency or key in rates:
            continue
        fund_source = services.config.whalet.default_fund_source
        try:
            quote = await services.whalet.query_rate(user_id, line.amount.currency, line.to_currency, fund_source)
        except WhaletError as exc:
            raise BatchRefused(
                [
                    later(
                        "Whalet did not give the %(currency)s to %(to)s rate: %(why)s",
                        currency=line.amount.currency,
                        to=line.to_currency,
                        why=sentence_of(exc),
                    )
                ]
            ) from exc
        rates[key] = str(quote.rate)
    return rates


def checked(services: Services, db: Database, requester: str, lines: list[BatchLine]) -> tuple[int, list[str], str]:
    """Approvals needed, flags and the deciding currency; raises BatchRefused with every reason."""
    config = services.config
    approvals = config.approvals
    reasons: list[Later | str] = []
    if approvals is None:
        raise BatchRefused([later("No approval policy is configured, so the bot cannot send payouts.")])
    for line in lines:
        ceiling = approvals.ceiling_for(line.amount.currency)
        if ceiling is not None and line.amount.amount > ceiling:
            reasons.append(
                later(
                    "Row %(row)s: %(amount)s is above the bot's ceiling of %(ceiling)s for one payment.",
                    row=line.row,
                    amount=line.amount,
                    ceiling=Money(ceiling, line.amount.currency),
                )
            )
    now = services.clock.now()
    needed, deciding = 0, ""
    for currency, total in totals(lines).items():
        spent = repo.spent_today(db, requester, currency, policy.today_start(config, now))
        try:
            wanted = policy.required_approvals(
                config, Money(total, currency), frozen=is_frozen(services), spent_today=spent, requester=requester
            )
        except policy.PolicyRefused as exc:
            reasons.append(later("The %(currency)s total: %(why)s", currency=currency, why=exc.later))
            continue
        if wanted > needed:
            needed, deciding = wanted, currency
    flags: list[str] = []
    if approvals.aggregate_window_hours is not None:
        since = now - timedelta(hours=approvals.aggregate_window_hours)
        for (party, currency), amount in _by_party(lines).items():
            earlier = repo.window_totals(db, requester, party, since).get(currency, Decimal(0))
            tier = approvals.tier_for(currency, earlier + amount)
            top = [t for t in approvals.tiers if t.currency == currency]
            aggregate = tier or (top[-1] if top else None)
            if aggregate is not None and aggregate.approvals > needed:
                needed, deciding = aggregate.approvals, currency
                flags = [FLAG_POSSIBLE_SPLIT]
    if reasons:
        raise BatchRefused(reasons)
    return needed, flags, deciding


def _by_party(lines: list[BatchLine]) -> dict[tuple[str, str], Decimal]:
    found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        found[(line.beneficiary.id, line.amount.currency)] += line.amount.amount
    return found


def line_flags(db: Database, lines: list[BatchLine], now: datetime) -> dict[int, list[str]]:
    same = Counter((ln.beneficiary.id, ln.amount.amount, ln.amount.currency, ln.reference) for ln in lines)
    flagged: dict[int, list[str]] = {}
    for ln in lines:
        marks = []
        if same[(ln.beneficiary.id, ln.amount.amount, ln.amount.currency, ln.reference)] > 1:
            marks.append(FLAG_DUPLICATE)
        if is_new(db, ln.beneficiary, now):
            marks.append(FLAG_NEW)
        flagged[ln.line_no] = marks
    return flagged
