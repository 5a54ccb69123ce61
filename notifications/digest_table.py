"""The digest's balances as lines: per-user headings, one compact line per balance, the grand
total and the count of balances seen for the first time.

Kept apart from the message layout (``digest_render``) because these lines are what grows with
the number of balances: at 2,400 balances the table goes to the thread, split between rows by
``services.slack.message_size.replies`` into replies that each fit Slack's total text limit, with
a user's heading repeated "(continued)" where a reply starts inside that user's rows.
"""

from __future__ import annotations

from decimal import Decimal

from notifications.digest_data import BalanceRow, DigestContent
from notifications.digest_totals import UserTotal, grand_total
from notifications.rendered import Rendered
from services.slack.blocks import Block, context, esc, finish, section
from services.slack.message_size import BLOCK_TEXT_BUDGET, replies
from whalet.money import Money

ROW = "• "  # every balance line starts so; anything else in the table is a user's heading
REPLY_MARGIN = 500  # room in each reply for its "part i of n" line and slack_sdk's serialising


def money(amount: Decimal | str, currency: str) -> str:
    return Money(Decimal(amount), currency).format()


def signed(change: Decimal, currency: str) -> str:
    arrow, sign = ("▲", "+") if change > 0 else ("▼", "−")
    return f"{arrow} {sign}{money(abs(change), currency)}"


def total_text(total: UserTotal | None) -> str:
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
            else f" ({signed(total.change, total.total.currency)} since the last digest)"
        )
    return text


def by_user(content: DigestContent) -> dict[str, list[BalanceRow]]:
    """Each user's balances that hold or moved anything (an all-zero balance is noise)."""
    users: dict[str, list[BalanceRow]] = {}
    for row in content.balances:
        if row.available or row.pending or row.frozen or row.change:
            users.setdefault(row.user_id, []).append(row)
    return users


def headings(content: DigestContent) -> list[tuple[str, list[BalanceRow]]]:
    """Per user: '*Name* (`U1`) · total ≈ …' and the user's balance rows."""
    totals = {t.user_id: t for t in content.totals}
    out = []
    for user_id, rows in by_user(content).items():
        total = total_text(totals.get(user_id))
        out.append((f"*{esc(rows[0].user_name)}* (`{esc(user_id)}`)" + (f" · {total}" if total else ""), rows))
    return out


def _figure(amount: Decimal, currency: str) -> str:
    """An amount in its currency's digits without the code (the line starts with the currency)."""
    return Money(amount, currency).format().rsplit(" ", 1)[0]


def table_line(row: BalanceRow) -> str:
    """'• USD B2C: *1,001.00* available · pending 5.00 · ▲ +30.00': zeros and "no change" left
    out, so 2,400 balances are a dozen replies, not thirty."""
    parts = [f"{ROW}{row.currency} {row.fund_source}: *{_figure(row.available, row.currency)}* available"]
    if row.pending:
        parts.append(f"pending {_figure(row.pending, row.currency)}")
    if row.frozen:
        parts.append(f"frozen {_figure(row.frozen, row.currency)}")
    if row.change:
        arrow, sign = ("▲", "+") if row.change > 0 else ("▼", "−")
        parts.append(f"{arrow} {sign}{_figure(abs(row.change), row.currency)}")
    return " · ".join(parts)


def thread(content: DigestContent, title: str) -> list[Rendered]:
    """The full table as thread replies, split between rows (``message_size.replies``): each
    within Slack's 50 blocks and BLOCK_TEXT_BUDGET, each opening with which part it is."""
    lines = []
    for heading, rows in headings(content):
        lines.append(heading)
        lines += [table_line(row) for row in rows]
    chunks = replies(lines, BLOCK_TEXT_BUDGET - REPLY_MARGIN, is_heading=lambda line: not line.startswith(ROW))
    out = []
    for index, chunk in enumerate(chunks, start=1):
        part = f" (part {index} of {len(chunks)})" if len(chunks) > 1 else ""
        out.append(Rendered(title + part, finish([context(esc(title) + part), *chunk])))
    return out


def summary(content: DigestContent, room: int, text_room: int) -> list[Block]:
    """One line per user, within ``room`` blocks and ``text_room`` characters: what the message
    keeps when the table moves out to the thread."""
    totals = {t.user_id: t for t in content.totals}
    lines = []
    for user_id, rows in by_user(content).items():
        total = total_text(totals.get(user_id)) or "no total"
        lines.append(f"• *{esc(rows[0].user_name)}* (`{esc(user_id)}`): {total} · {len(rows)} balances")
    fitting = replies(lines, max(1000, text_room - 100), max(1, room))
    blocks = fitting[0] if fitting else []
    shown = sum(block["text"]["text"].count("\n") + 1 for block in blocks)
    if shown < len(lines):
        blocks[-1] = section(blocks[-1]["text"]["text"] + f"\n…and {len(lines) - shown} more users in the thread")
    return blocks


def first_seen(content: DigestContent) -> Block | None:
    """One line for every balance without an earlier digest to compare with, instead of saying
    "first digest for this balance" on each of them (2,400 times at 2,400 balances)."""
    count = sum(1 for rows in by_user(content).values() for row in rows if row.change is None)
    if not count:
        return None
    return context(f"{count:,} balance{'s' if count != 1 else ''} had no earlier digest to compare with.")


def grand_total_line(content: DigestContent) -> Block | None:
    """First thing a reader sees: everything, in the reporting currency, and how it moved; the
    currencies without a rate are named, not guessed at."""
    grand = grand_total(content.totals)
    if grand is None:
        return None
    currency = grand.total.currency
    users = f"{grand.users:,} Whalet user{'s' if grand.users != 1 else ''}"
    text = f"*Grand total ≈ {grand.total.format()}* across {users}"
    if grand.left_out:
        text += f", without {', '.join(grand.left_out)} (no rate)"
    elif grand.change is not None:
        text += " (no change)" if grand.change == 0 else f" ({signed(grand.change, currency)} since the last digest)"
    return section(text)
