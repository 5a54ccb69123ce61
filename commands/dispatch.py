"""The one `/whalet` listener: tokenize, find the sub-command, parse, ack, authorise, run.

Order matters (product spec §1): everything that can be decided from the text alone happens
BEFORE the ack, so a typo is answered in the ack itself and never reaches Whalet; everything
slow (role lookup through user groups, Whalet calls) happens after it, inside Slack's 3 s.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from services.approvals.policy import resolver
from services.approvals.roles import Role, no_access, role_name, roles_name
from core.storage import replays
from services.slack.subcommands import CommandContext, UsageError, all_subcommands, find
from services.slack.tokenizer import TokenizeError, tokenize
from commands.args import shown
from services.slack.blocks import esc
from core.i18n import Translator, translator
from services.whalet_words import explain
from whalet.errors import WhaletError

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.commands")
# How long a refusal in the ack may wait for users.info (Slack waits 3 s for the ack; a person
# already asked within the hour costs nothing).
ACK_LANGUAGE_SECONDS = 1.0


async def let_the_ack_out(services: Services) -> None:
    """Bolt (async, process_before_response=False) sends the HTTP ack only when its runner, polling
    every 10 ms, sees that ack() was called. A handler that goes straight on to CPU work (Whalet's
    RSA signing) keeps the event loop busy, so under a burst every ack waits for everyone's crypto.
    Pausing a few polls lets every ack of a burst go out first (measured with bench/ack_latency.py:
    15 ms left a tail of acks behind 200 handlers' crypto; 40 ms, the default of
    ``WHALET_BOT_ACK_FLUSH_SECONDS``, keeps p99 under 250 ms)."""
    await asyncio.sleep(services.settings.whalet_bot_ack_flush_seconds)


def sentence(text: str, stop: str = ".") -> str:
    """A refusal as a sentence: capitalised, ended with the language's full stop (``stop``)."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!", ")", "`", "。", "？", "！", "）")) else text + stop


def usage_error(message: str, usage: str, t: Translator | None = None) -> str:
    """A refusal quotes what was typed, so it is escaped (`<!channel>` must stay text)."""
    t = t or translator("en")
    stop = "。" if t.locale == "zh-Hans" else "."
    return t.gettext("%(reason)s\nUsage: `/whalet %(usage)s`", reason=esc(sentence(message, stop)), usage=usage)


def unknown_subcommand(name: str, t: Translator | None = None) -> str:
    t = t or translator("en")
    known = [entry.name for entry in all_subcommands()]
    guess = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    name = esc(shown(name))
    if guess:
        return t.gettext(
            "`%(name)s` is not a /whalet sub-command. Did you mean `%(guess)s`? See `/whalet help`.",
            name=name,
            guess=guess[0],
        )
    names = ", ".join(f"`{entry}`" for entry in known)
    return t.gettext(
        "`%(name)s` is not a /whalet sub-command. Try one of %(names)s, or `/whalet help`.", name=name, names=names
    )


