"""Whalet answering in ways the happy path never sees, at the real boundary (issue 9, items 3 and 6).

The sandbox's ``refuse``, ``refuse_after_apply`` and ``rewrite_answer`` faults make it answer a
confirm with a duplicate code, a lookup with a status the bot does not know, and an apply with an
amount that is not the one asked for. Each test drives the real Bolt app and the real sandbox on
the in-process harness of the stateful test (``tests/commands/test_approval_machine.py``), whose
``Watch`` transport also checks the send-time invariants on every confirm these tests cause.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from devkit.localstack import DEMO_PARTNER_ID
from notifications.relay import relay_pending
from services.approvals import repo
from services.approvals.guards import Block, why_not_send
from services.approvals.states import State
from tests.commands.helpers import audit_actions
from whalet.envelope import dumps_compact
from tests.commands.test_approval_machine import (
    REQUESTER,
    ApprovalFlow,
    card_text_of,
    faults,
    flow,
    only,
    sandbox_confirms,
)
from tests.commands.test_approval_machine import world as world  # noqa: F401 - the module's fixture

LOOKUP = {"payout": "queryWithdrawRecords", "pay": "queryPayRecords"}


def alerts(m: ApprovalFlow) -> list[str]:
    with m.services.store.read() as db:
        return [r[0] for r in db.execute("SELECT text FROM outbox WHERE kind = 'alert'")]


def test_a_lookup_status_the_bot_does_not_know_stays_unknown_until_whalet_settles_it(world: None) -> None:
    m = flow()
    try:
        m.request("payout", "100")
        faults(
            m,
            {"apiCode": "payoutConfirm", "kind": "http_500_after_apply", "times": 1},
            {
                "apiCode": "queryWithdrawRecords",
                "kind": "rewrite_answer",
                "fields": {"status": "ON_HOLD"},
                "times": None,
            },
        )
        m.approve("U0APP1", 0, False)
        m.sweep(1)
        r = only(m)
        assert r.state is State.CONFIRM_UNKNOWN and r.lookups >= 1
        assert "status the bot does not know (ON_HOLD)" in card_text_of(m, r.id)
        assert len([a for a in alerts(m) if "ON_HOLD" in a and r.id in a]) == 1  # one alert, not one per lookup
        m.move_clock(40)  # past the request's expiry: an unknown outcome never becomes "expired"
        m.sweep(1)
        r = only(m)
        assert r.state is State.CONFIRM_UNKNOWN
        with m.services.store.read() as db:  # it still counts toward the requester's daily total
            assert repo.spent_today(db, REQUESTER, "USD", r.created_at.replace(hour=0, minute=0, second=0)) >= 100
        m.run(m.operator.delete("/sandbox/faults"))  # Whalet reports the real status again
        m.sweep(1)
        r = only(m)
        assert r.state in (State.CONFIRMED, State.SUCCEEDED), r
        assert sandbox_confirms(m, r.mer_order_no) == 1 and m.watch.confirms[r.mer_order_no] == 1
        assert "does not know" not in card_text_of(m, r.id)
    finally:
        m.teardown()


@pytest.mark.parametrize("kind", ["payout", "pay"])
def test_a_duplicate_answer_to_a_confirm_whalet_took_is_looked_up_not_resent(world: None, kind: str) -> None:
    """IDEMPOTENT_ERROR after Whalet applied the confirm: the bot looks the order up, finds it
    confirmed and says so; it never sends a second confirm."""
    m = flow()
    try:
        m.request(kind, "100")
        faults(m, {"apiCode": f"{kind}Confirm", "kind": "refuse_after_apply", "code": "IDEMPOTENT_ERROR"})
        m.approve("U0APP1", 0, False)
        m.sweep(1)
        r = only(m)
        assert r.state in (State.CONFIRMED, State.SUCCEEDED), r
        assert m.watch.confirms[r.mer_order_no] == 1 == sandbox_confirms(m, r.mer_order_no)
        actions = audit_actions(m, r.id)
        assert "confirm.unknown" in actions and "reconcile.lookup" in actions
        assert actions.index("confirm.unknown") < actions.index("reconcile.lookup")
        assert not m.errors
    finally:
        m.teardown()


def test_a_request_number_clash_on_a_confirm_whalet_did_not_take_is_looked_up_then_confirmed_once(world: None) -> None:
    """REQUEST_NO_NOT_UNIQUE with nothing done: the lookup finds WAIT_CONFIRM, and only then one more
    confirm (with a new request number) goes out; Whalet ends with the order confirmed once."""
    m = flow()
    try:
        m.request("payout", "100")
        faults(m, {"apiCode": "payoutConfirm", "kind": "refuse", "code": "REQUEST_NO_NOT_UNIQUE"})
        m.approve("U0APP1", 0, False)
        m.sweep(1)
        r = only(m)
        assert r.state in (State.CONFIRMED, State.SUCCEEDED), r
        assert m.watch.confirms[r.mer_order_no] == 2 and sandbox_confirms(m, r.mer_order_no) == 1
        actions = audit_actions(m, r.id)
        assert (
            actions.index("confirm.unknown")
            < actions.index("reconcile.lookup")
            < actions.index("reconcile.confirm_again")
        )
    finally:
        m.teardown()


@pytest.mark.parametrize(
    "kind, party, code, fields",
    [
        (
            "payout",
            "acme-us",
            "payoutApply",
            {"amount": {"amount": "9999.00", "cent": 999900, "centFactor": 100, "currency": "USD"}},
        ),
        (
            "payout",
            "acme-us",
            "payoutApply",
            {"amount": {"amount": "100.00", "cent": 10000, "centFactor": 100, "currency": "EUR"}},
        ),
        ("payout", "acme-us", "payoutApply", {"merOrderNo": "WBOSOMEONEELSE1"}),
        (
            "pay",
            "U10002",
            "payApply",
            {"amount": {"amount": "1.00", "cent": 100, "centFactor": 100, "currency": "USD"}},
        ),
    ],
)
def test_an_apply_answer_that_does_not_match_the_request_is_abandoned_with_an_alert_and_no_card(
    world: None, kind: str, party: str, code: str, fields: dict[str, object]
) -> None:
    m = flow()
    try:
        faults(m, {"apiCode": code, "kind": "rewrite_answer", "fields": fields})
        before = len(m.fake.responses())
        m.dispatch(m.slack.command(REQUESTER, f"{kind} 100 USD to {party}", channel_id="C0DEMO"))
        answer = json.dumps([r.body for r in m.fake.responses()[before:]])
        assert "did not match the request" in answer, answer
        r = only(m)
        assert r.state is State.ABANDONED and m.card_of(r.id) is None
        assert [a for a in alerts(m) if r.id in a and "does not match" in a]
        assert m.watch.confirms[r.mer_order_no] == 0
    finally:
        m.teardown()


def test_a_rate_limit_answer_to_a_confirm_whalet_did_take_is_found_by_the_lookup_before_any_retry(world: None) -> None:
    """Whalet says TOO_MANY_REQUESTS (its word for "nothing done") but did confirm: the retry looks
    the order up first, finds it confirmed and sends nothing more."""
    m = flow()
    try:
        m.request("payout", "100")
        faults(m, {"apiCode": "payoutConfirm", "kind": "refuse_after_apply", "code": "TOO_MANY_REQUESTS"})
        m.approve("U0APP1", 0, False)
        assert only(m).state is State.APPROVED  # as Whalet said: try again later
        m.sweep(1)
        r = only(m)
        assert r.state in (State.CONFIRMED, State.SUCCEEDED), r
        assert m.watch.confirms[r.mer_order_no] == 1 == sandbox_confirms(m, r.mer_order_no)
    finally:
        m.teardown()


def test_a_confirm_still_running_at_whalet_is_neither_looked_up_nor_sent_again_before_it_settles(world: None) -> None:
    """Whalet answers the confirm after the bot gave up (its handler runs on, as a real server's
    does): the request stays "outcome unknown" under its lease for the timeout plus
    ``confirm_settle_seconds``; only then is the order looked up, and it is found confirmed.
    Before, the bot looked it up at once, found it still waiting and confirmed it a second time
    while the first confirm was running at Whalet."""
    m = flow(whalet_timeout=0.05)
    try:
        m.request("payout", "100")
        faults(m, {"apiCode": "payoutConfirm", "kind": "latency", "seconds": 0.4})
        m.approve("U0APP1", 0, False)  # the click's confirm times out after 0.15 s
        r = only(m)
        assert r.state is State.CONFIRM_UNKNOWN and r.lease_held(m.clock.now()), r
        assert "may still be running" in card_text_of(m, r.id)
        m.sweep(0)  # a sweep at once: nothing is due yet
        assert m.watch.calls[r.mer_order_no] == 2  # the apply and the one confirm, no lookup
        m.sweep(1)  # the settle span (30 s by default) passes: one lookup finds it PROCESSING
        r = only(m)
        assert r.state in (State.CONFIRMED, State.SUCCEEDED), r
        order = next(o for o in m.sandbox.state.orders.orders.values() if o.mer_order_no == r.mer_order_no)
        assert order.confirm_count == 1 and len(order.confirm_spans) == 1 and order.overlapping_confirms() == 0
        assert "reconcile.confirm_again" not in audit_actions(m, r.id)
        assert not m.errors
    finally:
        m.teardown()


def test_a_result_that_contradicts_the_request_settles_nothing_and_needs_attention(world: None) -> None:
    """The right order number, but 999,999 EUR under another Whalet user for a 100 USD request:
    a signed payoutResultNotify through the real webhook route does not settle the request; the
    card shows "needs attention" with both versions, and one alert goes to the alerts channel.
    Whalet's true result, when it comes, still settles it."""
    m = flow()
    try:
        m.request("payout", "100")
        m.approve("U0APP1", 0, False)
        r = only(m)
        assert r.state is State.CONFIRMED, r

        def result(user: str, amount: str, currency: str, number: str) -> None:
            money = {"amount": Decimal(amount), "cent": int(Decimal(amount) * 100), "centFactor": 100}
            body = {
                "userId": user,
                "payoutId": r.whalet_id,
                "merOrderNo": r.mer_order_no,
                "status": "SUCCESS",
                "currency": currency,
                "amount": {**money, "currency": currency},
                "fee": {"amount": Decimal("0"), "cent": 0, "centFactor": 100, "currency": currency},
                "toCurrency": currency,
                "toAmount": {**money, "currency": currency},
                "finishTime": "2030-01-01 10:00:00",
            }
            message = m.whalet_codec.encode_request(DEMO_PARTNER_ID, "payoutResultNotify", number, body)

            async def deliver() -> None:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=m.runtime.asgi), base_url="http://bot"
                ) as c:
                    answer = await c.post("/whalet/webhook", content=dumps_compact(message).encode())
                    assert answer.status_code == 200, answer.text
                await relay_pending(m.services)

            m.run(deliver())

        result("U10002", "999999", "EUR", "WN7000000001")
        r = only(m)
        assert r.state is State.CONFIRMED and r.result_status != "SUCCESS", r
        card = card_text_of(m, r.id)
        assert "Needs attention" in card and "999,999.00 EUR" in card and "100.00 USD" in card
        assert len([a for a in alerts(m) if "does not match the request" in a and r.id in a]) == 1

        # Nothing more is ever sent for it automatically (were it waiting for a re-confirm).
        waiting = r.with_(state=State.APPROVED, lease_owner=None, lease_until=None)
        refusal = why_not_send(waiting, now=m.clock.now(), frozen=False, current_approvers=["U0APP1"], max_attempts=3)
        assert refusal is not None and refusal.block is Block.ATTENTION

        result(r.user_id, "100", "USD", "WN7000000002")  # Whalet's true word
        assert only(m).state is State.SUCCEEDED
    finally:
        m.teardown()
