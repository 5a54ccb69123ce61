"""Slack's rules the stand-in enforces: payload limits, OAuth scopes and channel membership.

A lenient fake hides exactly the bugs that lose messages in production: 51 blocks, a modal whose
``private_metadata`` is too long, a history lookup in a channel the bot never joined, a call the
app has no scope for. So every message and view payload is parsed with slack_sdk's own
``Block``/``View`` models (whose ``to_dict`` runs the SDK's limit checks) and counted against
Slack's caps, every method needs the scopes ``app_manifest.yml`` grants, and posting and reading
follow the bot's channel membership the way Slack documents it:

- posting into a public channel the bot has not joined needs ``chat:write.public``; reading its
  history is ``not_in_channel`` whatever the scopes;
- a private channel the bot is not in does not exist for it (``channel_not_found``);
- an archived channel refuses posts (``is_archived``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.manifest import locate_manifest
from devkit.slack_standin.manifest_scopes import scopes_in

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000  # chat.postMessage answers msg_too_long beyond this
MAX_BLOCKS_TEXT = 12_000  # ... and msg_blocks_too_long when its blocks hold more text than this


def blocks_text(blocks: Any) -> int:
    """Characters of text in the blocks as sent (every ``text`` string, fields and contexts too),
    counted independently of the bot's own measure so a wrong one in the bot is caught here."""
    if isinstance(blocks, list):
        return sum(blocks_text(item) for item in blocks)
    if isinstance(blocks, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else blocks_text(v) for k, v in blocks.items())
    return 0


MAX_PRIVATE_METADATA = 3000

# Scopes per method. A tuple of alternatives per conversation type: C public, G private,
# D direct message; "*" for methods that do not depend on the conversation.
_HISTORY = {"C": "channels:history", "G": "groups:history", "D": "im:history"}
_READ = {"C": "channels:read", "G": "groups:read", "D": "im:read"}
METHOD_SCOPES: dict[str, dict[str, str]] = {
    "chat.postMessage": {"*": "chat:write"},
    "chat.update": {"*": "chat:write"},
    "chat.delete": {"*": "chat:write"},
    "chat.postEphemeral": {"*": "chat:write"},
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
    "conversations.info": _READ,
    "conversations.open": {"*": "im:write"},
    "usergroups.users.list": {"*": "usergroups:read"},
    "users.info": {"*": "users:read"},
    "files.getUploadURLExternal": {"*": "files:write"},
    "files.completeUploadExternal": {"*": "files:write"},
    "files.info": {"*": "files:read"},
}
POSTING = frozenset({"chat.postMessage", "chat.postEphemeral"})
READING = frozenset({"conversations.history", "conversations.replies"})


def manifest_scopes(text: str | None = None) -> frozenset[str]:
    """The bot scopes ``app_manifest.yml`` asks for: what an install of this app is granted."""
    return scopes_in(text if text is not None else locate_manifest())


def kind_of(channel: str) -> str:
    """C public channel, G private channel, D direct message (a user id opens one)."""
    return "D" if channel[:1] in ("D", "U", "W") else channel[:1]


@dataclass
class Channel:
    """What the workspace knows about one conversation, as far as the bot is concerned."""

    private: bool = False
    member: bool = True  # unknown channels: the bot was invited (tests say otherwise explicitly)
    archived: bool = False


def needed_scope(method: str, channel: str | None) -> str | None:
    table = METHOD_SCOPES.get(method)
    if table is None:
        return None
    if "*" in table:
        return table["*"]
    return table.get(kind_of(channel or "C"))


def access_error(method: str, channel: Channel, scopes: frozenset[str], kind: str) -> str | None:
    """Slack's answer when the bot may not post into / read ``channel``; None when it may."""
    if kind == "D":
        return None  # the bot's own DM with a person: always a member
    if not channel.member and channel.private:
        return "channel_not_found"  # a private channel the bot is not in is invisible to it
    if method in POSTING:
        if channel.archived:
            return "is_archived"
        if not channel.member and "chat:write.public" not in scopes:
            return "not_in_channel"
    if method in READING and not channel.member:
        return "not_in_channel"
    return None


def blocks_error(blocks: Any, limit: int = MAX_MESSAGE_BLOCKS) -> str | None:
    """Why Slack would refuse these blocks, or None. Parsed with slack_sdk's models."""
    if blocks in (None, "", []):
        return None
    if not isinstance(blocks, list):
        return "blocks must be a JSON array"
    if len(blocks) > limit:
        return f"{len(blocks)} blocks, more than the {limit} allowed"
    for index, raw in enumerate(blocks):
        if not isinstance(raw, dict):
            return f"block {index} is not an object"
        try:
            block = Block.parse(raw)
            if block is None:
                return f"block {index}: unknown type {raw.get('type')!r}"
            block.to_dict()
        except (SlackObjectFormationError, KeyError, TypeError, ValueError, AttributeError) as exc:
            return f"block {index} ({raw.get('type')}): {exc}"
    return None


def view_error(view: Any) -> str | None:
    """Why Slack would refuse this view (modal or home tab), or None."""
    if not isinstance(view, dict):
        return "view must be a JSON object"
    if error := blocks_error(view.get("blocks") or [], MAX_VIEW_BLOCKS):
        return error
    if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        return f"private_metadata longer than {MAX_PRIVATE_METADATA} characters"
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return str(exc)
    return None
