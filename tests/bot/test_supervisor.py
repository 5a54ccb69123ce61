"""A background loop stops when the supervisor stops it, even when the stop meets a wake.

On Python 3.11 ``asyncio.wait_for(event.wait(), t)`` returns normally if the cancellation arrives
in the few loop steps after the event was set; a loop written that way took its stop for a wake,
ran on for the supervisor's whole 10 s timeout, and then worked on a closed database (seen in the
test suite's teardowns, and the same would happen at a SIGTERM right after an outbox wake).
"""

from __future__ import annotations

import asyncio

import pytest

from core.supervisor import Supervisor, wait_for_wake


@pytest.mark.parametrize("steps_after_wake", range(5))
async def test_a_stop_right_after_a_wake_stops_the_loop(steps_after_wake: int) -> None:
    event = asyncio.Event()
    ended = False

    async def worker() -> None:
        nonlocal ended
        try:
            while True:
                await wait_for_wake(event, 1.0)
                event.clear()
        finally:
            ended = True

    supervisor = Supervisor()
    supervisor.add("worker", worker)
    await supervisor.start()
    await asyncio.sleep(0.01)  # the worker is waiting
    event.set()
    for _ in range(steps_after_wake):
        await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    await supervisor.stop(timeout=2.0)
    assert asyncio.get_running_loop().time() - started < 0.5
    assert ended


async def test_the_wait_ends_at_the_wake_or_the_timeout() -> None:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_for_wake(event, 0.05)
    assert 0.04 <= loop.time() - started < 0.5
    loop.call_later(0.01, event.set)
    started = loop.time()
    await wait_for_wake(event, 5.0)
    assert loop.time() - started < 0.5


async def test_a_loop_that_keeps_crashing_is_named_until_it_runs_clean() -> None:
    """/healthz answers 503 with these names: a loop restarted every second forever is down."""
    from datetime import UTC, datetime, timedelta

    from core.clock import FrozenClock

    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    healthy = asyncio.Event()
    runs = 0

    async def worker() -> None:
        nonlocal runs
        runs += 1
        if not healthy.is_set():
            raise RuntimeError("poison")
        await asyncio.Event().wait()  # runs clean from now on

    supervisor = Supervisor(restart_delay=0, clock=clock)
    supervisor.add("relay", worker)
    await supervisor.start()
    while runs < 4:
        await asyncio.sleep(0.001)
    assert supervisor.failing() == ["relay"]
    healthy.set()
    runs_then = runs
    while runs == runs_then:
        await asyncio.sleep(0.001)
    clock.advance(timedelta(seconds=61))  # a minute on end without a crash
    assert supervisor.failing() == []
    await supervisor.stop(timeout=2.0)
