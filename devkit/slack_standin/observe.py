"""Reading what the Slack stand-in recorded, safely from any thread.

Tests and the demo run in other threads than the fake's server; every method here takes the
store's lock and returns snapshots, and ``wait_for`` polls because the app under test posts to
Slack in the background after acknowledging a request.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from typing import TypeVar

from devkit.slack_standin.records import Call, Ephemeral, Message, ResponsePost, View
from devkit.slack_standin.store import Store

T = TypeVar("T")


class Observation:
    """Mixed into ``FakeSlack``; needs only its ``store``."""

    store: Store

    def calls(self, method: str | None = None) -> list[Call]:
        with self.store.lock:
            return [copy.deepcopy(c) for c in self.store.calls if method in (None, c.method)]

    def connections(self, method: str | None = None) -> set[str]:
        """The distinct client connections Web API calls came over: a client that opens a new
        connection per call (a new TLS handshake against Slack) shows one per call."""
        return {c.connection for c in self.calls(method) if c.connection is not None}

    def messages(self, channel: str | None = None, *, include_deleted: bool = False) -> list[Message]:
        """Current state of channel messages (replies included), oldest first."""
        with self.store.lock:
            return [
                m.snapshot()
                for m in self.store.messages.values()
                if channel in (None, m.channel) and (include_deleted or not m.deleted)
            ]

    def message(self, channel: str, ts: str) -> Message | None:
        with self.store.lock:
            found = self.store.messages.get((channel, ts))
            return found.snapshot() if found else None

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent then its replies, oldest first."""
        return [m for m in self.messages(channel) if m.ts == ts or m.thread_ts == ts]

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        with self.store.lock:
            return [e.snapshot() for e in self.store.ephemerals.values() if user in (None, e.user) and not e.deleted]

    def responses(self) -> list[ResponsePost]:
        with self.store.lock:
            return [r.snapshot() for r in self.store.responses]

    def views(self, user: str | None = None) -> list[View]:
        with self.store.lock:
            return [v.snapshot() for v in self.store.views.values() if user in (None, v.user)]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
        """Poll ``predicate()`` until truthy and return its value; AssertionError with a dump."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s\n{self.dump()}")
            time.sleep(interval)

    async def await_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
        """``wait_for`` for async tests whose own loop must keep running meanwhile."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s\n{self.dump()}")
            await asyncio.sleep(interval)
        return result

    def dump(self, last: int = 25) -> str:
        """What the fake saw, for assertion messages."""
        lines = ["Slack stand-in calls (latest last):"]
        lines += [
            f"  {c.method} -> {c.status} {c.error or 'ok'} "
            f"{ {k: v for k, v in c.params.items() if k in ('channel', 'ts', 'text')} }"
            for c in self.calls()[-last:]
        ]
        lines.append("messages:")
        lines += [
            f"  {m.channel} {m.ts}{f' (reply to {m.thread_ts})' if m.is_reply else ''}"
            f" [{m.updated_count} upd] {m.text[:80]!r}"
            for m in self.messages()[-last:]
        ]
        lines.append("ephemerals:")
        lines += [f"  to {e.user} in {e.channel}: {e.text[:80]!r}" for e in self.ephemerals()]
        lines.append("response_url posts:")
        lines += [
            f"  {r.response_id}: {r.response_type} replace={r.replace_original} {r.text[:80]!r}"
            for r in self.responses()[-last:]
        ]
        return "\n".join(lines)
