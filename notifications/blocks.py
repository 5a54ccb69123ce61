"""Small Block Kit helpers shared by the renderers: masking, escaping, money, times, limits.

Blocks are plain dicts in exactly the shape ``slack_sdk.models.blocks`` produces (the tests parse
every rendered message back through the SDK's models and their validation). Building them via
the SDK objects here cost more than half of the relay's time per notification, on the path that
competes with the webhook for the CPU. Slack's size rules (section text 3 000, field 2 000,
header 150, at most 10 fields and 50 blocks) are enforced here by cutting, because a message
Slack refuses is a message lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from whalet.models import parse_whalet_time
from whalet.money import Money, MoneyError

Block = dict[str, Any]
SECTION_LIMIT, FIELD_LIMIT, HEADER_LIMIT, MAX_FIELDS, MAX_BLOCKS = 3000, 2000, 150, 10, 50
def esc(text: Any) -> str:
    """Text from Whalet or a person shown in mrkdwn: &, < and > would otherwise become links or
    mentions (an accidental @channel); None shows as nothing."""
    return ("" if text is None else str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _mrkdwn(text: str, limit: int) -> Block:
    return {"type": "mrkdwn", "text": cut(text, limit)}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, HEADER_LIMIT), "emoji": True}}


def section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, SECTION_LIMIT)}


def fields(pairs: list[tuple[str, str]]) -> list[Block]:
    """Label/value pairs as sections of at most 10 fields each."""
    items = [_mrkdwn(f"*{esc(label)}*\n{value}", FIELD_LIMIT) for label, value in pairs]
    return [{"type": "section", "fields": items[i:i + MAX_FIELDS]} for i in range(0, len(items), MAX_FIELDS)]


def context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text, SECTION_LIMIT)]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {"type": "button", "text": {"type": "plain_text", "text": cut(text, 75), "emoji": True},
                      "action_id": action_id, "value": value[:2000]}
    if style:
        element["style"] = style
    return {"type": "actions", "elements": [element]}


def mention_text(group_id: str | None) -> str:
    return f"<!subteam^{group_id}>" if group_id else ""


def limit_blocks(blocks: list[Block]) -> list[Block]:
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    return blocks[: MAX_BLOCKS - 1] + [context(f"…{len(blocks) - MAX_BLOCKS + 1} more blocks not shown")]


STATUS_ICONS = {"SUCCESS": "✅", "PASS": "✅", "FAIL": "❌", "FAILED": "❌", "REJECT": "❌", "REJECTED": "❌",
                "PROCESSING": "⏳", "WAIT": "⏳", "EXPIRED": "⌛"}


def status_icon(status: Any) -> str:
    return STATUS_ICONS.get(str(status or "").upper(), "ℹ️")
