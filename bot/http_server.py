"""The HTTP server's own defences against slow and many clients.

uvicorn reads a request for as long as the client cares to send it: a connection that sends half
a header block, or announces a body and never sends it, is held open forever, and nothing caps
how many there are. A few hundred such connections (a slowloris, or Whalet's and Slack's retries
piling up behind a stuck proxy) use up the process's file descriptors, and then Slack's own
requests are refused ("Server disconnected") while their 3-second ack clock runs.

So every connection has two deadlines, for the whole header block and for the whole body (not
for silence between bytes, which a client can game by sending one byte at a time), a cap on the
size of the header block, and the server a cap on open connections: when a new connection would
pass it, the connection the server has been waiting on longest (for a request or its body, or idle
between keep-alive requests) is closed to make room; one whose request is complete and being
answered is never shed. A request Slack sends arrives whole within milliseconds, so under a flood
it is never the oldest one waiting.

This subclasses uvicorn's httptools protocol (its parser callbacks are the only place that knows
where a request's headers end); tests/faults/test_slow_clients.py drives the real server with a
real slowloris, so an upgrade that changes those callbacks fails there, not in production.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("whalet_bot.http")

# File descriptors kept for everything that is not an HTTP connection: the database and its WAL,
# the Whalet and Slack connection pools, the Socket Mode socket, log files.
RESERVED_FDS = 64
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClientLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int


def effective_max_connections(wanted: int) -> int:
    """The connection cap, lowered to what the process's file-descriptor limit allows."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft - RESERVED_FDS >= wanted:
        return wanted
    allowed = max(soft - RESERVED_FDS, 8)
    log.warning(
        "WHALET_BOT_HTTP_MAX_CONNECTIONS is %d but the open-file limit is %d; capping connections at %d",
        wanted,
        soft,
        allowed,
        extra={"event": "http.connection_cap_lowered"},
    )
    return allowed


def guarded_protocol(limits: ClientLimits) -> type[HttpToolsProtocol]:
    """A protocol class for one server: the waiting list it keeps is shared by its connections."""
    waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()
    shared = {"limits": limits, "waiting": waiting, "closings": Closings()}
    return type("GuardedProtocol", (GuardedProtocol,), shared)


class Closings:
    """Connections closed for being slow or to stay under the cap, logged as counts (a flood would
    otherwise write a line per connection): the first at once, then at most one line a minute."""

    EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last_logged: float | None = None
        self.last_address = ""

    def count(self, why: str, client: tuple[str, int] | None, now: float) -> None:
        self.counts[why] = self.counts.get(why, 0) + 1
        self.last_address = _address(client)
        if self.last_logged is None or now - self.last_logged >= self.EVERY_SECONDS:
            summary = ", ".join(f"{n} {why}" for why, n in sorted(self.counts.items()))
            log.warning(
                "closed slow or surplus HTTP connections (%s; the last from %s)",
                summary,
                self.last_address,
                extra={"event": "http.connections_closed", "counts": dict(self.counts)},
            )
            self.counts.clear()
            self.last_logged = now


class GuardedProtocol(HttpToolsProtocol):
    limits: ClientLimits
    # Connections the server is waiting on (for a request, its headers or its body), oldest first.
    waiting: OrderedDict[GuardedProtocol, None]
    closings: Closings
    _deadline: asyncio.TimerHandle | None = None
    _header_bytes: int | None = None  # bytes read while the header block is unfinished

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._shed_oldest():
            self._refuse(b"503 Service Unavailable", b"Too many connections; try again.")
            return
        self._wait_for("headers", self.limits.header_timeout)
        self._header_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._header_bytes is not None:
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(b"431 Request Header Fields Too Large", b"The header block is too large.")
                return
            self._header_bytes += len(data)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_bytes is None:  # the next request on a kept-alive connection
            self._header_bytes = 0
            self._wait_for("headers", self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        if self.parser.should_upgrade():  # a WebSocket: another protocol takes the connection over
            self._stop_waiting()
        else:
            self._wait_for("body", self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.timeout_keep_alive_task is not None:
            self.waiting[self] = None  # idle between requests: uvicorn's keep-alive timer closes it
            self.waiting.move_to_end(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _wait_for(self, part: str, seconds: float) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, self._too_slow, part)
        self.waiting[self] = None
        self.waiting.move_to_end(self)

    def _stop_waiting(self) -> None:
        self._cancel_deadline()
        self.waiting.pop(self, None)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, part: str) -> None:
        self._deadline = None
        self.closings.count(f"{part} too slow", self.client, self.loop.time())
        self._stop_waiting()
        self.transport.close()

    def _shed_oldest(self) -> bool:
        """Close the connection waited on longest, to make room; False when none can be shed."""
        for oldest in self.waiting:
            if oldest is not self:
                self.closings.count("shed at the cap", oldest.client, self.loop.time())
                oldest._stop_waiting()
                oldest.transport.close()
                return True
        return False

    def _refuse(self, status: bytes, message: bytes) -> None:
        self._stop_waiting()
        self._header_bytes = None
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"retry-after: 1\r\ncontent-length: " + str(len(message)).encode() + b"\r\n\r\n" + message
        )
        self.transport.close()


def _address(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "an unknown address"
