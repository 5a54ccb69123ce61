"""Small things several sub-commands share: which Whalet user to act for, times for Slack."""

from __future__ import annotations

from datetime import datetime

from core.i18n import Later, Translator, translator
from services.approvals.cards import slack_time
from services.slack.subcommands import CommandContext, UsageError


def whalet_user(ctx: CommandContext, requested: str | None) -> str:
    """The Whalet user id to query: ``--user`` if it is one of the configured users, else the default."""
    section = ctx.services.config.whalet
    if requested is not None:
        known = [u.id for u in section.users]
        if known and requested not in known:
            raise UsageError(
                "'%(user)s' is not one of the configured Whalet users (%(known)s)",
                user=requested,
                known=", ".join(known),
            )
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


def refusal_text(exc: Exception, t: Translator) -> str:
    """A refusal's sentence (``Refused``, ``PolicyRefused``) in the reader's language: its argument
    may be a catalog ``Later`` (translated here) or English text made before translations."""
    reason = getattr(exc, "later", None)
    if reason is None and len(exc.args) == 1:
        reason = exc.args[0]
    if isinstance(reason, (Later, str)):
        return t.text(reason)
    return str(exc)
