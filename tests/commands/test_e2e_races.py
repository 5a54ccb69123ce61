"""Exactly one confirm, whatever the clicks do; lost answers are resolved by lookup, not by resending."""

import json
import threading
from datetime import UTC, datetime, timedelta


from core.clock import FrozenClock
from devkit.localstack import DEMO_CONFIG
from tests.commands.helpers import click, has_buttons, request_payout, responses_since, row


def fire_together(stack, clicks):
    """Send signed clicks from threads released at the same instant (concurrent dispatch)."""
    barrier = threading.Barrier(len(clicks))
    results = [None] * len(clicks)

    def send(index, user, message):
        barrier.wait()
        results[index] = stack.slack_requests.block_action(user, message, "approval_approve")

    threads = [threading.Thread(target=send, args=(i, u, m)) for i, (u, m) in enumerate(clicks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    return results


def test_double_click_sends_one_confirm(stack, database_url: str | None):
    request_id, card = request_payout(stack)
    before = len(stack.fake.responses())
    results = fire_together(stack, [("U0APP1", card)] * 4)
    assert all(r.status_code == 200 for r in results)
    answers = [p.text for p in responses_since(stack, before, n=4)]
    assert sum(a == "Approved and sent to Whalet." for a in answers) == 1, answers
    stack.fake.wait_for(lambda: row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED"))
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 1


def test_two_approvers_racing_on_two_approver_tier(stack, database_url: str | None):
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")
    before = len(stack.fake.responses())
    fire_together(stack, [("U0APP1", card), ("U0APP2", card), ("U0APP1", card), ("U0APP2", card)])
    responses_since(stack, before, n=4)
    stack.fake.wait_for(lambda: row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED"))
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 1
    with stack.services.store.read() as db:
        approvers = sorted(
            r[0] for r in db.execute("SELECT approver FROM approvals WHERE request_id = ?", [request_id])
        )
    assert approvers == ["U0APP1", "U0APP2"]


# A confirm whose answer never came is looked up only once it cannot be running at Whalet any
# more: the timeout (x 3) plus confirm_settle_seconds (30 by default; 1 here, to keep tests short).
SETTLE_QUICKLY = DEMO_CONFIG.replace(
    "ttl_minutes = 30", "ttl_minutes = 30\nconfirm_settle_seconds = 1\nsweep_seconds = 1"
)


def test_confirm_timeout_ends_in_lookup_not_a_second_confirm(make_stack):
    stack = make_stack(SETTLE_QUICKLY, settings_overrides={"whalet_timeout_seconds": 1.0})
    request_id, card = request_payout(stack)
    # Whalet applies the confirm but answers only after our client gave up waiting.
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "payoutConfirm", "kind": "timeout_after_apply", "seconds": 2}]}
    ).raise_for_status()
    answer = click(stack, "U0APP1", card)
    assert "don't know yet" in answer.text
    stored = stack.fake.wait_for(
        lambda: (r := row(stack, request_id))["state"] in ("CONFIRMED", "SUCCEEDED") and r, timeout=15
    )
    assert stored["mer_order_no"] and stack.confirm_counts()[stored["mer_order_no"]] == 1
    with stack.services.store.read() as db:
        actions = [
            r[0]
            for r in db.execute(
                "SELECT action FROM audit_log WHERE subject = ? ORDER BY id", [f"approval:{request_id}"]
            )
        ]
    # Settled by a lookup once the confirm cannot be running at Whalet any more, or by Whalet's
    # result notification if that came first; never by a second confirm.
    assert actions[actions.index("confirm.unknown") + 1] in ("reconcile.lookup", "result.success"), actions
    assert "reconcile.confirm_again" not in actions
    card_now = stack.fake.wait_for(
        lambda: (m := stack.fake.message(card.channel, card.ts)) and "(confirm unknown)" not in m.text and m
    )
    assert not has_buttons(card_now)


def test_confirm_lost_before_whalet_applied_it_is_confirmed_once_after_lookup(make_stack):
    stack = make_stack(SETTLE_QUICKLY, settings_overrides={"whalet_timeout_seconds": 0.5})
    request_id, card = request_payout(stack)
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "payoutConfirm", "kind": "timeout_before_apply", "seconds": 0}]}
    ).raise_for_status()
    click(stack, "U0APP1", card)
    stored = stack.fake.wait_for(
        lambda: (r := row(stack, request_id))["state"] in ("CONFIRMED", "SUCCEEDED") and r, timeout=15
    )
    assert stack.confirm_counts()[stored["mer_order_no"]] == 1
    with stack.services.store.read() as db:
        actions = [
            r[0]
            for r in db.execute(
                "SELECT action FROM audit_log WHERE subject = ? ORDER BY id", [f"approval:{request_id}"]
            )
        ]
    assert "confirm.unknown" in actions and "reconcile.confirm_again" in actions


def test_expired_request_is_swept_and_late_click_changes_nothing(make_stack, database_url: str | None):
    # A minute ahead of the wall clock: the outbox stamps rows with the wall clock and sends them
    # when the injected clock reaches that stamp.
    clock = FrozenClock(datetime.now(UTC) + timedelta(minutes=1))
    stack = make_stack(DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 5\nsweep_seconds = 1"), clock=clock)
    request_id, card = request_payout(stack)
    assert "Open until <!date^" in json.dumps(card.blocks)
    clock.advance(timedelta(minutes=6))
    late = click(stack, "U0APP1", card)
    assert "expired" in late.text
    updated = stack.fake.wait_for(
        lambda: (
            (m := stack.fake.message(card.channel, card.ts))
            and "Expired — not sent" in json.dumps(m.blocks, ensure_ascii=False)
            and m
        )
    )
    assert not has_buttons(updated)
    assert row(stack, request_id)["state"] == "EXPIRED"
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 0
