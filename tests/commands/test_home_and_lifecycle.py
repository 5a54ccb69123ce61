"""App Home (app_home_opened -> views.publish) and the lifecycle events, through signed Events API
requests into the real Bolt app, against the strict Slack stand-in."""

from __future__ import annotations

import time


from devkit.localstack import LocalStack
from core.storage.outbox import enqueue_post
from tests.commands.helpers import request_payout


def _home(stack: LocalStack, user: str) -> str:
    assert stack.slack_requests.event({"type": "app_home_opened", "user": user, "tab": "home"}).status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views(user=user) if v.action == "views.publish"), None)
    )
    return " ".join(str(b) for b in view.view["blocks"])


def test_home_shows_what_waits_for_an_approver_and_a_requesters_own_requests(stack: LocalStack) -> None:
    request_id, _ = request_payout(stack)
    approver = _home(stack, "U0APP1")
    assert "*Waiting for you* (1)" in approver and request_id in approver
    requester = _home(stack, "U0REQ")
    assert "*Waiting for you* (0)" in requester and "Nothing waits for your approval." in requester
    assert "*Your requests*" in requester and request_id in requester and "Waiting for approval" in requester


def test_the_messages_tab_publishes_nothing(stack: LocalStack) -> None:
    assert (
        stack.slack_requests.event({"type": "app_home_opened", "user": "U0APP1", "tab": "messages"}).status_code == 200
    )
    assert stack.slack_requests.event({"type": "app_home_opened", "user": "U0APP2", "tab": "home"}).status_code == 200
    stack.fake.wait_for(lambda: stack.fake.views(user="U0APP2"))
    assert stack.fake.views(user="U0APP1") == []


def test_a_revoked_bot_token_pauses_the_outbox_and_health_says_so(stack: LocalStack) -> None:
    user_only = {"type": "tokens_revoked", "tokens": {"oauth": ["U0REQ"], "bot": []}}
    assert stack.slack_requests.event(user_only).status_code == 200
    assert stack.http.get("/healthz").status_code == 200
    bot = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}}
    assert stack.slack_requests.event(bot).status_code == 200
    health = stack.http.get("/healthz")
    assert health.status_code == 503 and health.json()["slack"] == "paused: the bot token was revoked"
    with stack.services.store.transaction() as db:
        row_id = enqueue_post(db, channel="C0FINANCE", text="held back")
    stack.services.wake_outbox()
    time.sleep(0.5)  # unpaused, the worker sends within milliseconds of a wake
    with stack.services.store.read() as db:
        assert db.execute("SELECT state FROM outbox WHERE id = ?", [row_id]).fetchone()[0] == "pending"
    assert not [m for m in stack.fake.messages("C0FINANCE") if m.text == "held back"]


def test_app_uninstalled_pauses_the_outbox(stack: LocalStack) -> None:
    assert stack.slack_requests.event({"type": "app_uninstalled"}).status_code == 200
    assert stack.http.get("/healthz").json()["slack"] == "paused: the app was uninstalled from the workspace"
