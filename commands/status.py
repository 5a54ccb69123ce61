"""`/whalet status`: Whalet connectivity and the backlogs, for "is the bot OK?" in one look."""

from __future__ import annotations

import asyncio
import time

from core.i18n import N_, Translator, translator
from services.approvals import repo
from services.approvals.cards import slack_time
from services.approvals.service import is_frozen
from services.approvals.policy import resolver
from services.approvals.roles import role_name
from services.container import Services
from services.slack.blocks import actions, button, confirm_dialog, finish, section
from services.slack.parking import retry_parked
from services.slack.subcommands import CommandContext, Role, subcommand
from core.clock import parse_iso
from core.storage import digests, inbox, outbox
from services.slack.blocks import esc
from services.whalet_words import explain
from whalet.gateways import money_needs_switch

PING_TIMEOUT_SECONDS = 5.0


async def whalet_line(ctx: CommandContext, t: Translator) -> str:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(ctx.services.whalet.connectivity("whalet-bot status"), PING_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        seconds = round(PING_TIMEOUT_SECONDS)
        return t.gettext(":red_circle: Whalet did not answer within %(seconds)s s.", seconds=seconds)
    except Exception as exc:  # every failure becomes a sentence here, never a traceback
        return t.gettext(":red_circle: Whalet: %(problem)s", problem=esc(explain(exc, t)))
    elapsed = f"{(time.perf_counter() - started) * 1000:.0f}"
    if ctx.services.whalet.protocol.profile == "v1":
        return t.gettext(
            ":large_green_circle: Whalet answers (%(ms)s ms): token obtained, our signature accepted.", ms=elapsed
        )
    return t.gettext(
        ":large_green_circle: Whalet answers (%(ms)s ms): our signature accepted, its signed answer verified.",
        ms=elapsed,
    )


def money_line(ctx: CommandContext, t: Translator | None = None) -> str:
    """The profile, the gateway and the live-money switch, so nobody has to guess which is on."""
    t = t or translator("en")
    whalet = ctx.services.whalet
    where = {"profile": whalet.protocol.profile, "url": esc(whalet.url)}
    if not money_needs_switch(whalet.url):
        return t.gettext(
            "Whalet %(profile)s protocol at `%(url)s`: a test gateway, payouts allowed (no real money moves there).",
            **where,
        )
    if whalet.money_enabled:
        return t.gettext(
            "Whalet %(profile)s protocol at `%(url)s`: :money_with_wings: moving real money is ON "
            "(`money_enabled = true`).",
            **where,
        )
    return t.gettext(
        "Whalet %(profile)s protocol at `%(url)s`: :lock: moving money is OFF; payouts, pays and beneficiary "
        "changes are refused until an administrator sets `money_enabled = true` under `[whalet]` after "
        "`whalet-bot check` passes.",
        **where,
    )


def backlog_lines(ctx: CommandContext, t: Translator | None = None) -> list[str]:
    """What is waiting and what is stuck: the webhook inbox, the Slack outbox, the last digest."""
    t = t or translator("en")
    _ = t.gettext
    with ctx.services.store.read() as db:
        notes = inbox.counts(db)
        queue = outbox.backlog(db)
        last = digests.last_digest(db)
        unreachable = outbox.unreachable_channels(db)
    if notes["parked"]:
        webhooks = _(
            "Webhook inbox: %(backlog)s waiting to be relayed, %(failed)s relayed generically after errors, "
            "%(parked)s unreadable and parked.",
            backlog=notes["backlog"],
            failed=notes["failed"],
            parked=notes["parked"],
        )
    else:
        webhooks = _(
            "Webhook inbox: %(backlog)s waiting to be relayed, %(failed)s relayed generically after errors.",
            backlog=notes["backlog"],
            failed=notes["failed"],
        )
    if last:
        digest = _(
            "Last digest: %(when)s in <#%(channel)s>%(chart)s.",
            when=_when(last),
            channel=last["channel"],
            chart=_chart(last, t),
        )
    else:
        digest = _("Last digest: none yet.")
    lines = [
        webhooks,
        _(
            "Slack outbox: %(pending)s waiting, %(parked)s parked (gave up; need a look).",
            pending=queue["pending"],
            parked=queue["parked"],
        ),
        digest,
    ]
    since = ctx.services.outbox.outage_since
    if since is not None:
        lines.append(
            _(
                ":red_circle: Slack has been failing since %(since)s; messages wait in the outbox and go out "
                "when it answers.",
                since=slack_time(since, "{date_short} {time}"),
            )
        )
    for channel, error in sorted(unreachable.items()):
        lines.append(_(":warning: cannot post to <#%(channel)s>: `%(error)s`", channel=channel, error=error))
    return lines


@subcommand(
    "status",
    aliases=("状态",),
    usage="status",
    summary=N_("health: Whalet connectivity, backlogs, last digest"),
    role=Role.VIEWER,
)
async def status_command(ctx: CommandContext, _: None) -> None:
    t = translator(await ctx.language())
    lines = [await whalet_line(ctx, t), money_line(ctx, t)]
    with ctx.services.store.read() as db:
        open_count = len(repo.open_requests(db))
    if is_frozen(ctx.services):
        lines.append(
            t.ngettext(
                "Approvals: %(n)s open request; :octagonal_sign: payouts are FROZEN.",
                "Approvals: %(n)s open requests; :octagonal_sign: payouts are FROZEN.",
                open_count,
            )
        )
    else:
        lines.append(t.ngettext("Approvals: %(n)s open request.", "Approvals: %(n)s open requests.", open_count))
    lines += backlog_lines(ctx, t)
    title = t.gettext("whalet-bot status")
    blocks = [section(f"*{title}*"), section("\n".join(lines))]
    with ctx.services.store.read() as db:
        parked = outbox.backlog(db)["parked"]
    if parked and ctx.role >= Role.ADMIN:
        blocks.append(
            actions(
                button(
                    t.ngettext("Retry %(n)s parked message", "Retry %(n)s parked messages", parked),
                    RETRY_PARKED_ACTION,
                    "all",
                    confirm=confirm_dialog(
                        t.gettext("Retry parked messages?"),
                        t.gettext(
                            "Only once their cause is fixed (the bot invited, a scope added): they go back in the "
                            "queue and are sent again."
                        ),
                        t.gettext("Retry"),
                    ),
                )
            )
        )
    await ctx.reply(title, finish(blocks))


RETRY_PARKED_ACTION = "outbox_retry_parked"


async def on_retry_parked(services: Services, user_id: str) -> str:
    """The admins' button under `/whalet status`: the role is checked again at the click."""
    locale = await services.locales.locale_of(user_id)
    t = translator(locale)
    role = await resolver(services).role_of(user_id, fresh=True)
    if role < Role.ADMIN:
        return t.gettext(
            "Only admins can put parked messages back in the queue; your role is %(role)s.",
            role=role_name(role, locale),
        )
    ids = retry_parked(services.store, user_id, services.clock.now())
    services.wake_outbox()
    if not ids:
        return t.gettext("No message is parked any more; nothing changed.")
    return t.ngettext(
        "%(n)s parked message back in the queue; they go out in a moment.",
        "%(n)s parked messages back in the queue; they go out in a moment.",
        len(ids),
    )


def _when(digest: dict[str, str]) -> str:
    """When the last digest went out, as a Slack date token (the reader's zone)."""
    try:
        return slack_time(parse_iso(digest["finished_at"]), "{date_short} {time}")
    except (KeyError, TypeError, ValueError):
        return str(digest.get("run_date"))


def _chart(digest: dict[str, str], t: Translator) -> str:
    """The last digest's chart, when it did not make it into the thread (or is still on its way)."""
    if digest.get("chart_state") == "failed":
        if digest.get("chart_error"):
            return t.gettext("; its chart was not uploaded: %(error)s", error=esc(digest["chart_error"]))
        return t.gettext("; its chart was not uploaded: unknown error")
    return t.gettext("; its chart is on its way") if digest.get("chart_state") in ("pending", "uploading") else ""
