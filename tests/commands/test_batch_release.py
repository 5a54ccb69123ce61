"""Releasing a batch under faults, freezes and a moving market, on the approval machine's harness
(the real Bolt app, the Whalet sandbox in process, a clock the test moves, sweeps by hand).

- A freeze mid-batch: lines already confirmed stay so; nothing more is applied or confirmed
  until `/whalet unfreeze`; then the rest is paid, each line once.
- An apply whose answer is lost: its order is abandoned, never confirmed, and the line paid
  under the next attempt's order number.
- A quote beyond the drift tolerance: the batch goes back for approval with the new rate on its
  card; once approved again every line is paid, the drifted order never confirmed.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from services.approvals.states import State
from tests.commands.test_approval_machine import (  # noqa: F401
    CONFIG,
    REQUESTER,
    ApprovalFlow,
    faults,
    flow,
    world,
)

pytestmark = pytest.mark.usefixtures("world")  # the approval machine's sandbox and Slack stand-in

ONE_AT_A_TIME = CONFIG + "\n[batch]\nconcurrency = 1\n"


def _batch(m: ApprovalFlow, rows: str) -> Any:
    before = len(m.fake.views(REQUESTER))
    m.dispatch(m.slack.command(REQUESTER, "payout batch", channel_id="C0DEMO"))
    opened = m.fake.views(REQUESTER)[before:][-1]
    picked = m.fake.add_user_file(REQUESTER, "batch.csv", f"beneficiary,amount,currency,reference\n{rows}".encode())
    m.dispatch(m.slack.view_submission(REQUESTER, opened, {"file": [picked]}))
    batch = next(r for r in m.requests() if r.is_batch and r.state is State.PENDING)
    return batch


def _approve(m: ApprovalFlow, user: str, batch_id: str) -> None:
    """The machine's approve rule on the batch's card (its lines' payouts have none)."""
    m.approve(user, [r.id for r in m.requests()].index(batch_id), False)


def _lines(m: ApprovalFlow, batch_id: str) -> list[Any]:
    return [r for r in m.requests() if r.batch_id == batch_id]


def _confirmed_per_line(m: ApprovalFlow, batch_id: str) -> Counter[str]:
    prefix = f"WBB{batch_id[3:]}"
    return Counter(
        o.mer_order_no[:-1]
        for o in m.sandbox.state.orders.orders.values()
        if o.mer_order_no.startswith(prefix) and o.confirm_count
    )


def _state(m: ApprovalFlow, request_id: str) -> State:
    return next(r.state for r in m.requests() if r.id == request_id)


def test_a_freeze_mid_batch_holds_the_rest_and_a_lost_apply_is_paid_under_the_next_order() -> None:
    m = flow(ONE_AT_A_TIME)
    try:
        batch = _batch(m, "acme-us,100,USD,A\nacme-us,200,USD,B\nacme-us,300,USD,C\n")
        faults(m, {"apiCode": "payoutApply", "kind": "http_500", "times": 2})  # lines 1 and 2: answers lost
        _approve(m, "U0APP1", batch.id)
        assert sum(_confirmed_per_line(m, batch.id).values()) == 1  # line 3 only
        abandoned = [r for r in _lines(m, batch.id) if r.state is State.ABANDONED]
        assert len(abandoned) == 2 and all(r.mer_order_no.endswith("0") for r in abandoned)

        m.freeze(True)
        m.sweep(1)
        assert sum(_confirmed_per_line(m, batch.id).values()) == 1, "nothing more while frozen"
        assert "Frozen by an admin" in json.dumps(m.card_of(batch.id))

        m.freeze(False)
        m.sweep(1)
        per_line = _confirmed_per_line(m, batch.id)
        assert len(per_line) == 3 and set(per_line.values()) == {1}, per_line
        paid_again = {r.line_no: r.mer_order_no for r in _lines(m, batch.id) if r.state is not State.ABANDONED}
        assert sorted(o[-1] for o in paid_again.values()) == ["0", "1", "1"]  # two lines on their second order
        assert all(
            o.confirm_count == 0
            for o in m.sandbox.state.orders.orders.values()
            if o.mer_order_no in {r.mer_order_no for r in abandoned}
        )
        assert _state(m, batch.id) is State.CONFIRMED
    finally:
        m.teardown()


def test_a_quote_beyond_the_tolerance_sends_the_batch_back_for_approval() -> None:
    m = flow(ONE_AT_A_TIME)
    try:
        batch = _batch(m, "acme-hk,100,USD,A\nacme-hk,200,USD,B\n")
        assert "indicative USD→HKD" in (batch.summary or "")
        m.run(m.operator.post("/sandbox/rates", json={"currency": "HKD", "factor": "1.02"})).raise_for_status()
        _approve(m, "U0APP1", batch.id)
        back = next(r for r in m.requests() if r.id == batch.id)
        assert back.state is State.PENDING and "moved beyond 50 bp" in (back.note or ""), back
        assert _confirmed_per_line(m, batch.id) == Counter()
        drifted = [r for r in _lines(m, batch.id) if r.state is State.ABANDONED]
        assert len(drifted) == 1 and back.summary != batch.summary  # the card shows the new rate

        _approve(m, "U0APP2", batch.id)  # approved again, on the new rate
        per_line = _confirmed_per_line(m, batch.id)
        assert len(per_line) == 2 and set(per_line.values()) == {1}, per_line
        assert all(
            o.confirm_count == 0
            for o in m.sandbox.state.orders.orders.values()
            if o.mer_order_no == drifted[0].mer_order_no
        )
    finally:
        m.teardown()


def test_a_batch_sent_back_and_left_to_expire_says_the_lines_sent_stand() -> None:
    m = flow(ONE_AT_A_TIME)
    try:
        batch = _batch(m, "acme-us,100,USD,A\nacme-hk,200,USD,B\n")  # line 1 needs no rate; line 2 converts
        m.run(m.operator.post("/sandbox/rates", json={"currency": "HKD", "factor": "1.02"})).raise_for_status()
        _approve(m, "U0APP1", batch.id)
        assert sum(_confirmed_per_line(m, batch.id).values()) == 1 and _state(m, batch.id) is State.PENDING
        m.move_clock(40)  # past the batch's 30 minutes, still waiting for the approval again
        m.sweep(0)
        assert _state(m, batch.id) is State.EXPIRED
        card = json.dumps(m.card_of(batch.id))
        assert "Expired before it was approved again; the lines already sent stand" in card
        with m.services.store.read() as db:
            told = [r[0] for r in db.execute("SELECT text FROM outbox WHERE channel = ?", [REQUESTER])]
        assert any(
            "expired before it was approved again" in text and "Lines already sent stay" in text for text in told
        )
        assert sum(_confirmed_per_line(m, batch.id).values()) == 1  # the expired line was never sent
    finally:
        m.teardown()
