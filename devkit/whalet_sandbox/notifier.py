"""Webhook delivery the way Whalet does it (protocol spec §5).

Each notification gets a unique ``requestNo`` and is written once by the profile's ``NotifyWire``
(``notify_wire.py``), which also says which answer counts as delivered. Anything else is retried
with the SAME ``requestNo`` (and the same body) on the schedule below, times ``retry_time_scale``,
in sandbox time; after the last retry it gives up. Without a webhook URL notifications wait until
one is set.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from whalet.tls import shared_tls

from .clock import WHALET_TZ, VirtualClock, wire_time
from .notify_wire import NotifyWire

RETRY_SCHEDULE_S = (15, 60, 300, 900, 3600, 7200, 21600, 54000)


@dataclass
class Notification:
    request_no: str
    api_code: str
    body: dict[str, Any]
    payload: bytes
    created: datetime
    next_at: datetime
    attempts: int = 0
    status: str = "PENDING"  # PENDING -> DELIVERED | GAVE_UP
    in_flight: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "requestNo": self.request_no,
            "apiCode": self.api_code,
            "status": self.status,
            "attempts": self.attempts,
            "created": wire_time(self.created),
            "body": self.body,
        }


class Notifier:
    def __init__(
        self,
        wire: NotifyWire,
        clock: VirtualClock,
        webhook_url: str | None,
        retry_time_scale: float,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._wire = wire
        self._clock = clock
        self.webhook_url = webhook_url
        self._scale = retry_time_scale
        self._timeout_s = timeout_s
        self.notifications: dict[str, Notification] = {}
        self.deliveries: list[dict[str, Any]] = []
        self._counter = itertools.count(1)
        self._client: httpx.AsyncClient | None = None
        self._transport = transport
        self._tasks: set[asyncio.Task[None]] = set()
        self.wake: Callable[[], None] = lambda: None

    def _request_no(self) -> str:
        stamp = self._clock.now().astimezone(WHALET_TZ).strftime("%Y%m%d%H%M%S")
        return f"WN{stamp}{next(self._counter):06d}{os.urandom(2).hex()}"  # 26 chars, unique across restarts

    def enqueue(self, api_code: str, body: dict[str, Any]) -> str:
        request_no = self._request_no()
        payload = self._wire.encode(api_code, request_no, body)
        now = self._clock.now()
        self.notifications[request_no] = Notification(request_no, api_code, body, payload, now, now)
        self.wake()
        return request_no

    def set_url(self, url: str | None) -> None:
        self.webhook_url = url
        self.wake()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(verify=shared_tls(), transport=self._transport)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def pump(self) -> None:
        """Start an attempt for every notification that is due (call from the event loop)."""
        if not self.webhook_url or self._client is None:
            return
        now = self._clock.now()
        for note in self.notifications.values():
            if note.status == "PENDING" and not note.in_flight and note.next_at <= now:
                note.in_flight = True
                task = asyncio.get_running_loop().create_task(self._attempt(note, self.webhook_url))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _attempt(self, note: Notification, url: str) -> None:
        assert self._client is not None
        note.attempts += 1
        outcome, status, detail = "delivered", None, ""
        try:
            response = await self._client.post(
                url,
                content=note.payload,
                timeout=self._timeout_s,
                headers=self._wire.headers(note.api_code, note.request_no, note.payload),
            )
            status = response.status_code
            outcome, detail = self._wire.judge(note.request_no, response)
        except httpx.TimeoutException:
            outcome, detail = "timeout", f"no answer within {self._timeout_s} s"
        except httpx.HTTPError as exc:
            outcome, detail = "connection_error", str(exc) or type(exc).__name__
        finally:
            note.in_flight = False
        self.deliveries.append(
            {
                "requestNo": note.request_no,
                "apiCode": note.api_code,
                "attempt": note.attempts,
                "outcome": outcome,
                "httpStatus": status,
                "detail": detail,
                "time": wire_time(self._clock.now()),
                "url": url,
            }
        )
        if outcome == "delivered":
            note.status = "DELIVERED"
        elif note.attempts > len(RETRY_SCHEDULE_S):
            note.status = "GAVE_UP"
        else:
            delay = RETRY_SCHEDULE_S[note.attempts - 1] * self._scale
            note.next_at = self._clock.now() + timedelta(seconds=delay)
