"""The App Home (issue 11 item 2): contents per person, Approve and Reject from the Home under
the card's guards, republishing when a request moves, the balance snapshot and its Refresh, the
freeze banner. Signed events and clicks through the real Bolt app, the sandbox and the stand-in."""

from __future__ import annotations

import json
from typing import Any

from commands.home import REPUBLISH_EVERY
from core.storage import home as home_rows
from devkit.localstack import LocalStack
from tests.commands.helpers import ask, audit_actions, click, has_buttons, request_payout, row


def home_of(stack: LocalStack, user: str) -> Any:
    found = [v for v in stack.fake.views(user=user) if v.action == "views.publish"]
    return found[0] if found else None


def published(stack: LocalStack, user: str) -> int:
    view = home_of(stack, user)
    return -1 if view is None else view.updated_count


def open_home(stack: LocalStack, user: str) -> Any:
    """Open the Home tab as ``user``; the view published for that open."""
    before = published(stack, user)
    assert stack.slack_requests.event({"type": "app_home_opened", "user": user, "tab": "home"}).status_code == 200
    stack.fake.wait_for(lambda: published(stack, user) > before)
    return home_of(stack, user)


def text(view: Any) -> str:
    return json.dumps(view.view["blocks"], ensure_ascii=False)


def home_click(stack: LocalStack, user: str, view: Any, action_id: str, **forge: Any) -> Any:
    """Click in the Home; the Home republished with the answer at its top."""
    before = published(stack, user)
    assert stack.slack_requests.view_action(user, view, action_id, **forge).status_code == 200
    return stack.fake.wait_for(
        lambda: published(stack, user) > before and (h := home_of(stack, user)) and ":speech_balloon:" in text(h) and h,
        timeout=10,
    )


def test_the_home_shows_each_person_their_part(stack: LocalStack, database_url: str | None) -> None:
    request_id, _ = request_payout(stack)
    approver = open_home(stack, "U0APP1")
    assert "*Waiting for you* (1)" in text(approver) and request_id in text(approver)
    assert any(b["type"] == "actions" and request_id in b.get("block_id", "") for b in approver.view["blocks"])
    requester = open_home(stack, "U0REQ")
    assert "*Waiting for you* (0)" in text(requester) and "*Your requests*" in text(requester)
    assert request_id in text(requester) and "Waiting for approval — 0 of 1" in text(requester)
    viewer = open_home(stack, "U0VIEW")
    assert "Nothing waits for your approval." in text(viewer) and request_id not in text(viewer)
    for view in (approver, requester, viewer):
        assert "No snapshot yet: press Refresh" in text(view) and "Refresh balances" in text(view)
        assert "<#C0FINANCE> every day at 09:00 (Asia/Shanghai)" in text(view)
        assert "Payouts are frozen" not in text(view)


def test_approve_from_the_home_meets_the_cards_guards(stack: LocalStack, database_url: str | None) -> None:
    request_id, card = request_payout(stack)
    view = open_home(stack, "U0APP1")
    refused = home_click(stack, "U0REQ", view, "approval_approve")  # the requester, on an approver's Home
    assert "You requested this payout, so someone else has to approve it." in text(refused)
    assert "Only approvers" in text(home_click(stack, "U0VIEW", view, "approval_approve"))
    assert row(stack, request_id)["state"] == "PENDING"
    done = home_click(stack, "U0APP1", view, "approval_approve")
    assert "sent to Whalet" in text(done)
    again = home_click(stack, "U0APP1", view, "approval_approve")  # the stale Home, clicked again
    assert "already approved" in text(again)
    stored = row(stack, request_id)
    assert stored["state"] in ("CONFIRMED", "SUCCEEDED") and stack.confirm_counts()[stored["mer_order_no"]] == 1
    assert audit_actions(stack, request_id).count("approve") == 1
    stack.fake.wait_for(lambda: not has_buttons(stack.fake.message(card.channel, card.ts)))


def test_a_forged_home_button_is_refused_by_the_fingerprint(stack: LocalStack) -> None:
    first_id, _ = request_payout(stack)
    second_id, _ = request_payout(stack, "payout 300 USD to acme-us")
    view = open_home(stack, "U0APP1")
    forged = home_click(stack, "U0APP1", view, "approval_approve", value=second_id)  # first card's block_id
    assert "does not belong" in text(forged)
    assert row(stack, first_id)["state"] == "PENDING" and row(stack, second_id)["state"] == "PENDING"


