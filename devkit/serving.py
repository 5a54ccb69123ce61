"""Run an ASGI app under uvicorn on a loopback port, in a background thread.

The demo, the console and the tests all need several real HTTP servers at once (the app, the
Whalet sandbox, the Slack stand-in) in one process. Each gets its own thread and event loop, so a
slow handler in one never stalls the others, and the port is picked by the OS (port 0) so
parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import uvicorn

from core.supervisor import wait_for_wake


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, for a server started in another process."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _PromptServer(uvicorn.Server):
    """uvicorn's server, but a stop is noticed at once instead of at the next 0.1 s tick (the test
    suite starts and stops a few hundred of these)."""

    wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await wait_for_wake(self.wake, 0.1)


class ThreadedServer:
    """``with ThreadedServer(app) as server: httpx.get(server.url + "/healthz")``."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        tls: tuple[str, str] | None = None,
    ):
        """``tls``: (certificate file, key file) to serve HTTPS (benchmarks: Slack is reached over TLS)."""
        # A short graceful shutdown: a test client that still holds a keep-alive connection once
        # kept a stop waiting out the whole join timeout (10 s); the app's own shutdown work (the
        # outbox handing rows back) runs in the lifespan, which this does not cut short.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.scheme = "https" if tls else "http"
        self._server = _PromptServer(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{host}:{port}", daemon=True)
        self.host = host
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._server.serve())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("the HTTP server did not start in time")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.signal_stop()
        self._thread.join(timeout)

    def signal_stop(self) -> None:
        """Ask the server to stop without waiting (uvicorn notices within its 0.1 s tick)."""
        self._server.should_exit = True
        loop, wake = self.loop, self._server.wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it stopped anyway
                loop.call_soon_threadsafe(wake.set)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all(servers: Iterable[ThreadedServer], timeout: float = 10.0) -> None:
    """Stop several servers at once: each takes a tick (0.1 s) to notice, so asking them all first
    and then waiting costs one tick instead of one per server (the test stacks start three)."""
    started = list(servers)
    for server in started:
        server.signal_stop()
    for server in started:
        server.stop(timeout)
