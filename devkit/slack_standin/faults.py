"""Fault injection for the Slack stand-in: scripted answers, a per-channel rate limit, resets.

Our outbox and notification code must survive what Slack really does under load (429 with
``Retry-After``, 5xx, dropped connections, slow answers). These helpers let a test or benchmark
make the fake misbehave on purpose, deterministically, one call at a time.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

# ("ratelimited", seconds) | ("status", code) | ("reset",) | ("sleep", seconds) | ("error", code)
Scripted = tuple[Any, ...]
_KINDS = {"ratelimited": 2, "status": 2, "reset": 1, "sleep": 2, "error": 2}


def validate(answer: Scripted) -> Scripted:
    """Fail at ``script()`` time, not deep inside the server thread, on a typo."""
    if not isinstance(answer, tuple) or not answer or answer[0] not in _KINDS:
        raise ValueError(f"unknown scripted answer {answer!r}; use one of {sorted(_KINDS)}")
    if len(answer) < _KINDS[answer[0]]:
        raise ValueError(f"scripted answer {answer!r} needs {_KINDS[answer[0]] - 1} argument(s)")
    return answer


class Scripts:
    """Per-method FIFO queues of scripted answers, each consumed by exactly one call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Scripted]] = {}

    def add(self, method: str, answers: list[Scripted]) -> None:
        checked = [validate(a) for a in answers]
        with self._lock:
            self._queues.setdefault(method, deque()).extend(checked)

    def pop(self, method: str) -> Scripted | None:
        with self._lock:
            queue = self._queues.get(method)
            return queue.popleft() if queue else None

    def pending(self, method: str | None = None) -> int:
        with self._lock:
            if method is not None:
                return len(self._queues.get(method, ()))
            return sum(len(q) for q in self._queues.values())

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


@dataclass
class _Bucket:
    tokens: float
    last: float


class RateLimiter:
    """A token bucket per key (the channel), like Slack's ~1 message/s/channel with bursts."""

    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = burst
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, now: float) -> int:
        """0 if allowed, else the whole seconds to announce in ``Retry-After`` (at least 1)."""
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.last) * self.per_second)
            bucket.last = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))


def abort_connection(receive: Any) -> bool:
    """Drop the TCP connection of the current request with a RST and no HTTP answer at all.

    ASGI has no "hang up" message, and an exception only makes uvicorn answer 500. Every uvicorn
    HTTP protocol implementation hands the app a bound ``RequestResponseCycle.receive`` whose
    owner holds the asyncio transport, so we reach it from there; ``SO_LINGER`` 0 turns the close
    into a reset the way a crashed proxy would. Returns False if the transport is not reachable
    (another server), so the caller can fall back to something else.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # a plain abort (FIN) still leaves the client without an answer
    transport.abort()
    return True