async def handle_command(
    services: Services, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> None:
    name, outcome = "unknown", "error"
    try:
        name, outcome = await _run_command(services, ack, command, respond, client)
    finally:
        services.metrics.commands.labels(name, outcome).inc()


async def _run_command(
    services: Services, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> tuple[str, str]:
    """Runs one /whalet command; returns (sub-command, outcome) for the metrics."""
    user_id = command.get("user_id", "")

    async def quick() -> Translator:
        """A refusal in the ack speaks the person's language if Slack tells it within
        ``ACK_LANGUAGE_SECONDS`` (once an hour per person), else the language last heard."""
        return translator(await services.locales.locale_within(user_id, ACK_LANGUAGE_SECONDS))

    try:
        tokens = tokenize(command.get("text") or "")
    except TokenizeError as exc:
        t = await quick()
        reason = t.gettext("I could not read that: %(reason)s", reason=exc.reason)
        await ack(text=usage_error(reason, "help", t), response_type="ephemeral")
        return "unknown", "bad_input"
    name = tokens[0].lower() if tokens else "help"
    entry = find(name)
    if entry is None:
        await ack(text=unknown_subcommand(tokens[0], await quick()), response_type="ephemeral")
        return "unknown", "bad_input"
    try:
        parsed = entry.parse(tokens[1:])
    except UsageError as exc:
        t = await quick()
        await ack(text=usage_error(exc.text(t), entry.usage, t), response_type="ephemeral")
        return entry.name, "bad_input"
    except Exception:  # a parser bug must still be answered: an exception here is Slack's error page
        log.exception("/whalet %s: parsing failed", entry.name)
        t = await quick()
        await ack(
            text=usage_error(t.gettext("I could not read those words"), entry.usage, t), response_type="ephemeral"
        )
        return entry.name, "error"
    await ack()
    await let_the_ack_out(services)
    role = await resolver(services).role_of(user_id, fresh=entry.reads_role_fresh)
    ctx = CommandContext(
        services=services,
        user_id=user_id,
        channel_id=command.get("channel_id", ""),
        args=tokens[1:],
        trigger_id=command.get("trigger_id"),
        respond=_respond(services, command, respond),
        client=client,
        role=role,
        team_id=command.get("team_id"),
        response_url=command.get("response_url"),
        subcommand=entry.name,
    )
    if role is Role.NONE and entry.role > Role.NONE:  # nothing for them, not even a Whalet call
        await ctx.reply(no_access(services.config.roles, await ctx.language()))
        return entry.name, "forbidden"
    if role < entry.role:
        locale = await ctx.language()
        await ctx.reply(
            translator(locale).gettext(
                "`/whalet %(command)s` is for %(roles)s and above; your role is %(role)s.",
                command=entry.name,
                roles=roles_name(entry.role, locale),
                role=role_name(role, locale),
            )
        )
        return entry.name, "forbidden"
    if entry.creates_request and ctx.trigger_id:
        with services.store.transaction() as db:
            first, earlier = replays.claim(db, ctx.trigger_id, services.clock.now())
        if not first:
            log.warning("/whalet %s: a replayed copy of one command (same trigger_id) ignored", entry.name)
            _ = translator(await ctx.language()).gettext
            if earlier:
                answer = _(
                    "This command was already received once; its request is `%(request)s`. Nothing new was requested.",
                    request=earlier,
                )
            else:
                answer = _(
                    "This command was already received once; its request is still being made. "
                    "Nothing new was requested."
                )
            await ctx.reply(answer)
            return entry.name, "replay"
    if entry.creates_request:  # its outcome DM is written in a transaction: know their language first
        await ctx.language()
    try:
        await entry.handler(ctx, parsed)
    except UsageError as exc:  # found after the ack, e.g. an unknown beneficiary nickname
        t = translator(await ctx.language())
        await ctx.reply(usage_error(exc.text(t), entry.usage, t))
        return entry.name, "bad_input"
    except WhaletError as exc:
        log.info("/whalet %s: %s", entry.name, exc)
        await ctx.reply(esc(explain(exc, translator(await ctx.language()))))  # Whalet's detail is text, not mrkdwn
        return entry.name, "whalet_error"
    except Exception as exc:
        log.exception("/whalet %s failed", entry.name)
        await ctx.reply(esc(explain(exc, translator(await _language(ctx)))))
        return entry.name, "error"
    return entry.name, "ok"


async def _language(ctx: CommandContext) -> str:
    """The person's language for the answer to a failure: never a second failure over it."""
    try:
        return await ctx.language()
    except Exception:
        return ctx.services.locales.cached(ctx.user_id)


def _respond(services: Services, command: dict[str, Any], bolt_respond: AsyncRespond) -> Any:
    """Answers go to the command's response_url over the pooled session (see services/slack/responder.py)."""
    url = command.get("response_url")
    return services.responder.bound(url) if url else bolt_respond
