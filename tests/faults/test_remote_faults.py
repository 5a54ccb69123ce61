"""Slack and Whalet misbehaving while the app runs (in-process stack, real HTTP on loopback).

Slack: a 429 storm with Retry-After, 503s, a dropped connection and an answer slower than our
client waits; every message still lands exactly once (the slow one is found by its metadata,
not posted twice). Whalet: 5xx and forged signatures on payoutConfirm end in CONFIRM_UNKNOWN,
resolved by a lookup, never a second confirm; TOO_MANY_REQUESTS is retried for reads and
explained for money-moving calls. (Timeouts on confirm are in tests/commands/test_e2e_races.py.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from devkit.localstack import DEMO_CONFIG, LocalStack
from tests.commands.helpers import ask, audit_actions, click, request_payout, row
from tests.faults.harness import wait_until

COLLECT = "C0COLLECT"


def faults(stack: LocalStack, *rules: dict) -> None:  # type: ignore[type-arg]
    stack.operator.post("/sandbox/faults", json={"rules": list(rules)}).raise_for_status()


def test_slack_storm_delivers_every_message_exactly_once(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(settings_overrides={"slack_timeout_seconds": 1})  # we give up after 1 s (10 s in production)
    stack.fake.script("chat.postMessage", [("ratelimited", 1)] * 4 + [("status", 503), ("reset",), ("sleep", 2)])
    amounts = ["1.11", "2.22", "3.33"]
    for amount in amounts:
        stack.operator.post(
            "/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": amount, "payerName": "Initech"}
        ).raise_for_status()
    with_amounts = lambda: [m.text for m in stack.fake.messages(COLLECT)]  # noqa: E731
    wait_until(lambda: all(any(f"{a} USD" in t for t in with_amounts()) for a in amounts), 40, what="all posts")
    wait_until(lambda: stack.services.outbox.counters["reconciled"] >= 1, 15, what="the slow post found by metadata")
    for amount in amounts:
        assert sum(f"{amount} USD" in text for text in with_amounts()) == 1, with_amounts()
    posts = stack.fake.calls("chat.postMessage")
    assert stack.fake.scripted_pending("chat.postMessage") == 0 and len(posts) >= 7
    rate_limited = [c for c in posts if c.error == "ratelimited"]
    assert all(
        b.time - a.time >= 0.9 for a, b in zip(rate_limited, rate_limited[1:], strict=False)
    )  # Retry-After honoured

    def left() -> int:
        with stack.services.store.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state != 'done'").fetchone()[0])

    # the last row is marked done just after its post shows at Slack: on a loaded machine, a moment later
    wait_until(lambda: left() == 0, 10, what="every outbox row done")


@pytest.mark.parametrize(
    "kind, applied", [("http_500", False), ("http_500_after_apply", True), ("bad_signature", True)]
)
def test_untrustworthy_confirm_answer_is_resolved_by_lookup_and_confirmed_once(
    make_stack: Callable[..., LocalStack], caplog: pytest.LogCaptureFixture, kind: str, applied: bool
) -> None:
    # A 500 may come from a gateway while Whalet still works on the confirm: it is looked up once
    # confirm_settle_seconds have passed (1 s here, 30 by default); the sweep runs every second.
    stack = make_stack(
        DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nconfirm_settle_seconds = 1\nsweep_seconds = 1"),
        settings_overrides={"whalet_timeout_seconds": 1.0},
    )
    request_id, card = request_payout(stack)
    faults(stack, {"apiCode": "payoutConfirm", "kind": kind})
    with caplog.at_level(logging.INFO):
        answer = click(stack, "U0APP1", card)
        # the click's bounded loop may already have looked it up and re-confirmed once
        assert "don't know yet" in answer.text or answer.text == "Approved and sent to Whalet.", answer.text
        wait_until(lambda: row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED"), 20)
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 1
    actions = audit_actions(stack, request_id)
    assert "confirm.unknown" in actions
    # Whalet had it: the lookup says so. Whalet never got it: the lookup sees WAIT_CONFIRM, confirms once.
    assert ("reconcile.confirm_again" in actions) is (not applied), actions
    alerts = [r for r in caplog.records if getattr(r, "event", None) == "whalet_bad_signature"]
    assert bool(alerts) is (kind == "bad_signature") and all(r.levelno == logging.ERROR for r in alerts)


def test_too_many_requests_on_a_read_is_retried_and_answered(stack: LocalStack) -> None:
    faults(stack, {"apiCode": "queryCurrencyBalance", "kind": "too_many_requests", "times": 2})
    _, reply = ask(stack, "U0REQ", "balance USD", timeout=20)
    assert "250,000.00" in json.dumps(reply.blocks, ensure_ascii=False) + reply.text
    fired = stack.operator.get("/sandbox/faults").json()["fired"]
    assert [f["kind"] for f in fired] == ["too_many_requests"] * 2


def test_too_many_requests_on_payout_apply_is_explained_and_nothing_is_pending(stack: LocalStack) -> None:
    faults(stack, {"apiCode": "payoutApply", "kind": "too_many_requests", "times": None})
    _, reply = ask(stack, "U0REQ", "payout 10 USD to acme-us")
    assert "Whalet is rate-limiting us, try again in a minute." in reply.text
    with stack.services.store.read() as db:
        states = [r[0] for r in db.execute("SELECT state FROM approval_requests")]
    assert states == ["ABANDONED"] and stack.confirm_counts() == {}


def test_read_timeout_is_retried(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(settings_overrides={"whalet_timeout_seconds": 1})
    faults(stack, {"apiCode": "queryCurrencyBalance", "kind": "latency", "seconds": 2})
    _, reply = ask(stack, "U0REQ", "balance USD", timeout=20)
    assert "250,000.00" in json.dumps(reply.blocks, ensure_ascii=False) + reply.text