def test_reject_from_the_home(stack: LocalStack) -> None:
    request_id, card = request_payout(stack)
    view = open_home(stack, "U0APP2")
    assert stack.slack_requests.view_action("U0APP2", view, "approval_reject").status_code == 200
    modal = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0APP2") if v.callback_id == "approval_reject_modal"), None)
    )
    assert stack.slack_requests.view_submission("U0APP2", modal.view, {"reason": "not ours"}).status_code == 200
    stack.fake.wait_for(lambda: (h := home_of(stack, "U0APP2")) and "Rejected. Nothing will be sent" in text(h))
    assert row(stack, request_id)["state"] == "REJECTED"
    stack.fake.wait_for(lambda: "Rejected by <@U0APP2>" in json.dumps(stack.fake.message(card.channel, card.ts).blocks))


def test_the_home_is_published_again_for_the_people_concerned(stack: LocalStack) -> None:
    request_id, card = request_payout(stack)
    assert request_id in text(open_home(stack, "U0APP2"))
    open_home(stack, "U0REQ")
    click(stack, "U0APP1", card)  # on the channel card
    stack.fake.wait_for(lambda: "*Waiting for you* (0)" in text(home_of(stack, "U0APP2")), timeout=15)
    stack.fake.wait_for(lambda: "Approved by <@U0APP1>" in text(home_of(stack, "U0REQ")), timeout=15)
    assert home_of(stack, "U0VIEW") is None  # not concerned: nothing published for the viewer


def balance_queries(stack: LocalStack) -> float:
    """queryCurrencyBalance calls the app made to Whalet (its metrics, any outcome)."""
    return sum(
        sample.value
        for metric in stack.services.metrics.whalet_calls.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and "Balance" in sample.labels.get("operation", "")
    )


def test_refresh_takes_a_balance_snapshot_at_most_once_a_minute(stack: LocalStack, database_url: str | None) -> None:
    view = open_home(stack, "U0VIEW")
    open_home(stack, "U0APP1")
    assert balance_queries(stack) == 0  # opening the Home never asks Whalet
    before = published(stack, "U0VIEW")
    assert stack.slack_requests.view_action("U0VIEW", view, "home_refresh_balances").status_code == 200
    stack.fake.wait_for(lambda: published(stack, "U0VIEW") > before)
    refreshed = home_of(stack, "U0VIEW")
    assert "Balances of U10001 (B2C)" in text(refreshed) and "*USD*  available *" in text(refreshed)
    assert "less than a minute ago" in text(refreshed)
    with stack.services.store.read() as db:
        taken = db.execute("SELECT DISTINCT taken_at FROM home_balances").fetchall()
    again = home_click(stack, "U0APP1", refreshed, "home_refresh_balances")
    assert "refreshed less than a minute ago" in text(again)
    with stack.services.store.read() as db:
        assert db.execute("SELECT DISTINCT taken_at FROM home_balances").fetchall() == taken
    assert balance_queries(stack) == 1
    assert "*USD*  available *" in text(open_home(stack, "U0APP2"))  # opening shows the snapshot


def test_the_freeze_banner(stack: LocalStack) -> None:
    ask(stack, "U0ADM", "freeze")
    assert "Payouts are frozen* by <@U0ADM>" in text(open_home(stack, "U0APP1"))
    ask(stack, "U0ADM", "unfreeze")
    assert "Payouts are frozen" not in text(open_home(stack, "U0APP1"))


def test_republishing_is_paced_for_slacks_tier_4(stack: LocalStack) -> None:
    people = [f"U0P{n:02d}" for n in range(9)]
    with stack.services.store.transaction() as db:
        home_rows.mark(db, people, "2026-12-02T09:00:00+00:00")
        home_rows.mark(db, people, "2026-12-02T09:00:01+00:00")  # a second change: still one mark each
    stack.fake.wait_for(lambda: all(home_of(stack, p) for p in people), timeout=30)
    calls = [c for c in stack.fake.calls("views.publish") if c.params.get("user_id") in people]
    assert sorted(c.params["user_id"] for c in calls) == people  # one publish per person
    # three a pass, one pass every two seconds: nine people take three passes
    assert calls[-1].time - calls[0].time >= 2 * REPUBLISH_EVERY - 0.1
