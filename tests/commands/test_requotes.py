"""Requests that outlive Whalet's quote (issue 21, item 4), on the approval machine's harness:
signed commands and clicks into the real Bolt app, the real sandbox (whose quote lasts 10 minutes)
with its clock moved alongside the bot's, and the market moved through the sandbox's operator.

The invariant everywhere: the superseded order is never confirmed, and a new quote beyond the
tolerance is never confirmed on approvals given before it was shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.approvals import repo
from services.approvals.states import State
from tests.commands.test_approval_machine import REQUESTER, ApprovalFlow, faults, flow, world  # noqa: F401

pytestmark = pytest.mark.usefixtures("world")  # the approval machine's sandbox and Slack stand-in
PAYOUT_HKD = "payout 500 USD to acme-hk"


def _request(m: ApprovalFlow) -> Any:
    m.dispatch(m.slack.command(REQUESTER, PAYOUT_HKD, channel_id="C0DEMO"))
    r = m.requests()[-1]
    assert r.state is State.PENDING and r.rate is not None and r.quote_expires_at is not None, r
    return r


def _orders(m: ApprovalFlow) -> dict[str, Any]:
    return {o.mer_order_no: o for o in m.sandbox.state.orders.orders.values()}


def _move_market(m: ApprovalFlow, factor: str) -> None:
    m.run(m.operator.post("/sandbox/rates", json={"currency": "HKD", "factor": factor})).raise_for_status()


def _actions(m: ApprovalFlow, request_id: str) -> list[str]:
    with m.services.store.read() as db:
        return [
            row[0] for row in db.execute("SELECT action FROM audit_log WHERE subject = ?", [f"approval:{request_id}"])
        ]


def test_a_request_waits_past_its_quote_and_a_close_new_quote_is_confirmed() -> None:
    m = flow()
    try:
        first = _request(m)
        m.move_clock(12)  # the quote (10 min) is over; the request (30 min) is not
        m.sweep(0)
        assert m.requests()[-1].state is State.PENDING, "a quote that ran out no longer ends the request"
        _move_market(m, "1.002")  # 20 bp: within the 50 bp tolerance
        m.approve("U0APP1", 0, False)
        r = m.requests()[-1]
        assert r.state is State.CONFIRMED, r
        assert r.superseded_orders == (first.mer_order_no,) and r.mer_order_no != first.mer_order_no
        orders = _orders(m)
        assert orders[first.mer_order_no].confirm_count == 0
        assert orders[r.mer_order_no].confirm_count == 1
        assert r.rate != first.rate and "requote.within" in _actions(m, r.id)
    finally:
        m.teardown()


def test_a_new_quote_beyond_the_tolerance_needs_the_approvals_again() -> None:
    m = flow()
    try:
        first = _request(m)
        m.move_clock(12)
        _move_market(m, "1.02")  # 200 bp
        m.approve("U0APP1", 0, False)
        r = m.requests()[-1]
        assert r.state is State.PENDING and m.watch.confirms == {}, (r, m.watch.confirms)
        with m.services.store.read() as db:
            assert repo.approvals(db, r.id) == [], "approvals on the old terms no longer count"
        card = str(m.card_of(r.id))
        assert "please approve again" in card and f"rate {first.rate}" in card and f"rate {r.rate}" in card
        assert "requote.beyond" in _actions(m, r.id)
        m.approve("U0APP1", 0, False)  # approves the terms now shown
        r = m.requests()[-1]
        assert r.state is State.CONFIRMED
        assert _orders(m)[first.mer_order_no].confirm_count == 0 and _orders(m)[r.mer_order_no].confirm_count == 1
    finally:
        m.teardown()


def test_whalet_refusing_the_new_quote_leaves_the_request_approved_and_retried() -> None:
    m = flow()
    try:
        first = _request(m)
        m.move_clock(12)
        faults(m, {"apiCode": "payoutApply", "kind": "http_500", "times": 1})
        m.approve("U0APP1", 0, False)
        r = m.requests()[-1]
        assert r.state is State.APPROVED and "could not be had" in (r.note or ""), r
        assert m.watch.confirms == {}
        m.sweep(1)  # past the retry pause: another new order, then the confirm
        r = m.requests()[-1]
        assert r.state is State.CONFIRMED, r
        assert first.mer_order_no in r.superseded_orders and len(r.superseded_orders) == 2
        orders = _orders(m)
        assert [no for no in (*r.superseded_orders, r.mer_order_no) if orders.get(no) and orders[no].confirm_count] == [
            r.mer_order_no
        ]
    finally:
        m.teardown()


def test_a_request_still_ends_at_its_own_deadline() -> None:
    m = flow()
    try:
        _request(m)
        m.move_clock(40)  # past ttl_minutes = 30
        m.sweep(0)
        m.sweep(0)
        r = m.requests()[-1]
        assert r.state is State.EXPIRED
        with m.services.store.read() as db:  # the requester is told, once, in a DM
            told = [t for (t,) in db.execute("SELECT text FROM outbox WHERE channel = ?", [REQUESTER])]
        assert [t for t in told if r.id in t] == [
            next(t for t in told if t.startswith(f":alarm_clock: Your payout request `{r.id}`") and "expired" in t)
        ]
    finally:
        m.teardown()


def test_a_confirm_refused_as_the_quote_ends_gets_a_new_quote_not_a_failure() -> None:
    """Whalet's clock runs two minutes ahead of the bot's: the bot still sees 90 s of quote left
    and confirms; Whalet refuses, the order being past its quote. The order was not confirmed and
    never can be, so the request renews its quote and is confirmed under the new order."""
    m = flow()
    try:
        first = _request(m)
        m.move_clock(8)
        m.clock.advance(timedelta(seconds=30))  # the bot: 8.5 min of 10 gone
        m.sandbox.clock.advance(150)  # Whalet: 11 min gone, the order expired
        m.approve("U0APP1", 0, False)
        r = m.requests()[-1]
        assert r.state is State.CONFIRMED, r
        assert r.superseded_orders == (first.mer_order_no,)
        orders = _orders(m)
        assert orders[first.mer_order_no].status == "EXPIRED" and orders[r.mer_order_no].confirm_count == 1
        assert "confirm.quote_expired" in _actions(m, r.id)
    finally:
        m.teardown()
