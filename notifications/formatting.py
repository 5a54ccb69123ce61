"""How Whalet's values read in Slack: money, times, status icons, user-group mentions.

Shared by the notification, digest and to-do renderings; the Block Kit itself comes from
``services.slack.blocks``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.i18n import N_, Translator, translator
from services.slack.blocks import esc
from whalet.models import parse_whalet_time
from whalet.money import Money, MoneyError


def money_text(value: Any, currency: Any = None, t: Translator | None = None) -> str:
    """'1,200.50 USD' for a money object, number or numeric string (the reader's grouping, ``t``);
    the raw value if unreadable."""
    if value is None:
        return "—"
    t = t or translator("en")
    try:
        if isinstance(value, Money):
            return t.amount(value)
        return t.amount(Money.parse(value, currency if isinstance(currency, str) else None))
    except MoneyError:
        return esc(value)


def when_text(value: Any) -> str:
    """A Whalet time as a Slack date token, so each reader sees it in their own time zone."""
    if value is None or value == "":
        return "—"
    try:
        moment = value if isinstance(value, datetime) else parse_whalet_time(value)
    except (ValueError, TypeError):
        return esc(value)
    fallback = moment.strftime("%Y-%m-%d %H:%M %Z")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def mention_text(group_id: str | None) -> str:
    return f"<!subteam^{group_id}>" if group_id else ""


STATUS_ICONS = {
    "SUCCESS": "✅",
    "PASS": "✅",
    "FAIL": "❌",
    "FAILED": "❌",
    "REJECT": "❌",
    "REJECTED": "❌",
    "PROCESSING": "⏳",
    "WAIT": "⏳",
    "EXPIRED": "⌛",
}


def status_icon(status: Any) -> str:
    return STATUS_ICONS.get(str(status or "").upper(), "ℹ️")


# Whalet's status codes as people read them: English keeps Whalet's own word (SUCCESS), Chinese
# says it (成功). A status not listed here is shown as Whalet sent it.
STATUS_WORDS = {
    "SUCCESS": N_("SUCCESS"),
    "PASS": N_("PASS"),
    "FAIL": N_("FAIL"),
    "FAILED": N_("FAILED"),
    "REJECT": N_("REJECT"),
    "REJECTED": N_("REJECTED"),
    "PROCESSING": N_("PROCESSING"),
    "WAIT": N_("WAIT"),
    "EXPIRED": N_("EXPIRED"),
    "PENDING": N_("PENDING"),
    "ACCEPTED": N_("ACCEPTED"),
}


def status_word(status: Any, t: Translator | None = None) -> str:
    """A Whalet status in the reader's language (escaped): 'SUCCESS' / '成功'."""
    text = str(status if status is not None else "")
    known = STATUS_WORDS.get(text)
    return esc(text) if known is None or t is None else esc(t.gettext(known))
