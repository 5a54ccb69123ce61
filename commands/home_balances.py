"""The App Home's balance snapshot: stored, shown with its age, refreshed by a button.

Opening the Home must not cost a Whalet call (people open it all day long), so the Home shows the
snapshot in ``home_balances`` and only the Refresh button asks Whalet again, at most once a
minute for the whole workspace (a quiet window in the database, shared by every replica: ten
people pressing Refresh at 9:00 make one call). The snapshot covers the default Whalet user and
fund source, what `/whalet balance` shows without options.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.clock import iso, parse_iso
from core.storage import home as home_rows
from core.storage.claims import open_window
from services.approvals.cards import slack_time
from services.slack.blocks import Block, actions, button, context, paged, section
from whalet.errors import WhaletError, explain
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

REFRESH_ACTION = "home_refresh_balances"
REFRESH_QUIET = timedelta(seconds=60)


def _money(amount: str | None, currency: str) -> str:
    return "—" if amount is None else Money(Decimal(amount), currency).format()


def _age(taken: datetime, now: datetime) -> str:
    minutes = int((now - taken).total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago" if minutes < 48 * 60 else f"{minutes // (24 * 60)} days ago"


def _where(services: Services) -> tuple[str | None, str]:
    return services.config.whalet.user_id, services.config.whalet.default_fund_source


def balance_blocks(services: Services) -> list[Block]:
    """The snapshot with its age, or how to get one, and the Refresh button."""
    user, source = _where(services)
    if user is None:
        return [section("*Balances*\nNo Whalet user is configured ([whalet] default_user_id).")]
    with services.store.read() as db:
        rows = home_rows.balances(db, user, source)
    title = f"*Balances of {user} ({source})*"
    if rows:
        taken = parse_iso(str(rows[0]["taken_at"]))
        lines = [
            f"*{r['currency']}*  available *{_money(r['available'], r['currency'])}* · pending "
            f"{_money(r['pending'], r['currency'])} · frozen {_money(r['frozen'], r['currency'])}"
            for r in rows
        ]
        listed, hidden = paged(lines, per_block=15, max_blocks=3)
        age = context(
            f"Snapshot taken at {slack_time(taken, '{date_short_pretty} {time}')} "
            f"({_age(taken, services.clock.now())})"
            + (f"; {hidden} more currencies in `/whalet balance`." if hidden else ".")
        )
        body = [section(title), *listed, age]
    else:
        body = [section(f"{title}\nNo snapshot yet: press Refresh to ask Whalet.")]
    return [*body, actions(button("Refresh balances", REFRESH_ACTION, "refresh"))]


async def refresh(services: Services) -> str | None:
    """Ask Whalet for the balances unless someone did within the last minute; a sentence for the
    person when nothing new could be fetched, else None."""
    user, source = _where(services)
    if user is None:
        return "No Whalet user is configured, so there are no balances to show."
    now = services.clock.now()
    with services.store.transaction() as db:
        if not open_window(db, f"home:balances:{user}:{source}", iso(now), iso(now + REFRESH_QUIET)):
            return "The balances were refreshed less than a minute ago; this is that snapshot."
    try:
        found = await services.whalet.query_currency_balance(user, source, None)
    except WhaletError as exc:
        return f"Whalet did not answer the balance query: {explain(exc)} The last snapshot is shown."
    rows: list[dict[str, Any]] = [
        {
            "currency": b.currency,
            "available": None if b.balance is None else str(b.balance.amount),
            "pending": None if b.pending_amount is None else str(b.pending_amount.amount),
            "frozen": None if b.freeze_amount is None else str(b.freeze_amount.amount),
        }
        for b in found
    ]
    with services.store.transaction() as db:
        home_rows.replace_balances(db, user, source, rows, iso(services.clock.now()))
    return None
