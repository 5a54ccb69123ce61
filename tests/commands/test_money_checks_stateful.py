"""A stateful (hypothesis) test of the money checks over TWO replicas on one real Postgres.

Two replicas (``test_money_checks_replicas.Replica``: the real app, each on its own event loop
and thread, so their transactions really overlap) share one database, one Whalet sandbox and one
frozen clock. Hypothesis interleaves requests (one at a time, or two at the same moment on both
replicas, from the same requester to the same beneficiary or not), approvals (one, or two
approvers clicking at once on the two replicas) and clock jumps across Shanghai's midnight.
Every example uses requesters of its own, so examples share the database without meeting.

After every step:

1. the daily limit holds: per requester and calendar day in ``day_zone``, the requests that
   count (anything not rejected, expired or abandoned) add up to at most the limit;
2. the split window holds: in the order the requests were inserted (their audit rows), each
   one needs at least the approvals its tier gives to the sum of the same requester's requests
   to the same beneficiary so far, itself included;
3. every approval counts once: a request is still pending exactly when fewer distinct approvers
   than it needs have approved it, and no listener raised.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from core.clock import FrozenClock
from services.approvals import repo
from services.approvals.states import COUNTED, State
from tests.commands.test_money_checks_replicas import (
    APPROVERS,
    Listeners,
    Replica,
    World,
    at_once,
    card_of,
    policy,
)
from tests.commands.test_money_checks_replicas import world as world  # noqa: F401 - the module's fixture

LIMIT = Decimal("20000")
POOL = tuple(f"U0R{i:04d}" for i in range(3000))  # requesters; each example takes fresh ones
PARTIES = ("acme-us", "acme-us", "berlin-gmbh")
SHANGHAI = ZoneInfo("Asia/Shanghai")
EXAMPLES = 200


def tier(total: Decimal) -> int:
    """The demo policy's USD tiers: up to 10,000 one approval, up to 100,000 two."""
    return 1 if total <= 10000 else 2


class TwoReplicas(RuleBasedStateMachine):
    a: Replica
    b: Replica
    clock: FrozenClock
    errors: list[logging.LogRecord]
    fresh: Iterator[str]
    sandbox: Any

    def __init__(self) -> None:
        super().__init__()
        self.people = [next(self.fresh) for _ in range(2)]
        self.errors.clear()

    def _requests(self) -> list[Any]:
        with self.a.runtime.services.store.read() as db:
            return [r for r in repo.in_states(db, tuple(State)) if r.requester in self.people]

    @rule(
        who=st.integers(0, 1),
        amount=st.sampled_from(["60", "5000", "9000", "9000", "15000"]),
        party=st.sampled_from(PARTIES),
        together=st.booleans(),
        same=st.booleans(),
    )
    def request(self, who: int, amount: str, party: str, together: bool, same: bool) -> None:
        first = (self.a, self.a.slack.command(self.people[who], f"payout {amount} USD to {party}", channel_id="C0D"))
        if not together:
            at_once(first)
            return
        other = self.people[who if same else 1 - who]
        at_once(first, (self.b, self.b.slack.command(other, f"payout {amount} USD to {party}", channel_id="C0D")))

    @rule(pick=st.integers(0, 20), two=st.booleans())
    def approve(self, pick: int, two: bool) -> None:
        pending = [r for r in self._requests() if r.state is State.PENDING]
        if not pending:
            return
        card = card_of(self.a, pending[pick % len(pending)].id)
        clicks = [(self.a, self.a.slack.block_action(APPROVERS[0], card, "approval_approve"))]
        if two:
            clicks.append((self.b, self.b.slack.block_action(APPROVERS[1], card, "approval_approve")))
        at_once(*clicks)

    @rule(hours=st.sampled_from([1, 3, 9]))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        self.sandbox.clock.advance(hours * 3600)  # Whalet's quotes age with the bot's clock

    @invariant()
    def the_daily_limit_holds(self) -> None:
        spent: dict[tuple[str, object], Decimal] = defaultdict(Decimal)
        for r in self._requests():
            if r.state in COUNTED:
                spent[(r.requester, r.created_at.astimezone(SHANGHAI).date())] += r.amount
        assert all(total <= LIMIT for total in spent.values()), dict(spent)

    @invariant()
    def the_split_window_holds(self) -> None:
        requests = {r.id: r for r in self._requests()}
        if not requests:
            return
        with self.a.runtime.services.store.read() as db:
            marks = ",".join("?" * len(requests))
            order = [
                row[0].split(":", 1)[1]
                for row in db.execute(
                    f"SELECT subject FROM audit_log WHERE action = 'request.apply' AND subject IN ({marks}) ORDER BY id",
                    [f"approval:{i}" for i in requests],
                )
            ]
        sums: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        for request_id in order:
            r = requests[request_id]
            if r.state is State.ABANDONED:
                continue
            sums[(r.requester, r.party)] += r.amount
            assert r.required_approvals >= tier(sums[(r.requester, r.party)]), (r, sums)

    @invariant()
    def every_approval_counts_once(self) -> None:
        with self.a.runtime.services.store.read() as db:
            for r in self._requests():
                givers = {a.approver for a in repo.approvals(db, r.id) if a.counts}
                if r.state is State.PENDING:
                    assert len(givers) < r.required_approvals, (r, givers)
                elif r.state in (State.APPROVED, State.CONFIRMING, State.CONFIRMED, State.SUCCEEDED):
                    assert len(givers) >= r.required_approvals, (r, givers)
        assert not self.errors, [e.getMessage() for e in self.errors]


@pytest.mark.long_running(seconds=60)
def test_money_checks_hold_on_two_replicas_under_random_interleavings(
    world: World,  # noqa: F811
    postgres_cluster: Any,
    tmp_path: Path,
) -> None:
    database_url = postgres_cluster.new_database()
    config = tmp_path / "whalet-bot.toml"
    extra = f'daily_limit = {{ USD = "{LIMIT}" }}\naggregate_window_hours = 24\nday_zone = "Asia/Shanghai"'
    config.write_text(policy(extra, POOL), encoding="utf-8")
    clock = FrozenClock(world.sandbox.clock.now())
    TwoReplicas.clock, TwoReplicas.sandbox = clock, world.sandbox
    TwoReplicas.a = Replica(world, config, tmp_path / "unused.db", database_url, clock)
    TwoReplicas.b = Replica(world, config, tmp_path / "unused.db", database_url, clock)
    TwoReplicas.fresh = iter(POOL)
    catch = Listeners()
    TwoReplicas.errors = catch.records
    logging.getLogger().addHandler(catch)
    try:
        run_state_machine_as_test(
            TwoReplicas,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=8,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        logging.getLogger().removeHandler(catch)
        TwoReplicas.a.close()
        TwoReplicas.b.close()
