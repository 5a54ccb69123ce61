"""A stateful (hypothesis) test of money and messages over TWO replicas on one real Postgres.

Two replicas (``test_money_checks_replicas.Replica``: the real app, each on its own event loop
and thread, so their transactions really overlap) share one database, one Whalet sandbox (a real
server on loopback, which keeps working on a call after the bot's client gave up) and one frozen
clock. Hypothesis interleaves requests (one at a time, or two at the same moment on both
replicas, from the same requester to the same beneficiary or not), approvals (one, or two
approvers clicking at once on the two replicas; a quorum sends the confirm), a Whalet that
answers the next confirm slowly, loses its answer or fails, sweeps on either replica or both at
once, seconds after (the one that did not send a confirm takes it over once its lease ran out),
bursts of collection notices and both replicas' outbox workers folding and posting them at the
same moment, and clock jumps across Shanghai's midnight. Whalet may still be running a confirm
while up to ``confirm_settle_seconds`` pass on the clock; a longer move first waits until it
finished (what the setting promises). Every example starts with a request, often approved at
once with Whalet in trouble, and uses requesters and notices of its own, so examples share the
database without meeting.

After every step:

1. the daily limit holds: per requester and calendar day in ``day_zone``, the requests that
   count (anything not rejected, expired or abandoned) add up to at most the limit;
2. the split window holds: in the order the requests were inserted (their audit rows), each
   one needs at least the approvals its tier gives to the sum of the same requester's requests
   to the same beneficiary that were surely live when it came (being paid or paid within the
   window, or pending and not yet expired), itself included;
3. every approval counts once: a request is still pending exactly when fewer distinct approvers
   than it needs have approved it, and no listener raised;
4. at Whalet, no two confirms of one order ever ran at the same time, and no order was
   confirmed twice;
5. no collection notice is in two Slack messages (alone or as a line of a summary), and at the
   end of the example, with the outbox drained, each was posted alone or folded into exactly one
   summary that was posted (a long summary names its first lines and counts the rest);
6. batches (``/whalet payout batch`` on either replica, approved like any request, released by
   the click on one replica while the other's sweep releases it too): no line has more than one
   order confirmed at Whalet; a batch counts in the daily limit by its lines, once (the payouts
   its lines become are not counted a second time);
7. layers: EUR requests above 10,000 need layer 1 (U0APP1) then layer 2 (U0APP2 or U0APP3); the
   two layers' clicks come in order, reversed or at the same moment on the two replicas, some
   after Whalet's quote ran out (so the approval renews it first, on either replica). A request
   that reached approval has one counting approval per layer, by different people, given in
   layer order, and its order is confirmed at most once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
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
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core.clock import FrozenClock
from core.storage import outbox as outbox_rows
from services.approvals import repo
from services.approvals.reconcile import sweep
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
# 200 examples per CI run (two halves of 100, each its own random run, on two workers); the
# calendar runs (the machine clock moved by libfaketime) repeat the test for its dates, not its
# count, with fewer.
EXAMPLES = 30 if "faketime" in os.environ.get("LD_PRELOAD", "") else 200
TIMEOUT = 0.1  # the bot's Whalet timeout here; a "slow" Whalet answers after 0.5 s
SETTLE = 30  # [approvals] confirm_settle_seconds (the default)
COLLECT = "C0COLLECT"
# What Whalet does to the next confirm: answer late, lose the answer of one it applied, fail
# before or after applying it.
TROUBLE = ("latency", "timeout_after_apply", "timeout_before_apply", "http_500_after_apply", "http_500")


# The layered tier of this test's policy: EUR above 10,000 (demo policy: two approvals).
LAYERS = (("U0APP1",), ("U0APP2", "U0APP3"))
LAYERED_TIER = '{ currency = "EUR", up_to = "90000", layers = [["U0APP1"], ["U0APP2", "U0APP3"]] }'


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
    slack: Any

    def __init__(self) -> None:
        super().__init__()
        self.people = [next(self.fresh) for _ in range(2)]
        self.errors.clear()
        self.sandbox.faults.clear()
        self.tag = secrets.token_hex(3)
        self.unsettled = 0  # seconds the clock moved since Whalet last had no confirm running
        self.notices: list[str] = []
        # Examples share the sandbox, whose quotes freeze money until confirmed or expired: the
        # layered EUR requests need a balance each example can count on.
        eur = self.sandbox.state.ledger.balance("U10001", "B2C", "EUR")
        eur.available = max(eur.available, Decimal("400000"))

    def _requests(self) -> list[Any]:
        with self.a.runtime.services.store.read() as db:
            return [r for r in repo.in_states(db, tuple(State)) if r.requester in self.people]

    @initialize(amount=st.sampled_from(["60", "5000"]), approved=st.booleans(), trouble=st.sampled_from(TROUBLE))
    def a_first_request(self, amount: str, approved: bool, trouble: str) -> None:
        """Every example starts with a request, often approved at once with Whalet in trouble, so
        that the confirm's dangers (a late answer, a lost one) are met in most examples."""
        at_once((self.a, self.a.slack.command(self.people[0], f"payout {amount} USD to acme-us", channel_id="C0D")))
        if approved:
            self.approve(0, False, trouble)

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

    @rule(
        who=st.integers(0, 1),
        amounts=st.lists(st.sampled_from(["60", "5000"]), min_size=1, max_size=3),
        party=st.sampled_from(PARTIES),
        where=st.sampled_from(["a", "b"]),
    )
    def batch(self, who: int, amounts: list[str], party: str, where: str) -> None:
        """A CSV batch through the modal on one replica (its file read from the stand-in)."""
        replica = self.a if where == "a" else self.b
        person = self.people[who]
        before = len(self.slack.views(person))
        at_once((replica, replica.slack.command(person, "payout batch", channel_id="C0D")))
        opened = self.slack.views(person)[before:]
        if not opened:
            return
        rows = "".join(f"{party},{amount},USD,L{n}\n" for n, amount in enumerate(amounts))
        picked = self.slack.add_user_file(person, "b.csv", f"beneficiary,amount,currency,reference\n{rows}".encode())
        at_once((replica, replica.slack.view_submission(person, opened[-1], {"file": [picked]})))

    @rule(
        who=st.integers(0, 1),
        amount=st.sampled_from(["12000", "20000"]),
        second=st.sampled_from(LAYERS[1]),
        order=st.sampled_from(["in order", "reversed", "together"]),
        late=st.booleans(),
        trouble=st.none() | st.sampled_from(TROUBLE),
    )
    def layered(self, who: int, amount: str, second: str, order: str, late: bool, trouble: str | None) -> None:
        """A request of the layered tier and its two layers' clicks, one on each replica; ``late``:
        after Whalet's 10-minute quote ran out (the click renews it before it counts)."""
        person = self.people[who]
        before = {r.id for r in self._requests()}
        at_once((self.a, self.a.slack.command(person, f"payout {amount} EUR to berlin-gmbh", channel_id="C0D")))
        made = [r for r in self._requests() if r.id not in before and r.layers and r.state is State.PENDING]
        if not made:
            return
        if late:
            self._let_whalet_finish()
            self.clock.advance(timedelta(minutes=12))
            self.sandbox.clock.advance(12 * 60)
        self.sandbox.faults.clear()
        if trouble:
            seconds = 0.5 if trouble.startswith("timeout") or trouble == "latency" else 0.0
            self.sandbox.faults.replace([{"apiCode": "payoutConfirm", "kind": trouble, "seconds": seconds}])
        card = card_of(self.a, made[0].id)
        one = (self.a, self.a.slack.block_action(LAYERS[0][0], card, "approval_approve"))
        two = (self.b, self.b.slack.block_action(second, card, "approval_approve"))
        if order == "together":
            at_once(one, two)
        else:
            for click in (one, two) if order == "in order" else (two, one):
                at_once(click)

    @rule(pick=st.integers(0, 20), two=st.booleans(), trouble=st.none() | st.sampled_from(TROUBLE))
    def approve(self, pick: int, two: bool, trouble: str | None) -> None:
        """``trouble``: what Whalet does to the confirm a quorum sends."""
        pending = [r for r in self._requests() if r.state is State.PENDING]
        if not pending:
            return
        self.sandbox.faults.clear()
        if trouble:
            seconds = 0.5 if trouble.startswith("timeout") or trouble == "latency" else 0.0
            self.sandbox.faults.replace([{"apiCode": "payoutConfirm", "kind": trouble, "seconds": seconds}])
        card = card_of(self.a, pending[pick % len(pending)].id)
        clicks = [(self.a, self.a.slack.block_action(APPROVERS[0], card, "approval_approve"))]
        if two:
            clicks.append((self.b, self.b.slack.block_action(APPROVERS[1], card, "approval_approve")))
        at_once(*clicks)

    @rule(where=st.sampled_from(["a", "b", "both"]), after=st.sampled_from([0, 1, 5, 20]))
    def sweeps(self, where: str, after: int) -> None:
        """A sweep on one replica or both at once, ``after`` seconds: seconds in which Whalet may
        still be working on a confirm the bot gave up on, as long as they add up to no more than
        ``confirm_settle_seconds`` (the promise the setting stands for)."""
        if self.unsettled + after > SETTLE:
            self._let_whalet_finish()
        self.unsettled += after
        self.clock.advance(timedelta(seconds=after))
        replicas = {"a": [self.a], "b": [self.b], "both": [self.a, self.b]}[where]
        futures = [asyncio.run_coroutine_threadsafe(sweep(r.runtime.services), r.loop) for r in replicas]
        for future in futures:
            future.result(60)

    @rule(count=st.integers(1, 9), where=st.sampled_from(["a", "b"]))
    def collections_arrive(self, count: int, where: str) -> None:
        store = (self.a if where == "a" else self.b).runtime.services.store
        with store.transaction() as db:
            for _ in range(count):
                line = f"collection {self.tag}-{len(self.notices)}"
                self.notices.append(line)
                outbox_rows.enqueue_post(db, channel=COLLECT, text=line, kind="collection", fold_line=line)

    @rule()
    def both_outboxes_deliver(self) -> None:
        futures = [asyncio.run_coroutine_threadsafe(_deliver(r), r.loop) for r in (self.a, self.b)]
        for future in futures:
            future.result(60)

    @rule(hours=st.sampled_from([1, 3, 9]))
    def time_passes(self, hours: int) -> None:
        self._let_whalet_finish()
        self.clock.advance(timedelta(hours=hours))
        self.sandbox.clock.advance(hours * 3600)  # Whalet's quotes age with the bot's clock

    def _let_whalet_finish(self) -> None:
        deadline = time.monotonic() + 10
        while any(end is None for o in self._orders() for _, end in o.confirm_spans):
            assert time.monotonic() < deadline, "Whalet never finished a confirm"
            time.sleep(0.01)
        self.unsettled = 0

    def _orders(self) -> list[Any]:
        ours = {r.mer_order_no for r in self._requests()}
        return [o for o in list(self.sandbox.state.orders.orders.values()) if o.mer_order_no in ours]

    def _shown(self, line: str) -> int:
        """Messages showing ``line``: as the whole message, or as a bullet of a summary."""
        return sum(line == m.text or f"• {line}" in m.text.split("\n") for m in self.slack.messages(COLLECT))

    @invariant()
    def no_two_confirms_of_one_order_overlap_and_none_is_confirmed_twice(self) -> None:
        for order in self._orders():
            assert order.overlapping_confirms() == 0, (order.mer_order_no, order.confirm_spans)
            assert order.confirm_count <= 1, (order.mer_order_no, order.confirm_count)

    @invariant()
    def no_batch_line_has_two_orders_confirmed(self) -> None:
        confirmed: dict[str, int] = defaultdict(int)
        for order in self._orders():
            if order.mer_order_no.startswith("WBB") and order.confirm_count:
                confirmed[order.mer_order_no[:-1]] += 1  # WBB<batch><line><attempt>
        assert all(count == 1 for count in confirmed.values()), dict(confirmed)

    @invariant()
    def layered_requests_are_approved_layer_by_layer(self) -> None:
        with self.a.runtime.services.store.read() as db:
            for r in self._requests():
                if not r.layers or r.state not in PAID_OR_PAYING:
                    continue
                assert tuple(tuple(layer) for layer in r.layers) == LAYERS, r.layers
                given = [a for a in repo.approvals(db, r.id) if a.counts and a.layer is not None]
                by_layer = {a.layer: a for a in sorted(given, key=lambda a: a.at)}
                assert sorted(by_layer) == [0, 1], (r.id, given)
                assert by_layer[0].approver in LAYERS[0] and by_layer[1].approver in LAYERS[1], given
                assert by_layer[0].at <= by_layer[1].at, given

    @invariant()
    def no_notice_is_posted_twice(self) -> None:
        assert all(self._shown(line) <= 1 for line in self.notices), self.notices

    def teardown(self) -> None:
        # A post that failed on a loaded machine (Slack's answer later than the client waits) is
        # retried after a backoff in real time, not on the business clock: wait for it, bounded.
        deadline = time.monotonic() + 45  # a lease (30 s) taken over, then one more try
        while True:
            self.both_outboxes_deliver()
            with self.a.runtime.services.store.read() as db:
                if not db.execute("SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')").fetchone():
                    break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if self.notices:
            with self.a.runtime.services.store.read() as db:
                marks = ",".join("?" * len(self.notices))
                rows = db.execute(
                    f"""SELECT n.text, n.state, s.state FROM outbox n LEFT JOIN outbox s ON s.id = n.folded_into
                        WHERE n.kind = 'collection' AND n.text IN ({marks})""",
                    self.notices,
                ).fetchall()
            assert len(rows) == len(self.notices)
            for text, state, summary in rows:  # posted alone, or folded into a summary that was posted
                assert state == "done" and summary in (None, "done"), (text, state, summary)
                assert summary is not None or self._shown(text) == 1, text
        self._let_whalet_finish()

    @invariant()
    def the_daily_limit_holds(self) -> None:
        spent: dict[tuple[str, object], Decimal] = defaultdict(Decimal)
        for r in self._requests():  # a batch by its lines (all USD here: its amount), its lines' payouts not again
            if r.state in COUNTED and r.batch_id is None and r.currency == "USD":
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
        earlier: list[Any] = []
        for request_id in order:
            r = requests[request_id]
            if r.state is State.ABANDONED or r.is_batch or r.batch_id is not None or r.currency != "USD":
                continue  # batches: the bot's check is per line and beneficiary (not modelled here: weaker, sound)
            total = r.amount + sum(
                (q.amount for q in earlier if q.requester == r.requester and q.party == r.party and _live_at(q, r)),
                Decimal(0),
            )
            assert r.required_approvals >= tier(total), (r, total)
            earlier.append(r)

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


