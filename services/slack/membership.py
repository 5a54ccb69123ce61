"""Is the bot a member of every channel it posts to? Asked at start-up and by ``whalet-bot check``.

``chat:write.public`` lets the bot post into a public channel it never joined, so a missing
invitation goes unnoticed until the day the outbox must read that channel's history to recover
from a crash (history needs membership) and has to park the message instead. Asking
``conversations.info`` (``channels:read`` / ``groups:read``) up front turns that into a line in
the start-up log, an alert, and a FAIL in ``check`` with the ``/invite`` to type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from services.slack.alerts import Alerts

log = logging.getLogger("whalet_bot.membership")
STARTUP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Membership:
    channel: str
    name: str  # the channel's name when Slack told us, else its id
    problem: str | None  # None: a member; else a Slack error or "not_in_channel" / "is_archived"

    def fix(self, bot: str = "the bot") -> str:
        """One sentence a Slack admin can act on; ``bot`` is ``@name`` when known."""
        where = f"#{self.name}" if self.name != self.channel else self.channel
        invite = f"/invite {bot}" if bot.startswith("@") else "/invite and the bot's name"
        if self.problem == "not_in_channel":
            return (
                f"invite {bot} to {where}: type {invite} in the channel (posting works "
                "without it, but recovering a message after a crash needs the channel's history)"
            )
        if self.problem == "is_archived":
            return f"{where} is archived: unarchive it or use another channel in the policy file"
        if self.problem == "channel_not_found":
            return (
                f"no channel {self.channel} that the bot can see: check the id in the policy file; "
                f"for a private channel, invite {bot} first"
            )
        if self.problem == "missing_scope":
            return "the app lacks channels:read / groups:read: reinstall it from app_manifest.yml"
        return f"Slack answered {self.problem} for {self.channel}"


async def memberships(client: AsyncWebClient, channels: Iterable[str]) -> list[Membership]:
    """One ``conversations.info`` per channel; DMs (user ids) need no membership."""
    found = []
    for channel in sorted(set(channels)):
        if channel[:1] in ("U", "W", "D"):
            continue
        try:
            info = (await client.conversations_info(channel=channel))["channel"]
        except SlackApiError as exc:
            found.append(Membership(channel, channel, str(exc.response.get("error") or "error")))
            continue
        name = str(info.get("name") or channel)
        problem = "is_archived" if info.get("is_archived") else None if info.get("is_member") else "not_in_channel"
        found.append(Membership(channel, name, problem))
    return found


async def report_at_startup(
    client: AsyncWebClient,
    channels: Iterable[str],
    alerts: Alerts,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
    on_workspace: Callable[[str], None] | None = None,
) -> list[Membership]:
    """Log and alert each configured channel the bot is not a member of; never stops the start
    (Slack being slow or down at that moment is the outbox's business, not a reason to refuse).
    ``on_workspace`` gets the workspace's address (``https://team.slack.com/``), for links."""

    async def ask() -> tuple[str, list[Membership]]:
        auth = await client.auth_test()
        name, url = auth.get("user"), auth.get("url")
        if on_workspace is not None and isinstance(url, str) and url.startswith("https://"):
            on_workspace(url)
        return (f"@{name}" if name else "the bot"), await memberships(client, channels)

    try:
        bot, found = await asyncio.wait_for(ask(), timeout)
    except Exception as exc:  # network, timeout: the next start or `check` will tell
        log.warning(
            "could not check channel membership at start-up: %s",
            type(exc).__name__,
            extra={"event": "membership_unchecked"},
        )
        return []
    for member in found:
        if member.problem is None:
            continue
        log.warning(
            "channel %s: %s; %s",
            member.channel,
            member.problem,
            member.fix(bot),
            extra={"event": "membership_problem", "channel": member.channel},
        )
        alerts.raise_alert(
            f"membership:{member.channel}",
            f":warning: whalet-bot cannot rely on <#{member.channel}> ({member.problem}): "
            f"{member.fix(bot)}. `whalet-bot check` re-tests every channel.",
        )
    return found
