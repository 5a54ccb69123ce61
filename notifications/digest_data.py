"""What a digest says, gathered from Whalet's answers and our own tables (no Slack here).

Balances are stored as snapshots per channel with each run, so "change since the previous
digest" compares with what THIS channel was last shown. Collections and payouts of the last 24 h
come from the inbox (what Whalet notified). The reconciliation line covers approval requests
confirmed more than ``reconcile_after_hours`` ago with no final result: each is looked up by
``merOrderNo`` and reported, because a lost notification must not stay invisible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlite_utils import Database

from core.clock import iso, parse_iso
from core.i18n import Later
from core.storage import approvals, digests, inbox
from core.storage import replenish
from notifications.digest_totals import Rates, UserTotal, user_totals, with_changes
from notifications.render import amount_of
from notifications.routing import api_codes_of
from services.whalet_words import sentence_of
from whalet.errors import WhaletError
from whalet.models import CurrencyBalance
from whalet.money import Money

if TYPE_CHECKING:
    from core.config import BotConfig
    from services.container import Services

T = TypeVar("T")
OPEN_APPROVAL_STATES = ("PENDING", "CONFIRMING", "CONFIRM_UNKNOWN")  # services.approvals.states.OPEN
AWAITING_RESULT = ("CONFIRMED",)


@dataclass(frozen=True)
class BalanceRow:
    user_id: str
    user_name: str
    fund_source: str
    currency: str
    available: Decimal
    pending: Decimal
    frozen: Decimal
    change: Decimal | None = None  # since this channel's previous digest; None: first time seen


def balance_rows(user_id: str, name: str, source: str, rows: list[CurrencyBalance]) -> list[BalanceRow]:
    def value(money: Money | None) -> Decimal:
        return money.amount if money is not None else Decimal(0)

    return [
        BalanceRow(
            user_id, name, source, row.currency, value(row.balance), value(row.pending_amount), value(row.freeze_amount)
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Unsettled:
    request_id: str
    kind: str  # payout | pay
    user_id: str
    order_no: str
    amount: Money
    since: datetime


@dataclass(frozen=True)
class Lookup:
    request_id: str
    order_no: str
    amount: Money
    since: datetime
    whalet_status: str | None  # None: not found, or the lookup failed (see problem)
    problem: Later | str | None = None  # translated when shown


def unsettled(db: Database, now: datetime, hours: int) -> list[Unsettled]:
    rows = approvals.awaiting_result(db, list(AWAITING_RESULT), iso(now - timedelta(hours=hours)))
    return [Unsettled(r[0], r[1], r[2], r[3], Money.of(r[4], r[5]), parse_iso(r[6])) for r in rows]


async def look_up(
    services: Services, item: Unsettled, now: datetime, retry: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
) -> Lookup:
    """Ask Whalet for the order by merOrderNo (a read, safe to repeat)."""
    query = services.whalet.query_withdraw_records if item.kind == "payout" else services.whalet.query_pay_records
    start, end = item.since - timedelta(days=1), now + timedelta(hours=1)  # tolerate clock skew
    try:
        page = await retry(lambda: query(item.user_id, start, end, mer_order_no=item.order_no, page_size=10))
    except WhaletError as exc:
        return Lookup(item.request_id, item.order_no, item.amount, item.since, None, sentence_of(exc))
    status = next((r.status for r in page.records if r.mer_order_no == item.order_no), None)
    return Lookup(item.request_id, item.order_no, item.amount, item.since, status)


@dataclass
class DigestContent:
    channel: str
    now: datetime
    balances: list[BalanceRow]
    problems: list[str | Later]
    collections: dict[str, tuple[int, Decimal]]  # currency -> (count, total)
    payouts: dict[str, tuple[int, Decimal]]
    pending: list[dict[str, Any]]
    todos: list[dict[str, Any]]
    lookups: list[Lookup]
    reconcile_hours: int
    users: dict[str, str] = field(default_factory=dict)
    totals: list[UserTotal] = field(default_factory=list)  # per Whalet user, in the reporting currency
    rates: Rates | None = None


def _with_changes(db: Database, channel: str, run_id: int, rows: list[BalanceRow]) -> list[BalanceRow]:
    """Compare with this channel's latest snapshot from an earlier run, then store this run's."""
    result = []
    for row in rows:
        previous = digests.previous_available(db, channel, row.user_id, row.fund_source, row.currency, run_id)
        change = row.available - Decimal(previous) if previous is not None else None
        result.append(BalanceRow(**{**row.__dict__, "change": change}))
    digests.clear_snapshots(db, run_id)  # a redo replaces
    return result


def _store(db: Database, channel: str, run_id: int, now: datetime, rows: list[BalanceRow]) -> None:
    for row in rows:
        digests.add_snapshot(
            db,
            run_id,
            channel,
            iso(now),
            row.user_id,
            row.fund_source,
            row.currency,
            available=str(row.available),
            pending=str(row.pending),
            frozen=str(row.frozen),
        )


def _totals(items: list[tuple[str, Any]], wanted: Callable[[Any], bool]) -> dict[str, tuple[int, Decimal]]:
    totals: dict[str, tuple[int, Decimal]] = {}
    for _, body in items:
        money = amount_of(body)
        if money is None or not wanted(body):
            continue
        count, total = totals.get(money.currency, (0, Decimal(0)))
        totals[money.currency] = (count + 1, total + money.amount)
    return dict(sorted(totals.items()))


def _pending(db: Database) -> list[dict[str, Any]]:
    return approvals.summaries_in(db, list(OPEN_APPROVAL_STATES))


def gather(
    db: Database,
    run_id: int,
    channel: str,
    now: datetime,
    balances: list[BalanceRow],
    problems: list[str | Later],
    lookups: list[Lookup],
    config: BotConfig,
    rates: Rates | None = None,
) -> DigestContent:
    """Everything from our own tables, inside the transaction that posts the digest."""
    rows = _with_changes(db, channel, run_id, balances)
    _store(db, channel, run_id, now, rows)
    rates = rates or Rates(config.digest.report_currency)
    totals = with_changes(db, channel, run_id, iso(now), user_totals(rows, rates))
    codes = api_codes_of(config)
    since = now - timedelta(hours=24)
    collections = inbox.received_since(db, [codes["collectionReceivedNotify"]], since)
    results = inbox.received_since(db, [codes["payoutResultNotify"], codes["payResultNotify"]], since)
    return DigestContent(
        channel=channel,
        now=now,
        balances=rows,
        problems=problems,
        collections=_totals(collections, lambda body: True),
        payouts=_totals(results, lambda body: str(body.get("status", "")).upper() == "SUCCESS"),
        pending=_pending(db),
        todos=replenish.open_todos(db),
        lookups=lookups,
        reconcile_hours=config.digest.reconcile_after_hours,
        users={user.id: user.name for user in config.whalet.users},
        totals=totals,
        rates=rates,
    )
