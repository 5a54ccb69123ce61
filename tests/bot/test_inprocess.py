"""The in-process transport of the test stacks keeps what a socket would give (devkit/inprocess.py):
the client's read timeout, a handler that runs to its end after the client gave up, a 500 for an
app that raised, and a chunked body arriving in chunks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devkit.inprocess import LoopHost


class Recorder:
    def __init__(self) -> None:
        self.finished: list[str] = []
        self.started = False
        self.stopped = False
        self.chunks: list[int] = []


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[httpx.Client]:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.3)
        recorder.finished.append("slow")
        return JSONResponse({"ok": True})

    async def broken(request: Request) -> Response:
        raise RuntimeError("the app broke")

    async def upload(request: Request) -> Response:
        async for chunk in request.stream():
            if chunk:
                recorder.chunks.append(len(chunk))
        return JSONResponse({"chunks": len(recorder.chunks)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        recorder.started = True
        yield
        recorder.stopped = True

    app = Starlette(
        routes=[
            Route("/slow", slow),
            Route("/broken", broken),
            Route("/upload", upload, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    host = LoopHost().start(app)
    with httpx.Client(base_url="http://app.localhost", transport=host.transport_to(app)) as http:
        yield http
    host.stop()
    assert recorder.stopped


def test_the_lifespan_runs_and_a_read_timeout_is_a_read_timeout(client: httpx.Client, recorder: Recorder) -> None:
    assert recorder.started
    with pytest.raises(httpx.ReadTimeout):
        client.get("/slow", timeout=0.05)
    assert recorder.finished == []
    assert client.get("/slow", timeout=5).json() == {"ok": True}
    # the first request's handler was not cancelled when its client gave up
    assert recorder.finished == ["slow", "slow"]


def test_an_app_that_raises_answers_500(client: httpx.Client) -> None:
    assert client.get("/broken").status_code == 500


def test_a_generator_body_arrives_chunk_by_chunk(client: httpx.Client, recorder: Recorder) -> None:
    def body() -> Iterator[bytes]:
        yield b"a" * 10
        yield b"b" * 20

    assert client.post("/upload", content=body()).json() == {"chunks": 2}
    assert recorder.chunks == [10, 20]
