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
from decimal import Decimal
from typing import Any

from core.clock import parse_iso
from notifications.formatting import when_text
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


def _change(row: BalanceRow) -> str:
    """The movement since the last digest; '' for a balance seen for the first time (those are
    counted in one line instead: 2,400 times "first digest" says nothing 2,400 times)."""
    if row.change is None:
        return ""
    if row.change == 0:
        return "no change since the last digest"
    return f"{signed(row.change, row.currency)} since the last digest"


def _balance_field(row: BalanceRow) -> tuple[str, str]:
    value = (
        f"*{money(row.available, row.currency)}* available\n"
        f"pending {money(row.pending, row.currency)} · frozen {money(row.frozen, row.currency)}"
        + (f"\n{change}" if (change := _change(row)) else "")
    )
    return (f"{row.currency} · {row.fund_source}", value)


def _user_groups(content: DigestContent) -> list[list[Block]]:
    """Per user: the heading with the total, then the balances as fields (ten per section)."""
    return [[section(heading), *fields([_balance_field(row) for row in rows])] for heading, rows in headings(content)]


def _movement(title: str, totals: dict[str, tuple[int, Decimal]]) -> str:
    if not totals:
        return f"*{title}:* none"
    count = sum(c for c, _ in totals.values())
    parts = ", ".join(money(total, currency) for currency, (_, total) in totals.items())
    return f"*{title}:* {count} · {parts}"


def _pending_line(item: dict[str, Any]) -> str:
    to = item.get("beneficiary_name") or item.get("payee_user_id") or "?"
    return (
        f"• {money(item['amount'], item['currency'])} to {esc(to)} requested by <@{item['requester']}> "
        f"({item['state'].lower().replace('_', ' ')})"
    )


def _todo_line(todo: dict[str, Any], content: DigestContent) -> str:
    deadline = parse_iso(todo["deadline"]) if todo.get("deadline") else None
    overdue = deadline is not None and deadline < content.now
    due = f"due {when_text(deadline)}" if deadline else "no deadline given"
    owner = f"<@{todo['owner']}>" if todo.get("owner") else "*nobody has taken it*"
    return f"• {'⚠️ OVERDUE ' if overdue else ''}`{esc(todo['replenish_id'])}` {due}, {owner}"


def _listing(items: list[str]) -> str:
    shown = items[:LIST_LIMIT]
    more = len(items) - len(shown)
    return "\n".join(shown + ([f"…and {more} more"] if more > 0 else []))


def _reconciliation(content: DigestContent) -> str:
    if not content.lookups:
        return f"✅ Every payout confirmed more than {content.reconcile_hours} h ago has its final result."
    lines = []
    for item in content.lookups:
        if item.problem:
            said = f"could not check: {esc(item.problem)}"
        elif item.whalet_status is None:
            said = "Whalet has no such order"
        else:
            said = f"Whalet says *{esc(item.whalet_status)}*, but no result notification arrived"
        lines.append(f"• `{esc(item.order_no)}` {item.amount.format()} (confirmed {when_text(item.since)}): {said}")
    return (
        f"🔎 *{len(lines)} confirmed payout(s) without a final result after {content.reconcile_hours} h:*\n"
        + _listing(lines)
    )


def _rates_note(content: DigestContent) -> str:
    if content.rates is None or not content.totals:
        return ""
    shown = content.rates.shown()
    return (
        f"Totals: available balances in {content.rates.report_currency} at Whalet's rates"
        + (f": {esc(shown)}" if shown else "")
        + "."
    )


def render(content: DigestContent, day: str) -> DigestMessage:
    """``day``: the local date the digest stands for (its schedule's zone), never UTC's date."""
    today = day
    closing: list[Block] = []
    if content.problems:
        closing.append(context("⚠️ " + esc("; ".join(content.problems))))
    closing.append(
        section(
            _movement("Collections, last 24 h", content.collections)
            + "\n"
            + _movement("Payouts and payments completed, last 24 h", content.payouts)
        )
    )
    pending = [_pending_line(item) for item in content.pending]
    closing.append(
        section(
            f"*Waiting for approval or confirmation:* {len(pending)}" + ("\n" + _listing(pending) if pending else "")
        )
    )
    todos = [_todo_line(todo, content) for todo in content.todos]
    closing.append(section(f"*Open document requests:* {len(todos)}" + ("\n" + _listing(todos) if todos else "")))
    closing.append(section(_reconciliation(content)))
    closing.append(context(*[t for t in (_rates_note(content), f"Generated {when_text(content.now)}") if t]))
    title = f"📊 Whalet digest, {today}"
    lead = [b for b in (digest_table.grand_total_line(content), digest_table.first_seen(content)) if b is not None]
    groups = _user_groups(content)
    table = [block for group in groups for block in group] or [section("No balances to show.")]
    replies: list[Rendered] = []
    whole = [header(title), *lead, *table, *closing]
    if len(whole) <= MAX_BLOCKS and text_of(whole) <= BLOCK_TEXT_BUDGET:
        balances = table
    else:
        note = context(f"The full table ({len(content.balances):,} balances) is in the thread below.")
        room = BLOCK_TEXT_BUDGET - text_of([header(title), *lead, *closing, note])
        balances = [*digest_table.summary(content, MAX_BLOCKS - len(closing) - len(lead) - 2, room), note]
        replies = digest_table.thread(content, f"Whalet digest {today}: all balances")
    summary = (
        f"Whalet digest {today}: {len(content.balances)} balances, {len(pending)} waiting for approval, "
        f"{len(todos)} open document requests"
    )
    main = Rendered(summary, finish([header(title), *lead, *balances, *closing], what="blocks"))
    return DigestMessage(main, replies)
