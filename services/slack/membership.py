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

from core.i18n import translator
from services.slack.alerts import Alerts

log = logging.getLogger("whalet_bot.membership")
STARTUP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Membership:
    channel: str
    name: str  # the channel's name when Slack told us, else its id
    problem: str | None  # None: a member; else a Slack error or "not_in_channel" / "is_archived"

    def fix(self, bot: str | None = None, locale: str | None = None) -> str:
        """One sentence a Slack admin can act on; ``bot`` is ``@name`` when known. In ``locale``:
        the alerts channel's language for the alert, English for logs and ``whalet-bot check``."""
        _ = translator(locale).gettext
        bot = bot or _("the bot")
        where = f"#{self.name}" if self.name != self.channel else self.channel
        invite = f"/invite {bot}" if bot.startswith("@") else _("/invite and the bot's name")
        if self.problem == "not_in_channel":
            return _(
                "invite %(bot)s to %(where)s: type %(invite)s in the channel (posting works "
                "without it, but recovering a message after a crash needs the channel's history)",
                bot=bot,
                where=where,
                invite=invite,
            )
        if self.problem == "is_archived":
            return _("%(where)s is archived: unarchive it or use another channel in the policy file", where=where)
        if self.problem == "channel_not_found":
            return _(
                "no channel %(channel)s that the bot can see: check the id in the policy file; "
                "for a private channel, invite %(bot)s first",
                channel=self.channel,
                bot=bot,
            )
        if self.problem == "missing_scope":
            return _("the app lacks channels:read / groups:read: reinstall it from app_manifest.yml")
        return _("Slack answered %(problem)s for %(channel)s", problem=self.problem, channel=self.channel)


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
    locale: str | None = None,
) -> list[Membership]:
    """Log and alert each configured channel the bot is not a member of; never stops the start
    (Slack being slow or down at that moment is the outbox's business, not a reason to refuse).
    ``on_workspace`` gets the workspace's address (``https://team.slack.com/``), for links;
    ``locale`` is the alerts channel's language (the log stays English)."""

    async def ask() -> tuple[str | None, list[Membership]]:
        auth = await client.auth_test()
        name, url = auth.get("user"), auth.get("url")
        if on_workspace is not None and isinstance(url, str) and url.startswith("https://"):
            on_workspace(url)
        return (f"@{name}" if name else None), await memberships(client, channels)

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
            translator(locale).gettext(
                ":warning: whalet-bot cannot rely on <#%(channel)s> (%(problem)s): %(fix)s. "
                "`whalet-bot check` re-tests every channel.",
                channel=member.channel,
                problem=member.problem,
                fix=member.fix(bot, locale),
            ),
        )
    return found
