"""The digest's balances as lines: per-user headings, one compact line per balance, the grand
total and the count of balances seen for the first time.

Kept apart from the message layout (``digest_render``) because these lines are what grows with
the number of balances: at 2,400 balances the table goes to the thread, split between rows by
``services.slack.message_size.replies`` into replies that each fit Slack's total text limit, with
a user's heading repeated "(continued)" where a reply starts inside that user's rows.
"""

from __future__ import annotations

from decimal import Decimal

from core.i18n import Translator, translator
from notifications.digest_data import BalanceRow, DigestContent
from notifications.digest_totals import UserTotal, grand_total
from notifications.rendered import Rendered
from services.slack.blocks import Block, context, esc, finish, section
from services.slack.message_size import BLOCK_TEXT_BUDGET, replies
from whalet.money import Money

ROW = "• "  # every balance line starts so; anything else in the table is a user's heading
REPLY_MARGIN = 500  # room in each reply for its "part i of n" line and slack_sdk's serialising
ENGLISH = translator("en")


def money(amount: Decimal | str, currency: str, t: Translator = ENGLISH) -> str:
    return t.amount(Money(Decimal(amount), currency))


def signed(change: Decimal, currency: str, t: Translator = ENGLISH) -> str:
    arrow, sign = ("▲", "+") if change > 0 else ("▼", "−")
    return f"{arrow} {sign}{money(abs(change), currency, t)}"


def _without(left_out: tuple[str, ...], t: Translator) -> str:
    return t.gettext("without %(currencies)s (no rate)", currencies=", ".join(left_out))


def total_text(total: UserTotal | None, t: Translator = ENGLISH) -> str:
    """'total ≈ *1,234.56 USD* (▲ +10.00 USD since the last digest)', or '' without a total."""
    if total is None:
        return ""
    amount = t.amount(total.total)
    if total.left_out:
        return t.gettext("total ≈ *%(amount)s* %(without)s", amount=amount, without=_without(total.left_out, t))
    if total.change is None:
        return t.gettext("total ≈ *%(amount)s*", amount=amount)
    if total.change == 0:
        return t.gettext("total ≈ *%(amount)s* (no change)", amount=amount)
    return t.gettext(
        "total ≈ *%(amount)s* (%(change)s since the last digest)",
        amount=amount,
        change=signed(total.change, total.total.currency, t),
    )


def by_user(content: DigestContent) -> dict[str, list[BalanceRow]]:
    """Each user's balances that hold or moved anything (an all-zero balance is noise)."""
    users: dict[str, list[BalanceRow]] = {}
    for row in content.balances:
        if row.available or row.pending or row.frozen or row.change:
            users.setdefault(row.user_id, []).append(row)
    return users


def headings(content: DigestContent, t: Translator = ENGLISH) -> list[tuple[str, list[BalanceRow]]]:
    """Per user: '*Name* (`U1`) · total ≈ …' and the user's balance rows."""
    totals = {t_.user_id: t_ for t_ in content.totals}
    out = []
    for user_id, rows in by_user(content).items():
        total = total_text(totals.get(user_id), t)
        out.append((f"*{esc(rows[0].user_name)}* (`{esc(user_id)}`)" + (f" · {total}" if total else ""), rows))
    return out


def _figure(amount: Decimal, currency: str, t: Translator) -> str:
    """An amount in its currency's digits without the code (the line starts with the currency)."""
    exact = Money(amount, currency).quantized()
    return t.number(exact.amount, exact.digits)


def table_line(row: BalanceRow, t: Translator = ENGLISH) -> str:
    """'• USD B2C: *1,001.00* available · pending 5.00 · ▲ +30.00': zeros and "no change" left
    out, so 2,400 balances are a dozen replies, not thirty."""
    parts = [
        ROW
        + t.gettext(
            "%(currency)s %(source)s: *%(available)s* available",
            currency=row.currency,
            source=row.fund_source,
            available=_figure(row.available, row.currency, t),
        )
    ]
    if row.pending:
        parts.append(t.gettext("pending %(amount)s", amount=_figure(row.pending, row.currency, t)))
    if row.frozen:
        parts.append(t.gettext("frozen %(amount)s", amount=_figure(row.frozen, row.currency, t)))
    if row.change:
        arrow, sign = ("▲", "+") if row.change > 0 else ("▼", "−")
        parts.append(f"{arrow} {sign}{_figure(abs(row.change), row.currency, t)}")
    return " · ".join(parts)


