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
from core.i18n import Later, Translator, later, translator
from core.storage import home as home_rows
from core.storage.claims import open_window
from services.approvals.cards import slack_time
from services.slack.blocks import Block, actions, button, context, paged, section
from services.whalet_words import sentence_of
from whalet.errors import WhaletError
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

REFRESH_ACTION = "home_refresh_balances"
REFRESH_QUIET = timedelta(seconds=60)


def _money(amount: str | None, currency: str, t: Translator) -> str:
    return "—" if amount is None else t.amount(Money(Decimal(amount), currency))


def _age(taken: datetime, now: datetime, t: Translator) -> str:
    minutes = int((now - taken).total_seconds() // 60)
    if minutes < 1:
        return t.gettext("less than a minute ago")
    if minutes < 120:
        return t.gettext("%(minutes)s min ago", minutes=minutes)
    if minutes < 48 * 60:
        return t.gettext("%(hours)s h ago", hours=minutes // 60)
    return t.gettext("%(days)s days ago", days=minutes // (24 * 60))


def _where(services: Services) -> tuple[str | None, str]:
    return services.config.whalet.user_id, services.config.whalet.default_fund_source


def balance_blocks(services: Services, t: Translator | None = None) -> list[Block]:
    """The snapshot with its age, or how to get one, and the Refresh button, in ``t``'s language."""
    t = t or translator("en")
    user, source = _where(services)
    if user is None:
        return [section(t.gettext("*Balances*\nNo Whalet user is configured ([whalet] default_user_id)."))]
    with services.store.read() as db:
        rows = home_rows.balances(db, user, source)
    title = "*" + t.gettext("Balances of %(user)s (%(source)s)", user=user, source=source) + "*"
    if rows:
        taken = parse_iso(str(rows[0]["taken_at"]))
        lines = [
            t.gettext(
                "*%(currency)s*  available *%(available)s* · pending %(pending)s · frozen %(frozen)s",
                currency=r["currency"],
                available=_money(r["available"], r["currency"], t),
                pending=_money(r["pending"], r["currency"], t),
                frozen=_money(r["frozen"], r["currency"], t),
            )
            for r in rows
        ]
        listed, hidden = paged(lines, per_block=15, max_blocks=3)
        when = slack_time(taken, "{date_short_pretty} {time}")
        age = _age(taken, services.clock.now(), t)
        if hidden:
            said = t.ngettext(
                "Snapshot taken at %(time)s (%(age)s); %(n)s more currency in `/whalet balance`.",
                "Snapshot taken at %(time)s (%(age)s); %(n)s more currencies in `/whalet balance`.",
                hidden,
                time=when,
                age=age,
            )
        else:
            said = t.gettext("Snapshot taken at %(time)s (%(age)s).", time=when, age=age)
        body = [section(title), *listed, context(said)]
    else:
        body = [section(title + "\n" + t.gettext("No snapshot yet: press Refresh to ask Whalet."))]
    return [*body, actions(button(t.gettext("Refresh balances"), REFRESH_ACTION, "refresh"))]


async def refresh(services: Services) -> Later | None:
    """Ask Whalet for the balances unless someone did within the last minute; a sentence for the
    person (translated where shown) when nothing new could be fetched, else None."""
    user, source = _where(services)
    if user is None:
        return later("No Whalet user is configured, so there are no balances to show.")
    now = services.clock.now()
    with services.store.transaction() as db:
        if not open_window(db, f"home:balances:{user}:{source}", iso(now), iso(now + REFRESH_QUIET)):
            return later("The balances were refreshed less than a minute ago; this is that snapshot.")
    try:
        found = await services.whalet.query_currency_balance(user, source, None)
    except WhaletError as exc:
        return later(
            "Whalet did not answer the balance query: %(reason)s The last snapshot is shown.", reason=sentence_of(exc)
        )
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
