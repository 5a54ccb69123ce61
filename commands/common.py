"""Small things several sub-commands share: which Whalet user to act for, times for Slack."""

from __future__ import annotations

from datetime import datetime

from core.i18n import translator
from services.approvals.cards import slack_time
from services.slack.subcommands import CommandContext, UsageError


def whalet_user(ctx: CommandContext, requested: str | None) -> str:
    """The Whalet user id to query: ``--user`` if it is one of the configured users, else the default."""
    section = ctx.services.config.whalet
    if requested is not None:
        known = [u.id for u in section.users]
        if known and requested not in known:
            raise UsageError(f"'{requested}' is not one of the configured Whalet users ({', '.join(known)})")
        return requested
    if section.user_id is None:
        raise UsageError("no Whalet user is configured; set [whalet] default_user_id in whalet-bot.toml")
    return section.user_id


def countdown(expires: datetime, now: datetime, locale: str | None = None) -> str:
    _ = translator(locale).gettext
    seconds = int((expires - now).total_seconds())
    if seconds <= 0:
        return _("expired")
    if seconds < 120:
        return _("expires in %(seconds)s s", seconds=seconds)
    return _("expires in %(minutes)s min", minutes=seconds // 60)


def at(moment: datetime) -> str:
    return slack_time(moment)
