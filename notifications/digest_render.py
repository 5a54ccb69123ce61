"""The digest as one Slack message: balances, movement, what waits for someone, loose ends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.clock import parse_iso
from notifications.formatting import when_text
from services.slack.blocks import Block, context, esc, fields, finish, header, section
from notifications.digest_data import BalanceRow, DigestContent
from notifications.rendered import Rendered
from whalet.money import Money

LIST_LIMIT = 8


def _money(amount: Decimal | str, currency: str) -> str:
    return Money(Decimal(amount), currency).format()


def _change(row: BalanceRow) -> str:
    if row.change is None:
        return "first digest for this balance"
    if row.change == 0:
        return "no change since the last digest"
    arrow = "▲" if row.change > 0 else "▼"
    sign = "+" if row.change > 0 else "−"
    return f"{arrow} {sign}{_money(abs(row.change), row.currency)} since the last digest"


def _balance_field(row: BalanceRow) -> tuple[str, str]:
    value = (f"*{_money(row.available, row.currency)}* available\n"
             f"pending {_money(row.pending, row.currency)} · frozen {_money(row.frozen, row.currency)}\n"
             f"{_change(row)}")
    return (f"{row.currency} · {row.fund_source}", value)


def _balances(content: DigestContent) -> list[Block]:
    blocks: list[Block] = []
    users: dict[str, list[BalanceRow]] = {}
    for row in content.balances:
        if row.available or row.pending or row.frozen or row.change:
            users.setdefault(row.user_id, []).append(row)
    for user_id, rows in users.items():
        blocks.append(section(f"*{esc(rows[0].user_name)}* (`{esc(user_id)}`)"))
        blocks += fields([_balance_field(row) for row in rows])
    if not blocks:
        blocks.append(section("No balances to show."))
    return blocks


def _movement(title: str, totals: dict[str, tuple[int, Decimal]]) -> str:
    if not totals:
        return f"*{title}:* none"
    count = sum(c for c, _ in totals.values())
    parts = ", ".join(_money(total, currency) for currency, (_, total) in totals.items())
    return f"*{title}:* {count} · {parts}"


def _pending_line(item: dict[str, Any]) -> str:
    to = item.get("beneficiary_name") or item.get("payee_user_id") or "?"
    return (f"• {_money(item['amount'], item['currency'])} to {esc(to)} requested by <@{item['requester']}> "
            f"({item['state'].lower().replace('_', ' ')})")


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
    return (f"🔎 *{len(lines)} confirmed payout(s) without a final result after {content.reconcile_hours} h:*\n"
            + _listing(lines))


def render(content: DigestContent, day: str | None = None) -> Rendered:
    """``day``: the local date the digest stands for (its schedule's), else today in UTC."""
    today = day or content.now.strftime("%Y-%m-%d")
    blocks = [header(f"📊 Whalet digest, {today}"), *_balances(content)]
    if content.problems:
        blocks.append(context("⚠️ " + esc("; ".join(content.problems))))
    blocks.append(section(_movement("Collections, last 24 h", content.collections) + "\n"
                          + _movement("Payouts and payments completed, last 24 h", content.payouts)))
    pending = [_pending_line(item) for item in content.pending]
    blocks.append(section(f"*Waiting for approval or confirmation:* {len(pending)}"
                          + ("\n" + _listing(pending) if pending else "")))
    todos = [_todo_line(todo, content) for todo in content.todos]
    blocks.append(section(f"*Open document requests:* {len(todos)}" + ("\n" + _listing(todos) if todos else "")))
    blocks.append(section(_reconciliation(content)))
    blocks.append(context(f"Generated {when_text(content.now)}"))
    summary = (f"Whalet digest {today}: {len(content.balances)} balances, {len(pending)} waiting for approval, "
               f"{len(todos)} open document requests")
    return Rendered(summary, finish(blocks, what="blocks"))
