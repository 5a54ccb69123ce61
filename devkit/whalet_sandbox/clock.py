"""Sandbox time: real time plus an offset the operator can push forward.

Payout results, quote and order expiry and notification retries all hang off this clock, so a
test or a demo can jump ten minutes ahead (``POST /sandbox/clock``) instead of waiting.
Wire times are ``yyyy-MM-dd HH:mm:ss`` in UTC+8 (protocol spec §3).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

WHALET_TZ = timezone(timedelta(hours=8))
WIRE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def wire_time(moment: datetime) -> str:
    return moment.astimezone(WHALET_TZ).strftime(WIRE_TIME_FORMAT)


def parse_wire_time(text: str) -> datetime:
    """Raises ValueError for anything but ``yyyy-MM-dd HH:mm:ss``."""
    return datetime.strptime(text, WIRE_TIME_FORMAT).replace(tzinfo=WHALET_TZ)


class VirtualClock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def after(self, seconds: float) -> datetime:
        return self.now() + timedelta(seconds=seconds)


class Timeline:
    """Actions due at a sandbox time; ``run_due`` fires every action whose time has come.

    Actions are plain synchronous functions, so each one is an atomic state change within the
    event loop: no locks needed.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def run_due(self) -> int:
        fired = 0
        while self._heap and self._heap[0][0] <= self._clock.now():
            _, _, action = heapq.heappop(self._heap)
            action()
            fired += 1
        return fired

    def __len__(self) -> int:
        return len(self._heap)
