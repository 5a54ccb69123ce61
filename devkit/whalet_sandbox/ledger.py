"""The sandbox's state: users, balances (available / pending / frozen), rates and quotes.

All mutations are plain synchronous methods, so within the one event loop each is atomic.
Money is Decimal throughout; every amount is kept at its currency's minor digits.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from whalet.money import Money

from . import seed
from .clock import WHALET_TZ, Timeline, VirtualClock, wire_time
from .wire import GatewayError, failure, money_obj, parameter_error

Notify = Callable[[str, dict[str, Any]], str]


@dataclass
class Balance:
    currency: str
    available: Decimal
    pending: Decimal
    frozen: Decimal
    order_quota: Decimal


@dataclass
class Quote:
    rate_id: str
    user_id: str
    currency: str
    to_currency: str
    rate: Decimal
    expire_time: datetime


def q(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round to the currency's minor digits."""
    return amount.quantize(Decimal(1).scaleb(-Money(amount, currency).digits), rounding=rounding)


class Ledger:
    def __init__(
        self, clock: VirtualClock, timeline: Timeline, notify: Notify, seed_value: int, result_delay_s: float
    ) -> None:
        self.clock = clock
        self.timeline = timeline
        self.notify = notify
        self.result_delay_s = result_delay_s
        self.users = dict(seed.USERS)
        self.usd_value = seed.usd_values(seed_value)
        self.balances: dict[tuple[str, str, str], Balance] = {
            key: Balance(key[2], *values) for key, values in seed.BALANCES.items()
        }
        self.quotes: dict[str, Quote] = {}
        self._counter = itertools.count(1)

    # --- identity -------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, balances: list[tuple[str, str, Decimal, Decimal, Decimal]]) -> None:
        """An operator's extra user (benchmarks, big digests) with (fundSource, currency,
        available, pending, frozen) balances; an existing user keeps its other balances."""
        if not user_id or len(user_id) > 30:
            raise parameter_error("userId must have 1 to 30 characters")
        for source, currency, *amounts in balances:
            if source not in ("B2C", "B2B", "Acquiring") or currency not in seed.SUPPORTED_CURRENCIES:
                raise parameter_error(f"unsupported balance {source} {currency}")
            if any(amount != q(amount, currency) or amount < 0 for amount in amounts):
                raise parameter_error(f"{currency} amounts must be >= 0 with the currency's minor digits")
        self.users[user_id] = name
        for source, currency, available, pending, frozen in balances:
            self.balances[(user_id, source, currency)] = Balance(currency, available, pending, frozen, Decimal(0))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{self.clock.now().astimezone(WHALET_TZ).strftime('%Y%m%d')}{next(self._counter):06d}"

    def check_user(self, user_id: str) -> str:
        if user_id not in self.users:
            raise parameter_error(f"user not found: {user_id}")
        return self.users[user_id]

    # --- balances -------------------------------------------------------------------------

    def balance(self, user_id: str, fund_source: str, currency: str) -> Balance:
        key = (user_id, fund_source, currency)
        if key not in self.balances:
            zero = q(Decimal(0), currency)
            self.balances[key] = Balance(currency, zero, zero, zero, zero)
        return self.balances[key]

    def freeze(self, user_id: str, fund_source: str, currency: str, amount: Decimal) -> None:
        balance = self.balance(user_id, fund_source, currency)
        if balance.available < amount:
            raise failure(
                f"insufficient balance: {Money(balance.available, currency)} available, "
                f"{Money(amount, currency)} needed including fee"
            )
        balance.available -= amount
        balance.frozen += amount

    def release(self, user_id: str, fund_source: str, currency: str, amount: Decimal) -> None:
        balance = self.balance(user_id, fund_source, currency)
        balance.frozen -= amount
        balance.available += amount

    def debit_frozen(self, user_id: str, fund_source: str, currency: str, amount: Decimal) -> None:
        self.balance(user_id, fund_source, currency).frozen -= amount

    def credit(self, user_id: str, fund_source: str, currency: str, amount: Decimal) -> None:
        self.balance(user_id, fund_source, currency).available += amount

    def balance_record(self, balance: Balance) -> dict[str, Any]:
        """One currency as queryCurrencyBalance shows it (the spec §4 example's shape)."""
        cur = balance.currency
        rmb = q(balance.available * self.mid_rate(cur, "CNY"), "CNY")
        return {
            "balance": money_obj(balance.available, cur),
            "orderQuota": money_obj(balance.order_quota, cur),
            "currency": cur,
            "rmbAmount": money_obj(rmb, "CNY"),
            "pendingAmount": money_obj(balance.pending, cur),
            "freezeAmount": money_obj(balance.frozen, cur),
        }

    # --- rates ----------------------------------------------------------------------------

    def mid_rate(self, currency: str, to_currency: str) -> Decimal:
        if currency == to_currency:
            return Decimal(1)
        return (self.usd_value[currency] / self.usd_value[to_currency]).quantize(seed.RATE_PLACES, ROUND_HALF_EVEN)

    def customer_rate(self, currency: str, to_currency: str) -> Decimal:
        if currency == to_currency:
            return Decimal(1)
        mid = self.usd_value[currency] / self.usd_value[to_currency]
        return (mid * (1 - seed.CUSTOMER_SPREAD)).quantize(seed.RATE_PLACES, ROUND_HALF_EVEN)

    def quote(self, user_id: str, currency: str, to_currency: str) -> Quote:
        quote = Quote(
            self.next_id("R"),
            user_id,
            currency,
            to_currency,
            self.customer_rate(currency, to_currency),
            self.clock.after(seed.QUOTE_TTL_S),
        )
        self.quotes[quote.rate_id] = quote
        return quote

    def use_quote(self, rate_id: str, user_id: str, currency: str, to_currency: str) -> Quote:
        quote = self.quotes.get(rate_id)
        if quote is None or quote.user_id != user_id:
            raise parameter_error(f"rateId not found: {rate_id}")
        if (quote.currency, quote.to_currency) != (currency, to_currency):
            raise parameter_error(
                f"rateId {rate_id} quotes {quote.currency}->{quote.to_currency}, not {currency}->{to_currency}"
            )
        if self.clock.now() > quote.expire_time:
            raise failure(f"rate quote {rate_id} expired at {wire_time(quote.expire_time)}")
        return quote

    @staticmethod
    def convert(amount: Decimal, rate: Decimal, to_currency: str) -> Decimal:
        """Converted amounts are rounded down: the sandbox never pays out a fraction it lacks."""
        return q(amount * rate, to_currency, ROUND_DOWN)

    @staticmethod
    def fee(amount: Decimal, currency: str) -> Decimal:
        return max(
            q(amount * seed.FEE_RATE, currency, ROUND_HALF_UP), q(seed.MIN_FEE.get(currency, Decimal(1)), currency)
        )

    def after_delay(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.result_delay_s)


__all__ = ["Balance", "GatewayError", "Ledger", "Quote", "q"]
