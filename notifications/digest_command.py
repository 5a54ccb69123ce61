"""`/whalet digest now | schedule HH:MM TZ #channel | off #channel`: run or schedule digests.

The handler is thin: it checks who may do what, then calls ``notifications.digest``, which owns
the digest's content, its schedules table and the scheduler jobs (so the sub-command lives with
the digest, and registers into the shared sub-command table like every other). Schedules typed here are
persisted (and audited) so they survive a restart exactly like the ones in the config file.
Posting a digest into the channel the command was typed in is open to everyone who may see
balances; choosing another channel or changing schedules is for admins.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from core.config import DigestSchedule
from core.config_fields import FieldError
from core.i18n import N_, translator
from notifications import digest as digests
from services.approvals.roles import role_name
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.tokenizer import is_channel_id

USAGE = "digest now [#channel] | digest schedule HH:MM TZ #channel | digest off #channel | digest list"


@dataclass(frozen=True)
class DigestRequest:
    action: str  # "now", "schedule", "off", "list"
    channel: str | None = None
    schedule: DigestSchedule | None = None


def _channel(word: str) -> str:
    if is_channel_id(word):
        return word
    raise UsageError(
        "'%(word)s' is not a channel Slack linked; pick it from the #channel autocomplete (and invite the bot to it)",
        word=word,
    )


def parse_digest(args: list[str]) -> DigestRequest:
    """Pure: runs before the ack, so a typo never reaches the scheduler or Whalet."""
    if not args:
        raise UsageError("say what to do: now, schedule, off or list")
    action, rest = args[0].lower(), args[1:]
    if action == "list" and not rest:
        return DigestRequest("list")
    if action == "now" and len(rest) <= 1:
        return DigestRequest("now", _channel(rest[0]) if rest else None)
    if action == "off" and len(rest) == 1:
        return DigestRequest("off", _channel(rest[0]))
    if action == "schedule" and len(rest) == 3:
        channel = _channel(rest[2])
        try:
            schedule = DigestSchedule(channel=channel, time=rest[0], timezone=rest[1])
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            error = first.get("ctx", {}).get("error")
            if isinstance(error, FieldError):
                raise UsageError(error.reason) from None
            raise UsageError(first["msg"].removeprefix("Value error, ")) from None
        return DigestRequest("schedule", channel, schedule)
    if action in ("now", "off", "schedule", "list"):
        raise UsageError("wrong number of words after 'digest %(action)s'", action=action)
    raise UsageError("'%(word)s' is not a digest action; use now, schedule, off or list", word=args[0])


@subcommand(
    "digest",
    usage=USAGE,
    summary=N_("post the balance digest now, or schedule it daily"),
    role=Role.VIEWER,
    parse=parse_digest,
    fresh_role=True,  # schedule / off are admin actions
)
async def digest_command(ctx: CommandContext, request: DigestRequest) -> None:
    needs_admin = request.action in ("schedule", "off") or (
        request.action == "now" and request.channel not in (None, ctx.channel_id)
    )
    if needs_admin and ctx.role < Role.ADMIN:
        locale = await ctx.language()
        await ctx.reply(
            translator(locale).gettext(
                "Only admins can do that (you are a %(role)s). You can run `/whalet digest now` in this channel.",
                role=role_name(ctx.role, locale),
            )
        )
        return
    if request.action == "now" and not await ctx.may_share("`digest now`"):
        return
    services = ctx.services
    _ = translator(await ctx.language()).gettext  # a reply: the person's language
    if request.action == "list":
        lines = [
            _(
                "• %(time)s %(zone)s in <#%(channel)s> (%(origin)s)",
                time=s.time,
                zone=s.timezone,
                channel=s.channel,
                origin=_(origin),
            )
            for s, origin in digests.all_schedules(services)
        ]
        await ctx.reply(_("Digest schedules:") + "\n" + "\n".join(lines) if lines else _("No digest is scheduled."))
    elif request.action == "now":
        channel = request.channel or ctx.channel_id
        await digests.run_digest_now(services, channel, actor=ctx.user_id)
        await ctx.reply(_("The digest is on its way to <#%(channel)s>.", channel=channel))
    elif request.action == "schedule":
        assert request.schedule is not None
        added = digests.add_schedule(services, request.schedule, actor=ctx.user_id)
        values = {"time": request.schedule.time, "zone": request.schedule.timezone, "channel": request.channel}
        await ctx.reply(
            _("Scheduled: a digest every day at %(time)s %(zone)s in <#%(channel)s>.", **values)
            if added
            else _("A digest at %(time)s %(zone)s in <#%(channel)s> was already scheduled.", **values)
        )
    else:
        assert request.channel is not None
        removed, kept = digests.remove_schedules(services, request.channel, actor=ctx.user_id)
        text = (
            _("Removed %(count)s digest schedule(s) for <#%(channel)s>.", count=removed, channel=request.channel)
            if removed
            else _("No digest schedule set with `/whalet digest schedule` for <#%(channel)s>.", channel=request.channel)
        )
        if kept:
            text += " " + _(
                "%(schedules)s come(s) from the config file; remove it there.",
                schedules=", ".join(f"{s.time} {s.timezone}" for s in kept),
            )
        await ctx.reply(text)