def part_title(title: str, index: int, count: int, t: Translator = ENGLISH) -> str:
    """'Whalet digest 2026-12-05: all balances (part 2 of 3)'; the title alone for one part."""
    if count <= 1:
        return title
    return t.gettext("%(title)s (part %(index)s of %(count)s)", title=title, index=index, count=count)


def thread(content: DigestContent, title: str, t: Translator = ENGLISH) -> list[Rendered]:
    """The full table as thread replies, split between rows (``message_size.replies``): each
    within Slack's 50 blocks and BLOCK_TEXT_BUDGET, each opening with which part it is. The
    lines are measured as they are written, in the channel's language."""
    lines = []
    for heading, rows in headings(content, t):
        lines.append(heading)
        lines += [table_line(row, t) for row in rows]
    chunks = replies(
        lines,
        BLOCK_TEXT_BUDGET - REPLY_MARGIN,
        is_heading=lambda line: not line.startswith(ROW),
        continued=t.gettext(" (continued)"),
    )
    out = []
    for index, chunk in enumerate(chunks, start=1):
        text = part_title(title, index, len(chunks), t)
        out.append(Rendered(text, finish([context(part_title(esc(title), index, len(chunks), t)), *chunk])))
    return out


def summary(content: DigestContent, room: int, text_room: int, t: Translator = ENGLISH) -> list[Block]:
    """One line per user, within ``room`` blocks and ``text_room`` characters: what the message
    keeps when the table moves out to the thread."""
    totals = {t_.user_id: t_ for t_ in content.totals}
    lines = []
    for user_id, rows in by_user(content).items():
        total = total_text(totals.get(user_id), t) or t.gettext("no total")
        lines.append(
            t.ngettext(
                "• *%(name)s* (`%(user)s`): %(total)s · %(n)s balance",
                "• *%(name)s* (`%(user)s`): %(total)s · %(n)s balances",
                len(rows),
                name=esc(rows[0].user_name),
                user=esc(user_id),
                total=total,
            )
        )
    fitting = replies(lines, max(1000, text_room - 100), max(1, room))
    blocks = fitting[0] if fitting else []
    shown = sum(block["text"]["text"].count("\n") + 1 for block in blocks)
    if shown < len(lines):
        more = t.ngettext(
            "…and %(n)s more user in the thread", "…and %(n)s more users in the thread", len(lines) - shown
        )
        blocks[-1] = section(blocks[-1]["text"]["text"] + "\n" + more)
    return blocks


def first_seen(content: DigestContent, t: Translator = ENGLISH) -> Block | None:
    """One line for every balance without an earlier digest to compare with, instead of saying
    "first digest for this balance" on each of them (2,400 times at 2,400 balances)."""
    count = sum(1 for rows in by_user(content).values() for row in rows if row.change is None)
    if not count:
        return None
    return context(
        t.ngettext(
            "%(count)s balance had no earlier digest to compare with.",
            "%(count)s balances had no earlier digest to compare with.",
            count,
            count=t.number(count),
        )
    )


def grand_total_line(content: DigestContent, t: Translator = ENGLISH) -> Block | None:
    """First thing a reader sees: everything, in the reporting currency, and how it moved; the
    currencies without a rate are named, not guessed at."""
    grand = grand_total(content.totals)
    if grand is None:
        return None
    values = {"amount": t.amount(grand.total), "count": t.number(grand.users)}
    if grand.left_out:
        text = t.ngettext(
            "*Grand total ≈ %(amount)s* across %(count)s Whalet user, %(without)s",
            "*Grand total ≈ %(amount)s* across %(count)s Whalet users, %(without)s",
            grand.users,
            without=_without(grand.left_out, t),
            **values,
        )
    elif grand.change is None:
        text = t.ngettext(
            "*Grand total ≈ %(amount)s* across %(count)s Whalet user",
            "*Grand total ≈ %(amount)s* across %(count)s Whalet users",
            grand.users,
            **values,
        )
    elif grand.change == 0:
        text = t.ngettext(
            "*Grand total ≈ %(amount)s* across %(count)s Whalet user (no change)",
            "*Grand total ≈ %(amount)s* across %(count)s Whalet users (no change)",
            grand.users,
            **values,
        )
    else:
        text = t.ngettext(
            "*Grand total ≈ %(amount)s* across %(count)s Whalet user (%(change)s since the last digest)",
            "*Grand total ≈ %(amount)s* across %(count)s Whalet users (%(change)s since the last digest)",
            grand.users,
            change=signed(grand.change, grand.total.currency, t),
            **values,
        )
    return section(text)
