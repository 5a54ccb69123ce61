"""`/whalet status`: Whalet connectivity and the backlogs, for "is the bot OK?" in one look."""

from __future__ import annotations

import asyncio
import time

from core.i18n import N_
from services.approvals import repo
from services.approvals.cards import slack_time
from services.approvals.service import is_frozen
from services.approvals.policy import resolver
from services.container import Services
from services.slack.blocks import actions, button, confirm_dialog, finish, section
from services.slack.parking import retry_parked
from services.slack.subcommands import CommandContext, Role, subcommand
from core.clock import parse_iso
from core.storage import digests, inbox, outbox
from services.slack.blocks import esc
from whalet.errors import explain
from whalet.gateways import money_needs_switch

PING_TIMEOUT_SECONDS = 5.0


async def whalet_line(ctx: CommandContext) -> str:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(ctx.services.whalet.connectivity("whalet-bot status"), PING_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return f":red_circle: Whalet did not answer within {PING_TIMEOUT_SECONDS:.0f} s."
    except Exception as exc:  # every failure becomes a sentence here, never a traceback
        return f":red_circle: Whalet: {esc(explain(exc))}"
    proven = (
        "token obtained, our signature accepted"
        if ctx.services.whalet.protocol.profile == "v1"
        else "our signature accepted, its signed answer verified"
    )
    return f":large_green_circle: Whalet answers ({(time.perf_counter() - started) * 1000:.0f} ms): {proven}."


def money_line(ctx: CommandContext) -> str:
    """The profile, the gateway and the live-money switch, so nobody has to guess which is on."""
    whalet = ctx.services.whalet
    where = f"Whalet {whalet.protocol.profile} protocol at `{esc(whalet.url)}`"
    if not money_needs_switch(whalet.url):
        return f"{where}: a test gateway, payouts allowed (no real money moves there)."
    if whalet.money_enabled:
        return f"{where}: :money_with_wings: moving real money is ON (`money_enabled = true`)."
    return (
        f"{where}: :lock: moving money is OFF; payouts, pays and beneficiary changes are refused "
        "until an administrator sets `money_enabled = true` under `[whalet]` after `whalet-bot check` passes."
    )


def backlog_lines(ctx: CommandContext) -> list[str]:
    """What is waiting and what is stuck: the webhook inbox, the Slack outbox, the last digest."""
    with ctx.services.store.read() as db:
        notes = inbox.counts(db)
        queue = outbox.backlog(db)
        last = digests.last_digest(db)
        unreachable = outbox.unreachable_channels(db)
    lines = [
        f"Webhook inbox: {notes['backlog']} waiting to be relayed, {notes['failed']} relayed generically after errors"
        + (f", {notes['parked']} unreadable and parked." if notes["parked"] else "."),
        f"Slack outbox: {queue['pending']} waiting, {queue['parked']} parked (gave up; need a look).",
        f"Last digest: {_when(last)} in <#{last['channel']}>{_chart(last)}." if last else "Last digest: none yet.",
    ]
    since = ctx.services.outbox.outage_since
    if since is not None:
        lines.append(
            f":red_circle: Slack has been failing since {slack_time(since, '{date_short} {time}')}; "
            "messages wait in the outbox and go out when it answers."
        )
    for channel, error in sorted(unreachable.items()):
        lines.append(f":warning: cannot post to <#{channel}>: `{error}`")
    return lines


@subcommand(
    "status",
    aliases=("状态",),
    usage="status",
    summary=N_("health: Whalet connectivity, backlogs, last digest"),
    role=Role.VIEWER,
)
async def status_command(ctx: CommandContext, _: None) -> None:
    lines = [await whalet_line(ctx), money_line(ctx)]
    with ctx.services.store.read() as db:
        open_count = len(repo.open_requests(db))
    lines.append(
        f"Approvals: {open_count} open request{'s' if open_count != 1 else ''}"
        + ("; :octagonal_sign: payouts are FROZEN." if is_frozen(ctx.services) else ".")
    )
    lines += backlog_lines(ctx)
    blocks = [section("*whalet-bot status*"), section("\n".join(lines))]
    with ctx.services.store.read() as db:
        parked = outbox.backlog(db)["parked"]
    if parked and ctx.role >= Role.ADMIN:
        blocks.append(
            actions(
                button(
                    f"Retry {parked} parked message{'s' if parked != 1 else ''}",
                    RETRY_PARKED_ACTION,
                    "all",
                    confirm=confirm_dialog(
                        "Retry parked messages?",
                        "Only once their cause is fixed (the bot invited, a scope added): they go back in the "
                        "queue and are sent again.",
                        "Retry",
                    ),
                )
            )
        )
    await ctx.reply("whalet-bot status", finish(blocks))


RETRY_PARKED_ACTION = "outbox_retry_parked"


async def on_retry_parked(services: Services, user_id: str) -> str:
    """The admins' button under `/whalet status`: the role is checked again at the click."""
    role = await resolver(services).role_of(user_id, fresh=True)
    if role < Role.ADMIN:
        return f"Only admins can put parked messages back in the queue; your role is {role.label}."
    ids = retry_parked(services.store, user_id, services.clock.now())
    services.wake_outbox()
    if not ids:
        return "No message is parked any more; nothing changed."
    return f"{len(ids)} parked message{'s' if len(ids) != 1 else ''} back in the queue; they go out in a moment."


def _when(digest: dict[str, str]) -> str:
    """When the last digest went out, as a Slack date token (the reader's zone)."""
    try:
        return slack_time(parse_iso(digest["finished_at"]), "{date_short} {time}")
    except (KeyError, TypeError, ValueError):
        return str(digest.get("run_date"))


def _chart(digest: dict[str, str]) -> str:
    """The last digest's chart, when it did not make it into the thread (or is still on its way)."""
    if digest.get("chart_state") == "failed":
        return f"; its chart was not uploaded: {esc(digest.get('chart_error') or 'unknown error')}"
    return "; its chart is on its way" if digest.get("chart_state") in ("pending", "uploading") else ""
