"""The balance digest: what it gathers, and how each day's run happens exactly once.

Exactly once per (schedule, local date), whatever the scheduler does: APScheduler 3 fires a job
at most once and forgets it if the process dies mid-run, and after a restart it only knows the
NEXT fire time. So the schedule is a clock, and ``digest_runs`` is the truth:

- a run first claims its (schedule_key, run_date) row; a row already ``done`` means skip; a row
  still ``running`` after a crash is run again (the post and the ``done`` mark share one
  transaction, so the redo cannot post twice);
- ``catch_up`` (at start, then every minute) runs any schedule whose fire time today passed less
  than ``misfire_grace_seconds`` ago and has no done row: a restart neither skips nor repeats.
  A fire time from before the schedule was first seen is not caught up (fresh install at 09:30).

What is asked of Whalet, and how concurrently, is ``digest_fetch``.

The message, the thread replies with the full table (when it does not fit) and the chart's
"to upload" mark are written in the one transaction that marks the run done; the chart itself
is uploaded by ``digest_chart_upload`` once Slack has the message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from zoneinfo import ZoneInfo

from core.clock import iso
from core.faultpoints import fault_point
from core.i18n import translator
from core.storage import digests
from services.approvals.policy import day_zone
from services.slack.queue import enqueue_post
from notifications import digest_data, digest_render, digest_schedules
from notifications.digest_fetch import backing_off, fetch
from notifications.digest_schedules import all_schedules, schedule_key

if TYPE_CHECKING:
    from core.config import DigestSchedule
    from services.container import Services

__all__ = [
    "add_schedule",
    "all_schedules",
    "backing_off",
    "catch_up",
    "remove_schedules",
    "run_digest",
    "run_digest_now",
    "schedule_digests",
]

log = logging.getLogger("whalet_bot.digest")
CATCH_UP_EVERY_SECONDS = 60.0
DIGEST_LEASE_FACTOR = 4  # a digest run's lease: four claim leases (two minutes by default)
DIGEST_REF = digest_render.DIGEST_REF  # the digest's message ref: ("digest", run id)
remove_schedules = digest_schedules.remove_schedules


def _lease(services: Services) -> timedelta:
    """Long enough to gather a digest (many Whalet calls, spaced out when rate limited); if a
    replica takes over a run that was only slow, the locked ``done`` check still lets one post."""
    return timedelta(seconds=services.settings.whalet_bot_claim_lease_seconds * DIGEST_LEASE_FACTOR)


async def run_digest(services: Services, channel: str, key: str, run_date: str) -> str:
    """Run one digest unless it already ran: returns "posted", "skipped" or "running"."""
    if not services.in_flight.claim(("digest", key, run_date)):
        return "running"
    try:
        with services.store.transaction() as db:
            run_id = digests.claim_run(
                db,
                key,
                run_date,
                channel,
                iso(services.clock.now()),
                owner=services.instance,
                lease_until=iso(services.clock.now() + _lease(services)),
                take_over_live=services.store.exclusive,
            )
        if run_id is None:
            return "skipped"
        fault_point("digest.claimed")  # the run is claimed ('running'), its post not yet enqueued
        now = services.clock.now()
        fetched = await fetch(services, now)
        with services.store.transaction() as db:
            if digests.run_is_done(db, run_id):  # another process finished it meanwhile
                return "skipped"
            content = digest_data.gather(
                db,
                run_id,
                channel,
                now,
                fetched.balances,
                fetched.problems,
                fetched.lookups,
                services.config,
                fetched.rates,
            )
            # A scheduled digest stands for its schedule's local date; `digest now` for today in the
            # channel's schedule's zone, else the policy's day_zone (never UTC's date, which is
            # yesterday before 08:00 in Shanghai).
            zone = digest_schedules.title_zone(services, channel, day_zone(services.config))
            day = now.astimezone(ZoneInfo(zone)).date()
            t = translator(services.locales.channel(channel))  # a channel post: the channel's language
            message = digest_render.render(content, day=day if key == "manual" else run_date, t=t)
            ref = (DIGEST_REF, str(run_id))
            outbox_id = enqueue_post(
                db,
                channel=channel,
                text=message.main.text,
                blocks=message.main.blocks,
                kind="digest",
                ref=ref,
                correlation_id=f"digest-{run_id}",
            )
            for reply in message.thread:  # the full table when it does not fit: under the digest
                enqueue_post(
                    db,
                    channel=channel,
                    text=reply.text,
                    blocks=reply.blocks,
                    kind="digest_table",
                    thread_ref=ref,
                    correlation_id=f"digest-{run_id}",
                )
            digests.finish_run(db, run_id, iso(services.clock.now()), outbox_id, chart=True)
        services.wake_outbox()
        log.info(
            "digest posted", extra={"event": "digest_posted", "channel": channel, "schedule": key, "run_date": run_date}
        )
        return "posted"
    finally:
        services.in_flight.release(("digest", key, run_date))


async def run_digest_now(services: Services, channel: str, actor: str = "system") -> str:
    """`/whalet digest now`: a one-off run, recorded like the others."""
    now = services.clock.now()
    with services.store.transaction() as db:
        services.store.audit(db, actor, "digest_now", f"channel:{channel}")
    return await run_digest(services, channel, "manual", f"{iso(now)}/{uuid.uuid4().hex[:8]}")


def last_fire(schedule: DigestSchedule, now: datetime) -> datetime:
    """The most recent moment (<= now) this schedule was due, in its own time zone."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(schedule.timezone)
    local = now.astimezone(zone)
    fire = datetime(local.year, local.month, local.day, schedule.hour, schedule.minute, tzinfo=zone)
    if fire > local:
        day = local.date() - timedelta(days=1)
        fire = datetime(day.year, day.month, day.day, schedule.hour, schedule.minute, tzinfo=zone)
    return fire


