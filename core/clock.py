"""Time as a dependency, so expiry, digests and reminders can be tested with a frozen clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from whalet import clock as machine


class Clock:
    """The machine's time, the only place product code reads it: ``now()`` is wall-clock time
    (timezone-aware UTC) for what people see and what is stored; ``monotonic()`` is seconds on a
    clock that never steps (NTP, an operator, a VM resume move only the wall clock), for how long
    something has lasted: staleness bounds, backoffs, quiet windows held in memory."""

    def now(self) -> datetime:
        return machine.wall()

    def monotonic(self) -> float:
        return machine.monotonic()


class FrozenClock(Clock):
    """A clock that only moves when told to; thread-safe because servers run in other threads.

    ``advance`` moves both readings (time passed); ``set`` steps the wall clock only, as a
    corrected system clock does, so a test can show that a stepped clock changes no duration."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            self._elapsed += delta.total_seconds()
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)


SYSTEM_CLOCK = Clock()  # the real one, for code that must keep real time under a test's frozen clock


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


__all__ = ["SYSTEM_CLOCK", "Clock", "FrozenClock", "day_start", "iso", "parse_iso", "timedelta"]
