"""Bursts: the relay holds back only while hundreds of notifications a second stream in.

The webhook's writer tells the relay when a burst is arriving (``InboxWriter.busy``); the relay
then waits between batches so acks get the process (bench/webhook_ingest.py: the ratio to the
crypto bound went from 0.47 to 0.70 with it). A lone notification, or a trickle, is never a
burst: it must be relayed at once. Measured here on a frozen pacing clock, so the windows are
exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.clock import FrozenClock
from notifications.ingest import BURST, BUSY_WINDOW_SECONDS, InboxWriter
from tests.notifications.conftest import Harness

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _arrive(writer: InboxWriter, pacing: FrozenClock, count: int, per_second: float) -> list[bool]:
    """``count`` arrivals at a steady rate; what ``busy`` said right after each."""
    seen = []
    for _ in range(count):
        writer._arrived()
        seen.append(writer.busy())
        pacing.advance(timedelta(seconds=1 / per_second))
    return seen


@pytest.fixture
def pacing() -> FrozenClock:
    return FrozenClock(START)


def test_a_lone_notification_and_a_trickle_are_not_a_burst(harness: Harness, pacing: FrozenClock) -> None:
    writer = InboxWriter(harness.services, pacing)
    assert not writer.busy()
    assert _arrive(writer, pacing, 1, 1) == [False]
    assert not any(_arrive(writer, pacing, 200, 100))  # 100 a second: relayed as they come


def test_hundreds_a_second_are_a_burst_until_they_stop(harness: Harness, pacing: FrozenClock) -> None:
    writer = InboxWriter(harness.services, pacing)
    seen = _arrive(writer, pacing, 400, 800)
    assert not any(seen[: BURST - 1])  # the first window fills up to BURST
    assert all(seen[BURST:])  # from then on, every arrival of the stream finds the relay held back
    pacing.advance(timedelta(seconds=BUSY_WINDOW_SECONDS))
    assert not writer.busy()  # the stream stopped: the relay catches up at once
