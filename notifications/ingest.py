"""Group commit for the webhook: many concurrent notifications, one durable commit, then the acks.

A durable commit (``synchronous=FULL``) costs a disk flush. Done once per notification on the
event loop, it would stall every other request for that long; so concurrent webhook requests
hand their verified notification to this writer, which inserts everything waiting in ONE
transaction on a worker thread, commits, and only then releases each request to send its ack.
The rule "stored, then acknowledged" holds per notification exactly as with one commit each:
no ack leaves before the commit that holds its row, and if the commit fails every request in
it answers 500, so Whalet retries them all. De-duplication is per row (``INSERT OR IGNORE``),
so two copies in the same batch are still stored once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.clock import SYSTEM_CLOCK, Clock
from core.storage import inbox
from notifications.kinds import business_id

if TYPE_CHECKING:
    from services.container import Services

MAX_BATCH = 256
BUSY_WINDOW_SECONDS = 0.05
BURST = 16  # notifications in one window that make a burst (320 a second): the relay then waits


@dataclass
class _Waiting:
    head: Mapping[str, str]
    body: Any
    operation: str | None
    done: asyncio.Future[inbox.Stored]


class InboxWriter:
    """One per process (``notifications.writer_of``); used only from the event loop."""

    def __init__(self, services: Services, pacing: Clock = SYSTEM_CLOCK):
        """``pacing``: the clock bursts are measured on (real time even under a test's frozen
        business clock, like the outbox's pacing)."""
        self.services = services
        self.pacing = pacing
        self._waiting: list[_Waiting] = []
        self._flushing = False
        self.batches = 0
        self._last_request = float("-inf")
        self._window_started = float("-inf")
        self._in_window = 0
        self._burst = False

    def busy(self) -> bool:
        """Is a burst streaming in (BURST or more notifications a window, the last one just now)?
        The relay then holds back, so acks get the process; a lone notification is not a burst
        and is relayed at once."""
        if self.pacing.monotonic() - self._last_request >= BUSY_WINDOW_SECONDS:
            return False
        return self._burst or self._in_window >= BURST

    def _arrived(self) -> None:
        now = self.pacing.monotonic()
        if now - self._window_started >= BUSY_WINDOW_SECONDS:
            self._burst = self._in_window >= BURST and now - self._window_started < 2 * BUSY_WINDOW_SECONDS
            self._window_started, self._in_window = now, 0
        self._in_window += 1
        self._last_request = now

    async def store(self, head: Mapping[str, str], body: Any, operation: str | None) -> inbox.Stored:
        """Returns once the notification's row is committed (raises if the commit failed)."""
        loop = asyncio.get_running_loop()
        self._arrived()
        item = _Waiting(head, body, operation, loop.create_future())
        self._waiting.append(item)
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return await item.done

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    results = await asyncio.to_thread(self._write, batch)
                except Exception as exc:  # every request of the batch answers 500; Whalet retries
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                self.batches += 1
                for item, result in zip(batch, results, strict=False):
                    if not item.done.done():
                        item.done.set_result(result)
        finally:
            self._flushing = False

    def _write(self, batch: list[_Waiting]) -> list[inbox.Stored]:
        now = self.services.clock.now()
        with self.services.store.transaction() as db:
            return [
                inbox.store(db, item.head, item.body, business_id(item.operation, item.body), now) for item in batch
            ]
