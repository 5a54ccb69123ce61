"""The digest as Slack messages: balances, totals, movement, what waits for someone, loose ends.

The closing sections (pending approvals, open document requests, reconciliation) are what a
reader must never lose, so they are laid out first and the balances get the room that is left.
When the full table fits in one message (50 blocks) it is shown there; otherwise the message
keeps one line per Whalet user (total, change, how many balances) and the full table goes into
thread replies under it as compact lines (one per balance), each reply within Slack's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.clock import parse_iso
from notifications.digest_totals import UserTotal
from notifications.formatting import when_text
from services.slack.blocks import MAX_BLOCKS, Block, context, esc, fields, finish, header, section
from services.slack.message_size import BLOCK_TEXT_BUDGET, replies, text_of
from notifications.digest_data import BalanceRow, DigestContent
from notifications.rendered import Rendered
from whalet.money import Money

LIST_LIMIT = 8
DIGEST_REF = "digest"


@dataclass(frozen=True)
class DigestMessage:
    main: Rendered
    thread: list[Rendered] = field(default_factory=list)  # the full table, when the message cannot hold it


def _money(amount: Decimal | str, currency: str) -> str:
    return Money(Decimal(amount), currency).format()


def _change(row: BalanceRow) -> str:
    """The movement since the last digest; '' for a balance seen for the first time (those are
    counted in one line instead: 2,400 times "first digest" says nothing 2,400 times)."""
    if row.change is None:
        return ""
    if row.change == 0:
        return "no change since the last digest"
    return f"{_signed(row.change, row.currency)} since the last digest"


def _balance_field(row: BalanceRow) -> tuple[str, str]:
    value = (
        f"*{_money(row.available, row.currency)}* available\n"
        f"pending {_money(row.pending, row.currency)} · frozen {_money(row.frozen, row.currency)}"
        + (f"\n{change}" if (change := _change(row)) else "")
    )
    return (f"{row.currency} · {row.fund_source}", value)


def _signed(change: Decimal, currency: str) -> str:
    arrow, sign = ("▲", "+") if change > 0 else ("▼", "−")
    return f"{arrow} {sign}{_money(abs(change), currency)}"


def _total_text(total: UserTotal | None) -> str:
    """'total ≈ *1,234.56 USD* (▲ +10.00 USD since the last digest)', or '' without a total."""
    if total is None:
        return ""
    text = f"total ≈ *{total.total.format()}*"
    if total.left_out:
        text += f" without {', '.join(total.left_out)} (no rate)"
    elif total.change is not None:
        text += (
            " (no change)"
            if total.change == 0
            else f" ({_signed(total.change, total.total.currency)} since the last digest)"
        )
    return text


def _by_user(content: DigestContent) -> dict[str, list[BalanceRow]]:
    users: dict[str, list[BalanceRow]] = {}
    for row in content.balances:
        if row.available or row.pending or row.frozen or row.change:
            users.setdefault(row.user_id, []).append(row)
    return users


def _headings(content: DigestContent) -> list[tuple[str, list[BalanceRow]]]:
    """Per user: '*Name* (`U1`) · total ≈ …' and the user's balance rows."""
    totals = {t.user_id: t for t in content.totals}
    out = []
    for user_id, rows in _by_user(content).items():
        total = _total_text(totals.get(user_id))
        out.append((f"*{esc(rows[0].user_name)}* (`{esc(user_id)}`)" + (f" · {total}" if total else ""), rows))
    return out


def _user_groups(content: DigestContent) -> list[list[Block]]:
    """Per user: the heading with the total, then the balances as fields (ten per section)."""
    return [[section(heading), *fields([_balance_field(row) for row in rows])] for heading, rows in _headings(content)]


def _summary(content: DigestContent, room: int, text_room: int) -> list[Block]:
    """One line per user, within ``room`` blocks and ``text_room`` characters: what the message
    keeps when the table moves out to the thread."""
    totals = {t.user_id: t for t in content.totals}
    lines = []
    for user_id, rows in _by_user(content).items():
        total = _total_text(totals.get(user_id)) or "no total"
        lines.append(f"• *{esc(rows[0].user_name)}* (`{esc(user_id)}`): {total} · {len(rows)} balances")
    fitting = replies(lines, max(1000, text_room - 100), max(1, room))
    blocks = fitting[0] if fitting else []
    shown = sum(block["text"]["text"].count("\n") + 1 for block in blocks)
    if shown < len(lines):
        blocks[-1] = section(blocks[-1]["text"]["text"] + f"\n…and {len(lines) - shown} more users in the thread")
    return blocks


