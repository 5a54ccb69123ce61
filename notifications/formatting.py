"""How Whalet's values read in Slack: money, times, status icons, user-group mentions.

Shared by the notification, digest and to-do renderings; the Block Kit itself comes from
``services.slack.blocks``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.slack.blocks import esc
from whalet.models import parse_whalet_time
from whalet.money import Money, MoneyError


def money_text(value: Any, currency: Any = None) -> str:
    """'1,200.50 USD' for a money object, number or numeric string; the raw value if unreadable."""
    if value is None:
        return "—"
    try:
        if isinstance(value, Money):
            return value.format()
        return Money.parse(value, currency if isinstance(currency, str) else None).format()
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
