"""SIGTERM: the app stops accepting, lets in-flight Slack posts finish (or hands them back),
leaves the outbox in a committed state and exits 0 within a bound; the next start delivers the
rest exactly once. The app runs as ``python -m bot.cli run`` in a child process (tests/faults/harness.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import App, World, wait_until

SHUTDOWN_BOUND_SECONDS = 15  # uvicorn's graceful timeout (10 s) + the outbox's grace; generous


@pytest.fixture
def world(tmp_path: Path, stack_keys: Path) -> Iterator[World]:
    started = World(tmp_path, stack_keys)
    yield started
    started.stop()


@pytest.mark.long_running
def test_sigterm_with_posts_in_flight_exits_cleanly_and_nothing_is_lost_or_doubled(
    world: World, tmp_path: Path
) -> None:
    app = App(world, tmp_path / "app", forked=False)  # the command line as installed, executed afresh
    try:
        app.start()
        # Slack answers slowly, so posts are in flight when SIGTERM arrives.
        world.fake.script("chat.postMessage", [("sleep", 1.5)] * 3)
        amounts = ["11.11", "22.22", "33.33", "44.44", "55.55"]
        for amount in amounts:
            world.collect(amount)
        world.operator.post(
            "/sandbox/notify",
            json={
                "apiCode": "cardLimitChangedNotify",
                "body": {"userId": "U10001", "newLimit": "5000", "status": "DONE"},
            },
        ).raise_for_status()
        wait_until(lambda: world.fake.calls("chat.postMessage"), 20, what="a post to be in flight")

        started = time.monotonic()
        code = app.terminate(timeout=30)
        took = time.monotonic() - started
        assert code == 0, app.log()
        assert took < SHUTDOWN_BOUND_SECONDS, f"stopping took {took:.1f}s"
        assert '"event": "shutdown"' in app.log()
        assert app.query("SELECT COUNT(*) FROM outbox WHERE state = 'sending'")[0][0] == 0
        assert app.query("SELECT COUNT(*) FROM inbox")[0][0] == len(amounts) + 1  # every ack was a commit

        app.start()
        wait_until(
            lambda: (
                not app.query("SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')")
                and not app.query("SELECT 1 FROM inbox WHERE processed_at IS NULL")
            ),
            30,
            what=f"the rest to be delivered\n{app.log()}",
        )
        collected = [m.text for m in world.fake.messages("C0COLLECT")]
        for amount in amounts:
            assert sum(f"{amount} USD" in text for text in collected) == 1, (amount, collected)
        assert sum("cardLimitChangedNotify" in m.text for m in world.fake.messages("C0FINANCE")) == 1
    finally:
        app.stop()