PAID_OR_PAYING = (State.APPROVED, State.CONFIRMING, State.CONFIRM_UNKNOWN, State.CONFIRMED, State.SUCCEEDED)


def _live_at(earlier: Any, later: Any) -> bool:
    """Whether ``earlier`` surely counted in ``later``'s window: within the 24 hours, and money
    moving, or still pending and not expired when ``later`` came. (A request rejected or failed
    since may have counted too; leaving it out keeps the invariant sound, if weaker.)"""
    if earlier.created_at <= later.created_at - timedelta(hours=24):
        return False
    if earlier.state in PAID_OR_PAYING:
        return True
    return earlier.state is State.PENDING and earlier.expires_at is not None and earlier.expires_at > later.created_at


async def _deliver(replica: Replica) -> None:
    """One pass of the replica's real outbox worker, as its loop makes them: take over rows whose
    lease ran out, fold bursts, post each channel's next rows."""
    worker = replica.runtime.services.outbox
    for _ in range(3):
        worker._take_over_expired()
        worker._fold_bursts()
        tasks: set[asyncio.Task[None]] = set()
        worker._dispatch(tasks)
        if tasks:
            await asyncio.wait(tasks)


@pytest.mark.long_running(seconds=60)
@pytest.mark.parametrize("half", [1, 2])  # two runs of EXAMPLES / 2, so two workers share the time
def test_money_checks_hold_on_two_replicas_under_random_interleavings(
    world: World,  # noqa: F811
    postgres_cluster: Any,
    tmp_path: Path,
    half: int,
) -> None:
    database_url = postgres_cluster.new_database()
    config = tmp_path / "whalet-bot.toml"
    extra = f'daily_limit = {{ USD = "{LIMIT}" }}\naggregate_window_hours = 24\nday_zone = "Asia/Shanghai"'
    fast_slack = 'alerts_channel = "C0ALERTS"\npace_per_second = 1000\nburst = 1000\n'
    text = policy(extra, POOL).replace('alerts_channel = "C0ALERTS"\n', fast_slack)
    text = text.replace('{ currency = "EUR", up_to = "90000", approvals = 2 }', LAYERED_TIER)
    assert LAYERED_TIER in text
    config.write_text(text, encoding="utf-8")
    clock = FrozenClock(world.sandbox.clock.now())
    TwoReplicas.clock, TwoReplicas.sandbox, TwoReplicas.slack = clock, world.sandbox, world.fake
    TwoReplicas.a = Replica(world, config, tmp_path / "unused.db", database_url, clock, whalet_timeout=TIMEOUT)
    TwoReplicas.b = Replica(world, config, tmp_path / "unused.db", database_url, clock, whalet_timeout=TIMEOUT)
    TwoReplicas.fresh = iter(POOL)
    catch = Listeners()
    TwoReplicas.errors = catch.records
    logging.getLogger().addHandler(catch)
    try:
        run_state_machine_as_test(
            TwoReplicas,
            settings=settings(
                max_examples=EXAMPLES // 2,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        logging.getLogger().removeHandler(catch)
        TwoReplicas.a.close()
        TwoReplicas.b.close()
