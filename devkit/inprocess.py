"""The app and the Whalet sandbox on one event loop, talking through httpx's ASGI transport.

The test stacks need no sockets between the app and the sandbox: the bot's Whalet client reaches
the sandbox's ASGI app, and the sandbox's webhooks reach the app's, through
``httpx.ASGITransport``; the tests' own calls (signed Slack requests, operator endpoints, the
webhook, /healthz) cross from the test's thread into that loop. Only the Slack stand-in keeps a
loopback port, because slack_sdk's async client speaks HTTP through aiohttp, which has no
in-process transport (bolt-python's own tests serve their mock Web API the same way).

Two things a socket gives that a bare ``ASGITransport`` does not are kept on purpose:

* the client's read timeout: httpx enforces it only on a real connection, and "Whalet took too
  long" is a case the bot must handle (``timeout_after_apply``);
* a server that finishes what it started: when the client gives up, the handler runs on, as the
  sandbox would behind a real socket, instead of being cancelled half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp

T = TypeVar("T")


class LoopHost:
    """One event loop in a thread that runs the lifespans of several ASGI apps, in order, and
    stops them in reverse; ``run(coro)`` runs a coroutine there from any other thread."""

    def __init__(self, name: str = "inprocess-stack") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._started: list[contextlib.AbstractAsyncContextManager[Any]] = []
        self.background: set[asyncio.Task[Any]] = set()

    def start(self, *apps: Starlette, timeout: float = 15.0) -> LoopHost:
        self._thread.start()
        try:
            for app in apps:
                lifespan = app.router.lifespan_context(app)
                self.run(lifespan.__aenter__(), timeout)
                self._started.append(lifespan)
        except BaseException:
            self.stop()  # what did start stops again, and the thread ends
            raise
        return self

    def transport_to(self, app: ASGIApp) -> httpx.BaseTransport:
        """What a plain ``httpx.Client`` in another thread sends through to reach ``app`` here."""
        return OnLoop(AppTransport(app, self.background), self)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            while self._started:
                self.run(self._started.pop().__aexit__(None, None, None), timeout)
            self.run(self._cancel_background(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self.loop.close()

    async def _cancel_background(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)


class AppTransport(httpx.AsyncBaseTransport):
    """``httpx.ASGITransport`` with the client's read timeout and a handler that outlives it.

    An exception in the app becomes HTTP 500, as a server would answer, not an exception in the
    caller."""

    def __init__(self, app: ASGIApp, background: set[asyncio.Task[Any]]) -> None:
        """``background`` holds the handlers still running (for whoever stops the loop)."""
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._background = background

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        task = asyncio.ensure_future(_read(self._inner, request))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        read_timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(read_timeout):
                status, headers, content = await asyncio.shield(task)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)


class OnLoop(httpx.BaseTransport):
    """A synchronous httpx transport that sends through an async one on the host's loop, so a
    plain ``httpx.Client`` in a test reaches an app running there."""

    def __init__(self, inner: httpx.AsyncBaseTransport, host: LoopHost) -> None:
        self._inner, self._host = inner, host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):  # a generator body, sent chunked
            chunks = _Chunks(list(request.stream))  # type: ignore[arg-type]
            request = httpx.Request(
                request.method, request.url, headers=request.headers, stream=chunks, extensions=request.extensions
            )
        status, headers, content = self._host.run(_read(self._inner, request))
        return httpx.Response(status, headers=headers, content=content, request=request)


async def _read(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
    response = await transport.handle_async_request(request)
    return response.status_code, response.headers, await response.aread()


class _Chunks(httpx.AsyncByteStream):
    """A body read in the caller's thread, handed to the app chunk by chunk as it was written."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
