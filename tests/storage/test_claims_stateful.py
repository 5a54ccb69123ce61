"""Stateful (hypothesis) test of the outbox claims two replicas share, on both backends.

Two replicas, ``a`` and ``b``, work one outbox through the real repository functions
(``core.storage.outbox``): they queue messages in two channels, claim rows with their lanes,
post and finish them, crash (before or after Slack took the post), come back, let the clock run
and take over what a dead replica left once its lease ran out. Slack is a list of posted outbox
ids; a row marked ``check_first`` is looked up there before it is posted again, as the worker does.

After every step:

- at most one live claim per channel (one delivery in flight per channel, whoever holds it);
- no outbox row posted to Slack twice, and none lost: at the end every row is posted once;
- the pace holds across both replicas: in any stretch of time, a channel's claims stay within
  ``burst + elapsed / interval``;
- a row marked done stays done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from core.storage import outbox as rows
from core.storage.backend import open_store
from core.storage.store import Store

LEASE = timedelta(seconds=30)
CUT_OFF = LEASE * 0.8  # the worker gives up on a delivery this long after its claim
PACE = rows.Pace(interval=1.0, burst=2)
CHANNELS = ("C1", "C2")
REPLICAS = ("a", "b")


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def machine_for(store: Store) -> type[RuleBasedStateMachine]:
    class TwoReplicas(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with store.transaction() as db:
                db.execute("DELETE FROM outbox")
                db.execute("DELETE FROM outbox_lanes")
            self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
            self.generation = {name: 0 for name in REPLICAS}  # a crash makes a new holder name
            self.in_flight: dict[str, dict[int, datetime]] = {name: {} for name in REPLICAS}
            self.slack: list[int] = []
            self.claims: dict[str, list[datetime]] = defaultdict(list)
            self.done: set[int] = set()
            self.queued = 0

        def holder(self, name: str) -> str:
            return f"{name}{self.generation[name]}"

        def _tx(self, work: Callable[..., object]) -> object:
            with store.transaction() as db:
                return work(db)

        @rule(channel=st.sampled_from(CHANNELS))
        def enqueue(self, channel: str) -> None:
            self._tx(lambda db: rows.enqueue_post(db, channel=channel, text="m", now=self.now))
            self.queued += 1

        @rule(name=st.sampled_from(REPLICAS))
        def claim(self, name: str) -> None:
            """The replica's dispatch: the oldest due row of each channel, claimed with its lane."""
            with store.read() as db:
                heads = rows.due_heads(db, iso(self.now + timedelta(days=1)))
            for head in heads:
                claim = self._tx(
                    lambda db, head=head: rows.claim(  # type: ignore[misc]
                        db,
                        head["id"],
                        channel=head["channel"],
                        owner=self.holder(name),
                        now=self.now,
                        lease_until=iso(self.now + LEASE),
                        pace=PACE,
                    )
                )
                assert isinstance(claim, rows.Claim)
                if claim.claimed:
                    self.in_flight[name][head["id"]] = self.now
                    self.claims[head["channel"]].append(self.now)

        def _settle(self, name: str, row_id: int, posted_now: bool) -> None:
            """What the worker does after its Slack call: record it, if it still holds the row."""
            with store.transaction() as db:
                row = dict(next(db.query("SELECT * FROM outbox WHERE id = ?", [row_id])))
                if not rows.still_claimed(db, row_id, self.holder(name)):
                    return
                if posted_now:
                    rows.mark_done(db, row, row["channel"], f"ts{row_id}", iso(self.now))
                    self.done.add(row_id)
                else:
                    rows.reschedule(
                        db,
                        row_id,
                        state="pending",
                        attempts=row["attempts"],
                        next_attempt_at=iso(self.now),
                        error="timeout",
                        check_first=1,
                        rate_limited=False,
                    )
                rows.release_lane(db, row["channel"], self.holder(name))

        @rule(name=st.sampled_from(REPLICAS), data=st.data())
        def finish(self, name: str, data: st.DataObject) -> None:
            """Post (unless the lookup finds it already posted) and record it."""
            if not self.in_flight[name]:
                return
            row_id = data.draw(st.sampled_from(sorted(self.in_flight[name])))
            del self.in_flight[name][row_id]
            with store.read() as db:
                check_first = next(db.query("SELECT check_first FROM outbox WHERE id = ?", [row_id]))["check_first"]
            if not (check_first and row_id in self.slack):
                self.slack.append(row_id)
            self._settle(name, row_id, posted_now=True)

        @rule(name=st.sampled_from(REPLICAS), posted=st.booleans())
        def crash(self, name: str, posted: bool) -> None:
            """kill -9: its rows stay ``sending`` under its lease; Slack may have taken the posts."""
            if posted:
                self.slack.extend(row_id for row_id in self.in_flight[name] if row_id not in self.slack)
            self.in_flight[name] = {}
            self.generation[name] += 1

        @rule(seconds=st.sampled_from([0.2, 0.5, 1.0, 5.0, 31.0]), reached_slack=st.booleans())
        def tick(self, seconds: float, reached_slack: bool) -> None:
            """Time runs; a delivery still going at its cut-off is given up then (the worker's
            wait_for), before its lease ends; Slack may or may not have taken that post."""
            end = self.now + timedelta(seconds=seconds)
            for name in REPLICAS:
                for row_id, claimed_at in sorted(self.in_flight[name].items()):
                    if claimed_at + CUT_OFF <= end:
                        self.now = max(self.now, claimed_at + CUT_OFF)
                        del self.in_flight[name][row_id]
                        if reached_slack and row_id not in self.slack:
                            self.slack.append(row_id)
                        self._settle(name, row_id, posted_now=False)
            self.now = end

        @rule()
        def take_over(self) -> None:
            self._tx(lambda db: rows.hand_back_inflight(db, expired_before=iso(self.now)))

        @invariant()
        def one_live_claim_per_channel(self) -> None:
            with store.read() as db:
                live = db.execute(
                    "SELECT channel, COUNT(*) FROM outbox WHERE state = 'sending' AND lease_until > ? GROUP BY channel",
                    [iso(self.now)],
                ).fetchall()
            assert all(count <= 1 for _, count in live), live

        @invariant()
        def never_posted_twice(self) -> None:
            assert len(self.slack) == len(set(self.slack)), self.slack

        @invariant()
        def paced_across_replicas(self) -> None:
            for channel, times in self.claims.items():
                for first in range(len(times)):
                    for last in range(first, len(times)):
                        elapsed = (times[last] - times[first]).total_seconds()
                        assert last - first + 1 <= PACE.burst + elapsed / PACE.interval + 1e-6, (channel, times)

        @invariant()
        def done_stays_done(self) -> None:
            if self.done:
                with store.read() as db:
                    marks = ",".join("?" * len(self.done))
                    states = {
                        s for (s,) in db.execute(f"SELECT state FROM outbox WHERE id IN ({marks})", sorted(self.done))
                    }
                assert states <= {"done"}, states

        def teardown(self) -> None:
            """Everyone comes back and works until the queue is empty: every row posted once."""
            for _ in range(self.queued * 4 + 10):
                self.now += LEASE + timedelta(seconds=1)
                self.take_over()
                for name in REPLICAS:
                    self.claim(name)
                    while self.in_flight[name]:
                        row_id = min(self.in_flight[name])
                        self.finish(name, _Fixed(row_id))  # type: ignore[arg-type]
            with store.read() as db:
                left = db.execute("SELECT COUNT(*) FROM outbox WHERE state != 'done'").fetchone()[0]
            assert left == 0
            assert sorted(self.slack) == sorted(set(self.slack)) and len(self.slack) == self.queued

    return TwoReplicas


class _Fixed:
    """Stands in for hypothesis' data object in teardown: always draws the given row."""

    def __init__(self, value: int) -> None:
        self.value = value

    def draw(self, strategy: object) -> int:
        return self.value


@pytest.mark.long_running
def test_two_replicas_share_the_outbox_without_doubling_or_outpacing(database_url: str | None, tmp_path: Path) -> None:
    store = open_store(database_url, tmp_path / "bot.db")
    try:
        run_state_machine_as_test(
            machine_for(store), settings=settings(max_examples=60, stateful_step_count=30, deadline=None)
        )
    finally:
        store.close()