async def scheduled_run(services: Services, schedule: DigestSchedule) -> str:
    """What an APScheduler job runs: the digest for the day of the fire time it stands for.

    Only while the schedule still exists: removed in Slack through another replica, it is gone
    from the database but this process's job would still fire until its next restart."""
    if schedule_key(schedule) not in {schedule_key(known) for known, _ in all_schedules(services)}:
        return "removed"
    fire = last_fire(schedule, services.clock.now())
    return await run_digest(services, schedule.channel, schedule_key(schedule), fire.date().isoformat())


async def catch_up(services: Services) -> list[str]:
    """Run each schedule whose last fire time is within the grace window and has no done run."""
    now = services.clock.now()
    grace = timedelta(seconds=services.config.digest.misfire_grace_seconds)
    results = []
    for schedule, _ in all_schedules(services):
        fire = last_fire(schedule, now)
        known_since = digest_schedules.added_at(services, schedule)
        if now - fire > grace or known_since is None or fire < known_since:
            continue
        outcome = await run_digest(services, schedule.channel, schedule_key(schedule), fire.date().isoformat())
        results.append(f"{schedule_key(schedule)}: {outcome}")
    return results


async def catch_up_loop(services: Services) -> None:
    while True:
        await catch_up(services)
        await asyncio.sleep(CATCH_UP_EVERY_SECONDS)


def add_schedule(services: Services, schedule: DigestSchedule, actor: str) -> bool:
    """Persist (and audit) a schedule typed in Slack and add its job; False when it already existed."""
    if not digest_schedules.persist(services, schedule, actor):
        return False
    digest_schedules.add_job(services, schedule, scheduled_run)
    return True


def schedule_digests(services: Services) -> list[str]:
    """Add one cron job per schedule (config file + persisted); returns the job ids."""
    schedules = [schedule for schedule, _ in all_schedules(services)]
    digest_schedules.remember(services, schedules)
    return [digest_schedules.add_job(services, schedule, scheduled_run) for schedule in schedules]
