"""Each Whalet user's balances as one total in the reporting currency (``[digest] report_currency``).

The rates are Whalet's own (``queryRate``), one quote per currency and digest, asked for as soon
as a balance answer shows that currency (so the rate calls overlap the balance calls instead of
waiting for them). Amounts are summed per currency first, each sum converted once (``amount ×
rate``, exact Decimal) and rounded to the reporting currency's minor digits, half-even. A
currency Whalet gave no rate for is left out of the total, and the total says so: it is then
"incomplete" and not compared with the previous digest's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from sqlite_utils import Database

from core.i18n import Later, Translator, translator

from core.storage import digests
from whalet.models import RateQuote
from whalet.money import Money


class Balance(Protocol):
    """One balance row of the digest (``digest_data.BalanceRow``)."""

    @property
    def user_id(self) -> str: ...
    @property
    def user_name(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def available(self) -> Decimal: ...


@dataclass
class Rates:
    """What Whalet quoted for this digest: currency -> quote, or currency -> why there is none."""

    report_currency: str
    quotes: dict[str, RateQuote] = field(default_factory=dict)
    missing: dict[str, Later | str] = field(default_factory=dict)  # currency -> why (translated when shown)

    def rate(self, currency: str) -> Decimal | None:
        if currency == self.report_currency:
            return Decimal(1)
        quote = self.quotes.get(currency)
        return quote.rate if quote is not None else None

    def shown(self, t: Translator | None = None) -> str:
        """'1 EUR = 1.082830 USD (R123) · …': the rates a reader can check the totals with."""
        t = t or translator("en")
        parts = [
            f"1 {currency} = {quote.rate} {self.report_currency} ({quote.rate_id})"
            for currency, quote in sorted(self.quotes.items())
        ]
        parts += [
            t.gettext("no %(currency)s rate (%(reason)s)", currency=currency, reason=why)
            for currency, why in sorted(self.missing.items())
        ]
        return " · ".join(parts)


@dataclass(frozen=True)
class UserTotal:
    user_id: str
    user_name: str
    total: Money
    left_out: tuple[str, ...] = ()  # currencies without a rate: not in ``total``
    change: Decimal | None = None  # since this channel's previous complete total; None: none to compare

    @property
    def complete(self) -> bool:
        return not self.left_out


def user_totals(balances: Iterable[Balance], rates: Rates) -> list[UserTotal]:
    """One total per user (in the order users first appear), available balances only."""
    sums: dict[str, dict[str, Decimal]] = {}
    names: dict[str, str] = {}
    for row in balances:
        names.setdefault(row.user_id, row.user_name)
        per_currency = sums.setdefault(row.user_id, {})
        per_currency[row.currency] = per_currency.get(row.currency, Decimal(0)) + row.available
    out = []
    for user_id, per_currency in sums.items():
        total = Decimal(0)
        left_out = []
        for currency, amount in sorted(per_currency.items()):
            rate = rates.rate(currency)
            if rate is None:
                if amount:
                    left_out.append(currency)
                continue
            total += Money(amount * rate, rates.report_currency).quantized().amount
        out.append(UserTotal(user_id, names[user_id], Money(total, rates.report_currency), tuple(left_out)))
    return out


def with_changes(db: Database, channel: str, run_id: int, taken_at: str, totals: list[UserTotal]) -> list[UserTotal]:
    """Compare each complete total with this channel's previous one, then store this run's."""
    out = []
    for item in totals:
        previous = (
            digests.previous_total(db, channel, item.user_id, item.total.currency, run_id) if item.complete else None
        )
        out.append(replace(item, change=None if previous is None else item.total.amount - Decimal(previous)))
    digests.store_totals(
        db,
        run_id,
        channel,
        taken_at,
        totals[0].total.currency if totals else "",
        [(t.user_id, str(t.total.amount), t.complete) for t in totals],
    )
    return out


@dataclass(frozen=True)
class GrandTotal:
    """Every user's total added up: what the digest leads with."""

    total: Money
    users: int
    left_out: tuple[str, ...]  # currencies without a rate, in no user's total
    change: Decimal | None  # None unless every user's total could be compared with the last digest


def grand_total(totals: list[UserTotal]) -> GrandTotal | None:
    """The sum of the users' totals (each already rounded to the reporting currency, so the lines
    a reader adds up give the same figure); None without any total to add."""
    if not totals:
        return None
    currency = totals[0].total.currency
    changes = [t.change for t in totals]
    return GrandTotal(
        total=Money(sum((t.total.amount for t in totals), Decimal(0)), currency),
        users=len(totals),
        left_out=tuple(sorted({c for t in totals for c in t.left_out})),
        change=None if any(c is None for c in changes) else sum((c for c in changes if c is not None), Decimal(0)),
    )
