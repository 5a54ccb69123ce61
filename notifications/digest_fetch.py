"""What one digest asks of Whalet: balances per user and fund source, rates, reconciliation lookups.

Every call goes through one gate of ``[digest] concurrency`` calls in flight; a TOO_MANY_REQUESTS
answer is retried after a growing pause (the client already retries a few times; this outer retry
spaces further attempts out). The reporting currency's rates go through the same gate, each asked
for as soon as a balance answer shows its currency, so they overlap the balance calls: a digest
takes about (calls ÷ concurrency) round trips, not one more round for the rates (bench/digest.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from core.i18n import Later, later
from notifications import digest_data
from notifications.digest_totals import Rates
from services.whalet_words import sentence_of
from whalet.errors import RateLimited, WhaletError
from whalet.models import FundSource

if TYPE_CHECKING:
    from services.container import Services

T = TypeVar("T")
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_PAUSE_SECONDS = 2.0


async def backing_off(call: Callable[[], Awaitable[T]], pause: float = RATE_LIMIT_PAUSE_SECONDS) -> T:
    """Retry on TOO_MANY_REQUESTS with exponential pauses and jitter; other errors go up."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return await call()
        except RateLimited:
            if attempt == RATE_LIMIT_RETRIES:
                raise
            await asyncio.sleep(pause * 2**attempt * random.uniform(0.75, 1.25))
    raise AssertionError("unreachable")


@dataclass
class Fetched:
    """What the digest got from Whalet, before any database work."""

    balances: list[digest_data.BalanceRow] = field(default_factory=list)
    problems: list[str | Later] = field(default_factory=list)
    lookups: list[digest_data.Lookup] = field(default_factory=list)
    rates: Rates = field(default_factory=lambda: Rates("USD"))


def _users(services: Services) -> list[tuple[str, str]]:
    whalet = services.config.whalet
    users = [(user.id, user.name) for user in whalet.users]
    return users or ([(whalet.default_user_id, whalet.default_user_id)] if whalet.default_user_id else [])


async def fetch(services: Services, now: datetime) -> Fetched:
    """Every Whalet call of one digest, concurrently within the configured bound."""
    gate = asyncio.Semaphore(services.config.digest.concurrency)
    out = Fetched(rates=Rates(services.config.digest.report_currency))
    rate_tasks: list[asyncio.Task[None]] = []
    asked: set[str] = set()

    async def rate(user_id: str, source: str, currency: str) -> None:
        async with gate:
            try:
                out.rates.quotes[currency] = await backing_off(
                    lambda: services.whalet.query_rate(user_id, currency, out.rates.report_currency, source)
                )
            except WhaletError as exc:
                out.rates.missing[currency] = sentence_of(exc)

    async def balances(user_id: str, name: str, source: str) -> None:
        async with gate:
            try:
                rows = await backing_off(lambda: services.whalet.query_currency_balance(user_id, source))
            except WhaletError as exc:
                out.problems.append(
                    later("%(name)s %(source)s balances: %(reason)s", name=name, source=source, reason=sentence_of(exc))
                )
                return
        out.balances.extend(digest_data.balance_rows(user_id, name, source, rows))
        for row in rows:  # a currency seen for the first time (with money in it): its rate, while balances come in
            if (
                row.currency not in asked
                and row.currency != out.rates.report_currency
                and row.balance
                and row.balance.amount
            ):
                asked.add(row.currency)
                rate_tasks.append(asyncio.create_task(rate(user_id, source, row.currency)))

    async def lookup(candidate: digest_data.Unsettled) -> None:
        async with gate:
            out.lookups.append(await digest_data.look_up(services, candidate, now, backing_off))

    with services.store.read() as db:
        unsettled = digest_data.unsettled(db, now, services.config.digest.reconcile_after_hours)
    tasks = [balances(user_id, name, source.value) for user_id, name in _users(services) for source in FundSource]
    tasks += [lookup(candidate) for candidate in unsettled]
    await asyncio.gather(*tasks)
    await asyncio.gather(*rate_tasks)
    out.balances.sort(key=lambda row: (row.user_name, row.fund_source, row.currency))
    out.lookups.sort(key=lambda item: item.order_no)
    return out