def _table_lines(content: DigestContent) -> list[str]:
    """The full table as text lines (a user's heading, then one line per balance): about 25 lines a
    block, so 100 users × 6 balances fit one reply instead of four paced ones."""
    lines = []
    for heading, rows in _headings(content):
        lines.append(heading)
        lines += [_table_line(row) for row in rows]
    return lines


def _figure(amount: Decimal, currency: str) -> str:
    """An amount in its currency's digits without the code (the line starts with the currency)."""
    return Money(amount, currency).format().rsplit(" ", 1)[0]


def _table_line(row: BalanceRow) -> str:
    """'• USD B2C: *1,001.00* available · pending 5.00 · ▲ +30.00': zeros and "no change" left
    out, so 2,400 balances are a dozen replies, not thirty."""
    parts = [f"• {row.currency} {row.fund_source}: *{_figure(row.available, row.currency)}* available"]
    if row.pending:
        parts.append(f"pending {_figure(row.pending, row.currency)}")
    if row.frozen:
        parts.append(f"frozen {_figure(row.frozen, row.currency)}")
    if row.change:
        arrow, sign = ("▲", "+") if row.change > 0 else ("▼", "−")
        parts.append(f"{arrow} {sign}{_figure(abs(row.change), row.currency)}")
    return " · ".join(parts)


def _thread(content: DigestContent, title: str) -> list[Rendered]:
    """The full table as replies, split between rows: each within Slack's 50 blocks and its total
    text limit (``message_size``), so 2,400 balances make a few replies, none refused."""
    chunks = replies(_table_lines(content), BLOCK_TEXT_BUDGET - 500)
    return [
        Rendered(title + (f" ({index} of {len(chunks)})" if len(chunks) > 1 else ""), finish(chunk))
        for index, chunk in enumerate(chunks, start=1)
    ]


def _first_seen(content: DigestContent) -> Block | None:
    """One line for every balance without an earlier digest to compare with."""
    count = sum(1 for rows in _by_user(content).values() for row in rows if row.change is None)
    if not count:
        return None
    return context(f"{count} balance{'s' if count != 1 else ''} had no earlier digest to compare with.")


def _grand_total(content: DigestContent) -> Block | None:
    """First thing a reader sees: everything, in the reporting currency, and how it moved."""
    if not content.totals:
        return None
    currency = content.totals[0].total.currency
    total = sum((t.total.amount for t in content.totals), Decimal(0))
    left_out = sorted({c for t in content.totals for c in t.left_out})
    text = f"*Grand total ≈ {_money(total, currency)}* across {len(content.totals)} Whalet users"
    changes = [t.change for t in content.totals]
    if left_out:
        text += f", without {', '.join(left_out)} (no rate)"
    elif changes and all(c is not None for c in changes):
        moved = sum((c for c in changes if c is not None), Decimal(0))
        text += " (no change)" if moved == 0 else f" ({_signed(moved, currency)} since the last digest)"
    return section(text)


def _movement(title: str, totals: dict[str, tuple[int, Decimal]]) -> str:
    if not totals:
        return f"*{title}:* none"
    count = sum(c for c, _ in totals.values())
    parts = ", ".join(_money(total, currency) for currency, (_, total) in totals.items())
    return f"*{title}:* {count} · {parts}"


def _pending_line(item: dict[str, Any]) -> str:
    to = item.get("beneficiary_name") or item.get("payee_user_id") or "?"
    return (
        f"• {_money(item['amount'], item['currency'])} to {esc(to)} requested by <@{item['requester']}> "
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
    lead = [b for b in (_grand_total(content),) if b is not None]
    first_seen = [b for b in (_first_seen(content),) if b is not None]
    closing = first_seen + closing
    groups = _user_groups(content)
    table = [block for group in groups for block in group] or [section("No balances to show.")]
    thread: list[Rendered] = []
    whole = [header(title), *lead, *table, *closing]
    if len(whole) <= MAX_BLOCKS and text_of(whole) <= BLOCK_TEXT_BUDGET:
        balances = table
    else:
        note = context(f"The full table ({len(content.balances)} balances) is in the thread below.")
        room = BLOCK_TEXT_BUDGET - text_of([header(title), *lead, *closing, note])
        balances = [*_summary(content, MAX_BLOCKS - len(closing) - len(lead) - 2, room), note]
        thread = _thread(content, f"Whalet digest {today}: all balances")
    summary = (
        f"Whalet digest {today}: {len(content.balances)} balances, {len(pending)} waiting for approval, "
        f"{len(todos)} open document requests"
    )
    main = Rendered(summary, finish([header(title), *lead, *balances, *closing], what="blocks"))
    return DigestMessage(main, thread)
