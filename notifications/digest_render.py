"""The digest as Slack messages: balances, totals, movement, what waits for someone, loose ends.

The closing sections (pending approvals, open document requests, reconciliation) are what a
reader must never lose, so they are laid out first and the balances get the room that is left.
When the full table fits in one message (50 blocks, BLOCK_TEXT_BUDGET of text) it is shown there; otherwise the message
keeps one line per Whalet user (total, change, how many balances) and the full table goes into
thread replies under it as compact lines (one per balance), each reply within Slack's limits
(``digest_table``). The grand total leads; the balances seen for the first time are one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from core.clock import parse_iso
from core.i18n import Translator, translator
from notifications.formatting import when_text
from services.approvals.card_status import state_name
from services.approvals.states import State
from services.slack.blocks import MAX_BLOCKS, Block, context, esc, fields, finish, header, section
from services.slack.message_size import BLOCK_TEXT_BUDGET, text_of
from notifications.digest_data import BalanceRow, DigestContent
from notifications import digest_table
from notifications.digest_table import headings, money, signed
from notifications.rendered import Rendered

LIST_LIMIT = 8
DIGEST_REF = "digest"


@dataclass(frozen=True)
class DigestMessage:
    main: Rendered
    thread: list[Rendered] = field(default_factory=list)  # the full table, when the message cannot hold it


def _change(row: BalanceRow, t: Translator) -> str:
    """The movement since the last digest; '' for a balance seen for the first time (those are
    counted in one line instead: 2,400 times "first digest" says nothing 2,400 times)."""
    if row.change is None:
        return ""
    if row.change == 0:
        return t.gettext("no change since the last digest")
    return t.gettext("%(change)s since the last digest", change=signed(row.change, row.currency, t))


def _balance_field(row: BalanceRow, t: Translator) -> tuple[str, str]:
    value = t.gettext(
        "*%(available)s* available\npending %(pending)s · frozen %(frozen)s",
        available=money(row.available, row.currency, t),
        pending=money(row.pending, row.currency, t),
        frozen=money(row.frozen, row.currency, t),
    ) + (f"\n{change}" if (change := _change(row, t)) else "")
    return (f"{row.currency} · {row.fund_source}", value)


def _user_groups(content: DigestContent, t: Translator) -> list[list[Block]]:
    """Per user: the heading with the total, then the balances as fields (ten per section)."""
    return [
        [section(heading), *fields([_balance_field(row, t) for row in rows])] for heading, rows in headings(content, t)
    ]


def _movement(title: str, totals: dict[str, tuple[int, Decimal]], t: Translator) -> str:
    """'*Collections, last 24 h:* 3 · 1,200.00 USD, 80.00 EUR' (``title`` already translated)."""
    if not totals:
        return t.gettext("*%(title)s:* none", title=title)
    count = sum(c for c, _ in totals.values())
    parts = t.gettext(", ").join(money(total, currency, t) for currency, (_, total) in totals.items())
    return t.gettext("*%(title)s:* %(count)s · %(amounts)s", title=title, count=count, amounts=parts)


def _state(value: Any, t: Translator) -> str:
    try:
        return state_name(State(str(value)), t.locale)
    except ValueError:
        return str(value).lower().replace("_", " ")


def _pending_line(item: dict[str, Any], t: Translator) -> str:
    to = item.get("beneficiary_name") or item.get("payee_user_id") or "?"
    return t.gettext(
        "• %(amount)s to %(to)s requested by <@%(requester)s> (%(state)s)",
        amount=money(item["amount"], item["currency"], t),
        to=esc(to),
        requester=item["requester"],
        state=_state(item["state"], t),
    )


def _todo_line(todo: dict[str, Any], content: DigestContent, t: Translator) -> str:
    deadline = parse_iso(todo["deadline"]) if todo.get("deadline") else None
    overdue = deadline is not None and deadline < content.now
    due = t.gettext("due %(when)s", when=when_text(deadline)) if deadline else t.gettext("no deadline given")
    owner = f"<@{todo['owner']}>" if todo.get("owner") else t.gettext("*nobody has taken it*")
    values = {"id": esc(todo["replenish_id"]), "due": due, "owner": owner}
    if overdue:
        return t.gettext("• ⚠️ OVERDUE `%(id)s` %(due)s, %(owner)s", **values)
    return t.gettext("• `%(id)s` %(due)s, %(owner)s", **values)


def _listing(items: list[str], t: Translator) -> str:
    shown = items[:LIST_LIMIT]
    more = len(items) - len(shown)
    return "\n".join(shown + ([t.gettext("…and %(more)s more", more=more)] if more > 0 else []))


def _reconciliation(content: DigestContent, t: Translator) -> str:
    if not content.lookups:
        return t.gettext(
            "✅ Every payout confirmed more than %(hours)s h ago has its final result.", hours=content.reconcile_hours
        )
    lines = []
    for item in content.lookups:
        if item.problem:
            said = t.gettext("could not check: %(problem)s", problem=esc(t.text(item.problem)))
        elif item.whalet_status is None:
            said = t.gettext("Whalet has no such order")
        else:
            said = t.gettext(
                "Whalet says *%(status)s*, but no result notification arrived", status=esc(item.whalet_status)
            )
        lines.append(
            t.gettext(
                "• `%(order)s` %(amount)s (confirmed %(when)s): %(said)s",
                order=esc(item.order_no),
                amount=t.amount(item.amount),
                when=when_text(item.since),
                said=said,
            )
        )
    return (
        t.gettext(
            "🔎 *%(count)s confirmed payout(s) without a final result after %(hours)s h:*",
            count=len(lines),
            hours=content.reconcile_hours,
        )
        + "\n"
        + _listing(lines, t)
    )


def _rates_note(content: DigestContent, t: Translator) -> str:
    if content.rates is None or not content.totals:
        return ""
    shown = content.rates.shown(t)
    currency = content.rates.report_currency
    if shown:
        return t.gettext(
            "Totals: available balances in %(currency)s at Whalet's rates: %(rates)s.",
            currency=currency,
            rates=esc(shown),
        )
    return t.gettext("Totals: available balances in %(currency)s at Whalet's rates.", currency=currency)


def _day(day: str | date, t: Translator) -> str:
    """The digest's date in the channel's language (2026年12月5日); a run date that is not a
    date (a test's label) as it is."""
    if isinstance(day, date):
        return t.date(day)
    try:
        return t.date(date.fromisoformat(day))
    except ValueError:
        return day


def render(content: DigestContent, day: str | date, t: Translator | None = None) -> DigestMessage:
    """``day``: the local date the digest stands for (its schedule's zone), never UTC's date;
    ``t``: the channel's language (English when not given)."""
    t = t or translator("en")
    today = _day(day, t)
    closing: list[Block] = []
    if content.problems:
        closing.append(context("⚠️ " + esc(t.gettext("; ").join(t.text(p) for p in content.problems))))
    closing.append(
        section(
            _movement(t.gettext("Collections, last 24 h"), content.collections, t)
            + "\n"
            + _movement(t.gettext("Payouts and payments completed, last 24 h"), content.payouts, t)
        )
    )
    pending = [_pending_line(item, t) for item in content.pending]
    closing.append(
        section(
            t.gettext("*Waiting for approval or confirmation:* %(count)s", count=len(pending))
            + ("\n" + _listing(pending, t) if pending else "")
        )
    )
    todos = [_todo_line(todo, content, t) for todo in content.todos]
    closing.append(
        section(
            t.gettext("*Open document requests:* %(count)s", count=len(todos))
            + ("\n" + _listing(todos, t) if todos else "")
        )
    )
    closing.append(section(_reconciliation(content, t)))
    generated = t.gettext("Generated %(when)s", when=when_text(content.now))
    closing.append(context(*[text for text in (_rates_note(content, t), generated) if text]))
    title = t.gettext("📊 Whalet digest, %(day)s", day=today)
    lead = [
        b for b in (digest_table.grand_total_line(content, t), digest_table.first_seen(content, t)) if b is not None
    ]
    groups = _user_groups(content, t)
    table = [block for group in groups for block in group] or [section(t.gettext("No balances to show."))]
    replies: list[Rendered] = []
    whole = [header(title), *lead, *table, *closing]
    if len(whole) <= MAX_BLOCKS and text_of(whole) <= BLOCK_TEXT_BUDGET:
        balances = table
    else:
        note = context(
            t.gettext(
                "The full table (%(count)s balances) is in the thread below.", count=t.number(len(content.balances))
            )
        )
        room = BLOCK_TEXT_BUDGET - text_of([header(title), *lead, *closing, note])
        balances = [*digest_table.summary(content, MAX_BLOCKS - len(closing) - len(lead) - 2, room, t), note]
        replies = digest_table.thread(content, t.gettext("Whalet digest %(day)s: all balances", day=today), t)
    summary = t.gettext(
        "Whalet digest %(day)s: %(balances)s balances, %(pending)s waiting for approval, "
        "%(todos)s open document requests",
        day=today,
        balances=len(content.balances),
        pending=len(pending),
        todos=len(todos),
    )
    main = Rendered(summary, finish([header(title), *lead, *balances, *closing], what="blocks"))
    return DigestMessage(main, replies)
