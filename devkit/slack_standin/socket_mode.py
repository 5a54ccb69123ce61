"""Slack's Socket Mode, imitated: ``apps.connections.open`` and the WebSocket it hands out.

With ``SLACK_APP_TOKEN`` set, the app (Bolt's ``AsyncSocketModeHandler``, i.e. slack_sdk's
aiohttp ``SocketModeClient``) asks ``apps.connections.open`` for a URL, connects, waits for
``hello`` and then receives Slack's requests as envelopes it must acknowledge with their
``envelope_id``. This stand-in speaks that wire protocol so the real client, not a mock of it,
is what the tests exercise. A test pushes envelopes with ``send`` and reads the acks back.

The test side that sends over this socket is ``socket_requests.SocketRequests``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

PATH = "/socket/{connection_id}"
PAYLOAD_TYPES = ("slash_commands", "interactive", "events_api")


@dataclass(frozen=True)
class SocketAck:
    """What the client sent back for one envelope; ``payload`` is the ack's body (may be None)."""

    envelope_id: str
    payload: dict[str, Any] | None
    received: float


@dataclass
class _Connection:
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop


class SocketMode:
    """The fake's Socket Mode side. Thread-safe: the server thread writes, tests read and send."""

    def __init__(self, app_token: str, app_id: str = "A0WHALET") -> None:
        self.app_token = app_token
        self.app_id = app_id
        self._lock = threading.Lock()
        self._tickets: set[str] = set()  # issued by apps.connections.open, each usable once
        self._live: dict[str, _Connection] = {}
        self._acks: list[SocketAck] = []
        self.opened = 0  # connections ever accepted (a reconnect shows as 2)

    def clear(self) -> None:
        with self._lock:
            self._acks.clear()

    # -- apps.connections.open and the WebSocket endpoint -------------------------------------
    def issue_url(self, base_url: str) -> str:
        """A fresh ``ws://`` URL, like the single-use ``wss://`` ticket URL Slack answers with."""
        ticket = secrets.token_hex(8)
        with self._lock:
            self._tickets.add(ticket)
        return "ws" + base_url.removeprefix("http") + PATH.format(connection_id=ticket)

    async def endpoint(self, websocket: WebSocket) -> None:
        ticket = websocket.path_params["connection_id"]
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:  # closing before accepting answers the handshake with HTTP 403
            await websocket.close(code=1008)
            return
        await websocket.accept()
        with self._lock:
            count = len(self._live) + 1
        await websocket.send_json(
            {
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": "applink-standin", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        with self._lock:
            self._live[ticket] = _Connection(websocket, asyncio.get_running_loop())
            self.opened += 1
        try:
            while True:
                self._record(await websocket.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            with self._lock:
                self._live.pop(ticket, None)

    def _record(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return  # Slack ignores what it cannot parse; so does the stand-in
        if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
            payload = message.get("payload")
            with self._lock:
                self._acks.append(
                    SocketAck(message["envelope_id"], payload if isinstance(payload, dict) else None, time.time())
                )

    # -- what tests call ----------------------------------------------------------------------
    def connections(self) -> int:
        with self._lock:
            return len(self._live)

    def acks(self) -> list[SocketAck]:
        with self._lock:
            return list(self._acks)

    def ack_for(self, envelope_id: str) -> SocketAck | None:
        return next((a for a in self.acks() if a.envelope_id == envelope_id), None)

    def send(
        self, payload_type: str, payload: dict[str, Any], *, accepts_response_payload: bool = True, timeout: float = 5.0
    ) -> str:
        """Push one envelope to the newest connection; returns its ``envelope_id``.

        Call it from any thread but the fake's own (it waits for the frame to be written).
        """
        if payload_type not in PAYLOAD_TYPES:
            raise ValueError(f"unknown Socket Mode payload type {payload_type!r}")
        with self._lock:
            connection = next(reversed(self._live.values()), None)
        if connection is None:
            raise RuntimeError("no Socket Mode client is connected to the Slack stand-in")
        envelope_id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": payload_type,
            "payload": copy.deepcopy(payload),
            "accepts_response_payload": accepts_response_payload,
        }
        sent = asyncio.run_coroutine_threadsafe(connection.websocket.send_json(envelope), connection.loop)
        sent.result(timeout)
        return envelope_id
