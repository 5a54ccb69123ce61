"""Long-running background loops (outbox worker, approval sweep, reminders) that must not die.

A loop that raises is logged and started again after a short pause, so one bad row or a Slack
outage never silently stops delivery. Shutdown cancels every loop and waits for it, so a SIGTERM
ends with the database in a committed state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from core.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("whalet_bot.supervisor")

LoopFactory = Callable[[], Awaitable[None]]


async def wait_for_wake(event: asyncio.Event, seconds: float) -> None:
    """Sleep until ``event`` is set or ``seconds`` pass: the idle step of every background loop.

    Not ``asyncio.wait_for(event.wait(), seconds)``: on Python 3.11 that returns normally when the
    stop (a cancellation) arrives just as the event is set, and a loop that lost its stop runs on
    while shutdown closes the database under it (``asyncio.timeout`` keeps the cancellation)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


CRASH_LOOP_FAILURES = 3  # failures in a row, each soon after its start: the loop is not working
CLEAN_RUN_SECONDS = 60.0  # a loop that ran this long before failing (or is still running) is fine


class Supervisor:
    def __init__(self, restart_delay: float = 1.0, clock: Clock = SYSTEM_CLOCK):
        self._factories: dict[str, LoopFactory] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._restart_delay = restart_delay
        self._stopping = False
        self._clock = clock
        self.restarts: dict[str, int] = {}
        self._started: dict[str, float] = {}  # monotonic time of each loop's latest start
        self._quick_failures: dict[str, int] = {}  # failures in a row that came soon after a start

    def failing(self) -> list[str]:
        """Loops that keep crashing (``/healthz`` answers 503 with their names): restarted
        ``CRASH_LOOP_FAILURES`` times in a row, each soon after its start, and not running clean
        since."""
        now = self._clock.monotonic()
        return sorted(
            name
            for name, count in self._quick_failures.items()
            if count >= CRASH_LOOP_FAILURES and now - self._started.get(name, now) < CLEAN_RUN_SECONDS
        )

    def _failed(self, name: str) -> None:
        ran = self._clock.monotonic() - self._started.get(name, self._clock.monotonic())
        self._quick_failures[name] = self._quick_failures.get(name, 0) + 1 if ran < CLEAN_RUN_SECONDS else 1

    def add(self, name: str, factory: LoopFactory) -> None:
        """Register a loop; it starts with start() (or at once if already started)."""
        if name in self._factories:
            raise ValueError(f"a loop named {name!r} is already registered")
        self._factories[name] = factory
        if self._tasks and not self._stopping:
            self._tasks[name] = asyncio.create_task(self._keep_running(name), name=name)

    async def start(self) -> None:
        self._stopping = False
        for name in self._factories:
            if name not in self._tasks:
                self._tasks[name] = asyncio.create_task(self._keep_running(name), name=name)

    async def _keep_running(self, name: str) -> None:
        while not self._stopping:
            self._started[name] = self._clock.monotonic()
            try:
                await self._factories[name]()
                if self._stopping:
                    return
                log.warning("background loop %s returned; starting it again", name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background loop %s failed; starting it again", name)
            self._failed(name)
            self.restarts[name] = self.restarts.get(name, 0) + 1
            await asyncio.sleep(self._restart_delay)

    def running(self) -> dict[str, bool]:
        return {name: not task.done() for name, task in self._tasks.items()}

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            _, still_running = await asyncio.wait(tasks, timeout=timeout)
            for task in still_running:
                log.error("background loop %s did not stop within %.0f s", task.get_name(), timeout)
        self._tasks.clear()
