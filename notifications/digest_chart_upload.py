"""Uploading each digest's chart into its thread, once, after the digest is in Slack.

The digest run marks its chart ``pending`` in the transaction that queues the message. This loop
(polling a partial index once a second) claims the chart (``uploading``, with this process
as holder and a lease, committed), has a child process draw the PNG while the outbox posts the
message (``digest_chart_process``: matplotlib never enters this process), waits for the message's ``ts`` (the thread), uploads the PNG with ``files_upload_v2``
into the thread, and records ``done`` with the file id, or ``failed`` with the reason. A message
still queued after a minute (Slack rate-limiting the channel) hands the chart back for later. A chart failure never touches the digest: the message
and its table are already posted, and the failure is logged and kept on the run.

What a restart guarantees: a chart left ``uploading`` by a process that died (its lease ran
out, or on SQLite at once) is looked for in the thread first (``conversations.replies``; the
file is named after the run): found, it is recorded as done; not found, it is uploaded; if the
thread cannot be read, it is marked failed rather than risk a second copy. So: exactly once when
the thread is readable, at most once otherwise. (A kill between Slack's upload and its sharing
step leaves an unshared file, which nobody sees; the redo shares a new one.)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackClientError

from core.clock import SYSTEM_CLOCK
from core.clock import iso
from core.faultpoints import fault_point
from core.i18n import translator
from core.storage import digests
from notifications import digest_chart_process as digest_chart
from notifications.digest_render import DIGEST_REF
from services.slack.thread_files import find_in_thread, slack_reason, wait_for_parent

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.digest")
CHART_POLL_SECONDS = 1.0  # a daily chart a second later costs nothing; an idle replica asks once a second
CHART_LEASE_SECONDS = 120.0


def chart_filename(run_id: int) -> str:
    return f"whalet-digest-{run_id}.png"


def _now() -> str:
    return SYSTEM_CLOCK.now().isoformat(timespec="milliseconds")  # leases are real time, like the outbox's


async def chart_loop(services: Services) -> None:
    while True:
        await upload_due(services)
        await asyncio.sleep(CHART_POLL_SECONDS)


async def upload_due(services: Services) -> list[str]:
    """One pass over the charts waiting; returns each outcome (for tests and logs)."""
    with services.store.read() as db:
        due = digests.charts_due(db)
    return [await upload_chart(services, run) for run in due]


async def chart_png(services: Services, channel: str) -> bytes:
    """The chart of ``channel``'s last 30 days of digests (business clock), drawn in a child process."""
    since = iso(services.clock.now() - timedelta(days=digest_chart.CHART_DAYS))
    with services.store.read() as db:
        history = digests.snapshot_history(db, channel, since)
    # The picture's words are the channel's language when the host has a CJK font to draw them
    # (the drawing program checks), else English; its title and alt text in Slack always are.
    return await digest_chart.draw_in_child(
        digest_chart.series(history),
        "",
        services.settings.whalet_bot_chart_timeout_seconds,
        services.locales.channel(channel),
    )


async def upload_chart(services: Services, run: dict[str, Any]) -> str:
    run_id, channel = int(run["id"]), str(run["channel"])
    held = run["state"] == "uploading"
    dead_holder = services.store.exclusive and run["owner"] != services.instance  # SQLite: the only process
    if held and (run["lease_until"] or "") >= _now() and not dead_holder:
        return "busy"  # being uploaded right now (by this process or a live replica)
    until = (SYSTEM_CLOCK.now() + timedelta(seconds=CHART_LEASE_SECONDS)).isoformat(timespec="milliseconds")
    with services.store.transaction() as db:
        if not digests.claim_chart(
            db, run_id, run["state"], run["owner"], run["lease_until"], me=services.instance, until=until
        ):
            return "busy"
    fault_point("digest.chart_claimed")
    try:
        png = await chart_png(services, channel)  # while the outbox posts the digest
    except Exception as exc:  # a chart must never stop the digest (digest_chart_process.ChartFailed says why)
        reason = str(exc) if isinstance(exc, digest_chart.ChartFailed) else slack_reason(exc)
        return _finish(services, run_id, None, f"the chart could not be drawn: {reason}")
    parent = await wait_for_parent(services, f"{DIGEST_REF}:{run_id}")
    if parent == "later":
        with services.store.transaction() as db:
            digests.release_chart(db, run_id, services.instance)
        return "waiting"
    if parent is None:
        return _finish(services, run_id, None, "the digest message was not posted (parked), so it has no thread")
    thread_ts = parent[1]
    t = translator(services.locales.channel(channel))  # the chart is part of the channel's digest
    if held:  # a process died mid-upload: is the chart already in the thread?
        try:
            found = await find_in_thread(services, channel, thread_ts, chart_filename(run_id))
        except SlackClientError as exc:
            return _finish(
                services,
                run_id,
                None,
                f"could not check the thread for an earlier upload ({slack_reason(exc)}); not uploading a second copy",
            )
        if found:
            return _finish(services, run_id, found, None)
    try:
        answer = await services.slack.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            file=png,
            filename=chart_filename(run_id),
            title=t.gettext("Balances, last %(days)s days", days=digest_chart.CHART_DAYS),
            alt_txt=t.gettext(
                "Available balances per currency over the last %(days)s days of digests", days=digest_chart.CHART_DAYS
            ),
        )
        fault_point("digest.chart_uploaded")
        return _finish(services, run_id, str((answer.get("file") or {}).get("id") or ""), None)
    except Exception as exc:  # a chart must never stop the digest, which is already posted
        return _finish(services, run_id, None, slack_reason(exc))


def _finish(services: Services, run_id: int, file_id: str | None, error: str | None) -> str:
    with services.store.transaction() as db:
        recorded = digests.finish_chart(db, run_id, services.instance, file_id=file_id, error=error)
    if error:
        log.warning("digest chart not uploaded: %s", error, extra={"event": "digest_chart_failed", "run": run_id})
        return "failed"
    log.info("digest chart in its thread", extra={"event": "digest_chart_uploaded", "run": run_id})
    return "done" if recorded else "busy"
