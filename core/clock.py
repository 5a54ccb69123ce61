"""Time as a dependency, so expiry, digests and reminders can be tested with a frozen clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to; thread-safe because servers run in other threads."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)


def day_start(moment: datetime, zone: str) -> datetime:
    """Midnight of ``moment``'s calendar day in ``zone``, as an aware UTC datetime: limits and
    "today" count days where the people (and Whalet) live, not in UTC."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def iso(moment: datetime) -> str:
    """How moments are stored in SQLite: UTC ISO-8601, sortable as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


__all__ = ["Clock", "FrozenClock", "day_start", "iso", "parse_iso", "timedelta"]
