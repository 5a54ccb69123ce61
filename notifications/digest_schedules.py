"""Digest schedules: the config file's plus those typed with `/whalet digest schedule`, as cron jobs.

Job ids are stable (``digest:CHANNEL:HH:MM:TZ``) and added with ``replace_existing=True``, so a
restart or a repeated command never makes a second job. ``coalesce=True`` and a misfire grace of
``[digest] misfire_grace_seconds`` (an hour by default, not APScheduler's silent 1 s) cover a
loop that was busy at 09:00; ``digest.catch_up`` covers a process that was down.

The jobs live in APScheduler's memory store (the schedule is rebuilt from the config file and
``digest_schedules`` at every start), so job arguments are never pickled to disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from core.clock import iso, parse_iso
from core.config import DigestSchedule
from core.i18n import N_
from core.storage import digests

if TYPE_CHECKING:
    from services.container import Services


def schedule_key(schedule: DigestSchedule) -> str:
    """Also the APScheduler job id."""
    return f"digest:{schedule.channel}:{schedule.time}:{schedule.timezone}"


def persisted(services: Services) -> list[tuple[DigestSchedule, datetime]]:
    with services.store.read() as db:
        rows = digests.schedules(db)
    return [(DigestSchedule(channel=c, time=t, timezone=z), parse_iso(at)) for c, t, z, at in rows]


def all_schedules(services: Services) -> list[tuple[DigestSchedule, str]]:
    """(schedule, origin) with origin "config file" or "added in Slack" (English, marked for the
    catalog: translated where shown); each schedule once."""
    found: dict[str, tuple[DigestSchedule, str]] = {}
    for schedule in services.config.digest.schedules:
        found.setdefault(schedule_key(schedule), (schedule, N_("config file")))
    for schedule, _ in persisted(services):
        found.setdefault(schedule_key(schedule), (schedule, N_("added in Slack")))
    return list(found.values())


def title_zone(services: Services, channel: str, fallback: str) -> str:
    """The zone a digest posted to ``channel`` is dated in: that channel's first schedule's zone,
    else ``fallback`` (the policy's day zone). `digest now` in a channel whose schedule runs at
    09:00 Asia/Shanghai says Shanghai's date even at 07:47 there, when UTC's is yesterday."""
    for schedule, _ in all_schedules(services):
        if schedule.channel == channel:
            return schedule.timezone
    return fallback


def remember(services: Services, schedules: list[DigestSchedule]) -> None:
    """Note when each schedule was first seen (kept across restarts)."""
    now = iso(services.clock.now())
    with services.store.transaction() as db:
        for schedule in schedules:
            digests.note_known(db, schedule_key(schedule), now)


def added_at(services: Services, schedule: DigestSchedule) -> datetime | None:
    """When the schedule was first seen: catch-up never runs a fire time from before that, so a
    fresh install, or "09:00" added at 09:30, waits for the next fire instead of posting at once."""
    with services.store.read() as db:
        first_seen = digests.first_seen(db, schedule_key(schedule))
    return parse_iso(first_seen) if first_seen else None


def add_job(
    services: Services, schedule: DigestSchedule, run: Callable[[Services, DigestSchedule], Awaitable[Any]]
) -> str:
    job_id = schedule_key(schedule)
    if services.scheduler is not None:
        services.scheduler.add_job(
            run,
            CronTrigger(hour=schedule.hour, minute=schedule.minute, timezone=ZoneInfo(schedule.timezone)),
            args=[services, schedule],
            id=job_id,
            name=f"digest to {schedule.channel}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=services.config.digest.misfire_grace_seconds,
        )
    return job_id


def persist(services: Services, schedule: DigestSchedule, actor: str) -> bool:
    """Persist (and audit) a schedule typed in Slack; False when it already existed."""
    if schedule in services.config.digest.schedules:
        return False
    with services.store.transaction() as db:
        if not digests.add_schedule(
            db, schedule.channel, schedule.time, schedule.timezone, actor, iso(services.clock.now())
        ):
            return False
        services.store.audit(db, actor, "digest_schedule_added", schedule_key(schedule))
    remember(services, [schedule])
    return True


def remove_schedules(services: Services, channel: str, actor: str) -> tuple[int, list[DigestSchedule]]:
    """Remove the Slack-added schedules of a channel; returns (how many, config-file ones kept)."""
    removed = [s for s, _ in persisted(services) if s.channel == channel]
    kept = [s for s in services.config.digest.schedules if s.channel == channel]
    kept_keys = {schedule_key(s) for s in kept}
    with services.store.transaction() as db:
        digests.remove_schedules(db, channel)
        for schedule in removed:
            services.store.audit(db, actor, "digest_schedule_removed", schedule_key(schedule))
            if schedule_key(schedule) not in kept_keys:
                digests.forget_known(db, schedule_key(schedule))
    if services.scheduler is not None:
        for schedule in removed:
            if schedule_key(schedule) not in kept_keys and services.scheduler.get_job(schedule_key(schedule)):
                services.scheduler.remove_job(schedule_key(schedule))
    return len(removed), kept
