"""The durable outbox against the Slack stand-in, through the real slack_sdk client."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FrozenClock
from devkit.localstack import LocalStack
from core.storage.outbox import backlog, enqueue_post, enqueue_update, message_ref, unreachable_channels
from notifications.rendered import Rendered, with_mention
from services.slack.blocks import MAX_BLOCKS, section
from services.slack.queue import enqueue_post as queue_post


def _enqueue(stack: LocalStack, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with stack.services.store.transaction() as db:
        row_id = enqueue_post(db, **kwargs)
    stack.services.wake_outbox()
    return row_id


def _row(stack: LocalStack, row_id: int) -> dict:  # type: ignore[type-arg]
    with stack.services.store.read() as db:
        return next(db.query("SELECT * FROM outbox WHERE id = ?", [row_id]))


def _wait_state(stack: LocalStack, row_id: int, state: str, timeout: float = 10.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _row(stack, row_id)
        if row["state"] == state:
            return row
        time.sleep(0.02)
    raise AssertionError(f"outbox row {row_id} is {_row(stack, row_id)}")


def test_post_thread_reply_and_update_follow_refs(stack: LocalStack, database_url: str | None) -> None:
    parent = _enqueue(stack, channel="C0OUT", text="card v1", ref=("approval", "R1"))
    reply = _enqueue(stack, channel="C0OUT", text="result in thread", thread_ref=("approval", "R1"))
    posted = _wait_state(stack, parent, "done")
    _wait_state(stack, reply, "done")
    with stack.services.store.transaction() as db:
        enqueue_update(db, ref=("approval", "R1"), text="card v2")
    stack.services.wake_outbox()
    stack.fake.wait_for(lambda: [m for m in stack.fake.messages("C0OUT") if m.text == "card v2"])
    thread = stack.fake.thread("C0OUT", posted["ts"])
    assert [m.text for m in thread] == ["card v2", "result in thread"]
    with stack.services.store.read() as db:
        assert message_ref(db, "approval", "R1") == ("C0OUT", posted["ts"])


def test_update_before_post_rewrites_the_queued_post(stack: LocalStack) -> None:
    stack.fake.script("chat.postMessage", [("sleep", 0.5)])
    first = _enqueue(stack, channel="C0BUSY", text="occupies the channel")
    with stack.services.store.transaction() as db:
        queued = enqueue_post(db, channel="C0BUSY", text="old", ref=("approval", "R2"))
        enqueue_update(db, ref=("approval", "R2"), text="new")
    stack.services.wake_outbox()
    _wait_state(stack, first, "done")
    _wait_state(stack, queued, "done")
    assert [m.text for m in stack.fake.messages("C0BUSY")] == ["occupies the channel", "new"]
    assert not stack.fake.calls("chat.update")


def test_429_then_503_then_success_delivers_exactly_once(stack: LocalStack, database_url: str | None) -> None:
    stack.fake.script("chat.postMessage", [("ratelimited", 1), ("status", 503)])
    row_id = _enqueue(stack, channel="C0RETRY", text="eventually")
    row = _wait_state(stack, row_id, "done", timeout=15)
    assert [m.text for m in stack.fake.messages("C0RETRY")] == ["eventually"]
    posts = [c for c in stack.fake.calls("chat.postMessage") if c.params.get("channel") == "C0RETRY"]
    assert len(posts) == 3
    assert posts[1].time - posts[0].time >= 0.9  # Retry-After honoured
    assert row["rate_limited"] == 1


def test_unexplained_errors_park_after_max_attempts_and_are_reported(make_stack) -> None:  # type: ignore[no-untyped-def]
    from devkit.localstack import DEMO_CONFIG

    stack = make_stack(
        DEMO_CONFIG.replace('alerts_channel = "C0ALERTS"', 'alerts_channel = "C0ALERTS"\nmax_attempts = 2')
    )
    stack.fake.script("chat.postMessage", [("error", "some_new_error"), ("error", "some_new_error")])
    row_id = _enqueue(stack, channel="C0FLAKY", text="cannot land")
    row = _wait_state(stack, row_id, "parked", timeout=15)
    assert row["attempts"] == 2 and row["last_error"] == "some_new_error"
    with stack.services.store.read() as db:
        assert backlog(db)["parked"] == 1
        assert unreachable_channels(db) == {"C0FLAKY": "some_new_error"}


def test_slack_being_down_never_counts_toward_max_attempts(make_stack) -> None:  # type: ignore[no-untyped-def]
    """internal_error, 503 and friends say nothing about the message: with max_attempts 2, four
    of them in a row still end in the post, not in a parked row."""
    from devkit.localstack import DEMO_CONFIG

    stack = make_stack(
        DEMO_CONFIG.replace('alerts_channel = "C0ALERTS"', 'alerts_channel = "C0ALERTS"\nmax_attempts = 2')
    )
    stack.fake.script("chat.postMessage", [("error", "internal_error"), ("error", "service_unavailable")] * 2)
    row_id = _enqueue(stack, channel="C0FLAKY", text="lands in the end")
    _wait_state(stack, row_id, "done", timeout=30)
    assert [m.text for m in stack.fake.messages("C0FLAKY")] == ["lands in the end"]
    # it answered again (the worker clears the outage just after the row is marked done)
    stack.fake.wait_for(lambda: stack.services.outbox.outage_since is None, timeout=10)


def _alerts(stack: LocalStack, needle: str) -> list:  # type: ignore[type-arg]
    return stack.fake.wait_for(lambda: [m for m in stack.fake.messages("C0ALERTS") if needle in m.text])


@pytest.mark.parametrize(
    "error, fix",
    [
        ("not_in_channel", "invite the bot to <#C0PRIVATE>"),
        ("channel_not_found", "check the channel id C0PRIVATE in the policy file"),
        ("is_archived", "<#C0PRIVATE> is archived"),
    ],
)
def test_channel_errors_park_at_the_first_answer_with_an_alert(stack: LocalStack, error: str, fix: str) -> None:
    stack.fake.deny_channel("C0PRIVATE", error)
    row_id = _enqueue(stack, channel="C0PRIVATE", text="cannot land")
    row = _wait_state(stack, row_id, "parked", timeout=15)
    assert row["attempts"] == 1 and row["last_error"] == error  # no retry can fix it
    [alert] = _alerts(stack, f"outbox row {row_id}")
    assert f"Slack said `{error}`" in alert.text and fix in alert.text
    with stack.services.store.read() as db:
        assert unreachable_channels(db) == {"C0PRIVATE": error}


def test_invalid_blocks_and_missing_scope_park_at_once(stack: LocalStack) -> None:
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    blocks = _enqueue(stack, channel="C0BLOCKS", text="51 blocks", blocks=too_many)
    assert _wait_state(stack, blocks, "parked")["attempts"] == 1
    stack.fake.scopes.discard("chat:write")
    scope = _enqueue(stack, channel="C0SCOPE", text="no scope")
    assert _wait_state(stack, scope, "parked")["last_error"] == "missing_scope"
    with stack.services.store.read() as db:  # queued; it cannot land either without chat:write
        alerts = [r[0] for r in db.execute("SELECT text FROM outbox WHERE kind = 'alert'")]
    assert any("Slack said `missing_scope`" in text for text in alerts)
    assert stack.fake.messages("C0BLOCKS") == [] and stack.fake.messages("C0SCOPE") == []


def test_unreadable_history_at_recovery_parks_instead_of_posting_again(stack: LocalStack) -> None:
    """chat:write.public posted into a channel the bot never joined; after a kill the worker
    cannot read its history, so it cannot know whether the post landed: parked, alerted, not
    posted twice."""
    services = stack.services
    stack.fake.add_channel("C0PUBLIC", "announcements", member=False)
    with services.store.transaction() as db:
        row_id = enqueue_post(db, channel="C0PUBLIC", text="posted once")
        db.execute("UPDATE outbox SET state = 'sending', next_attempt_at = '9999' WHERE id = ?", [row_id])

    async def post_like_the_worker_did() -> None:
        await services.slack_outbox.chat_postMessage(
            channel="C0PUBLIC",
            text="posted once",
            metadata={"event_type": "whalet_bot_outbox", "event_payload": {"outbox_id": row_id}},
        )

    stack.run(post_like_the_worker_did())
    services.outbox._recover_inflight()  # what the worker does first after a restart
    with services.store.transaction() as db:
        db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01' WHERE id = ?", [row_id])
    services.wake_outbox()
    row = _wait_state(stack, row_id, "parked")
    assert row["last_error"] == "history_unchecked: not_in_channel"
    [alert] = _alerts(stack, f"outbox row {row_id}")
    assert "did not post it again" in alert.text and "invite the bot to <#C0PUBLIC>" in alert.text
    assert [m.text for m in stack.fake.messages("C0PUBLIC")] == ["posted once"]


def test_a_rate_limited_history_lookup_is_retried_not_parked(stack: LocalStack) -> None:
    services = stack.services
    stack.fake.script("conversations.history", [("ratelimited", 1)])
    with services.store.transaction() as db:
        row_id = enqueue_post(db, channel="C0LATER", text="once")
        db.execute("UPDATE outbox SET state = 'sending', next_attempt_at = '9999' WHERE id = ?", [row_id])
    services.outbox._recover_inflight()
    with services.store.transaction() as db:
        db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01' WHERE id = ?", [row_id])
    services.wake_outbox()
    _wait_state(stack, row_id, "done", timeout=15)
    assert len(stack.fake.calls("conversations.history")) == 2
    assert [m.text for m in stack.fake.messages("C0LATER")] == ["once"]


def test_burst_of_collections_is_folded_into_one_summary(stack: LocalStack) -> None:
    stack.fake.script("chat.postMessage", [("sleep", 1.0)])
    first = _enqueue(stack, channel="C0FOLD", text="first", kind="collection", fold_line="100.00 USD from A")
    time.sleep(0.2)  # the first row is now in flight; the rest queue behind it
    with stack.services.store.transaction() as db:
        for n in range(12):
            enqueue_post(
                db, channel="C0FOLD", text=f"single {n}", kind="collection", fold_line=f"{n}.00 USD from payer {n}"
            )
    stack.services.wake_outbox()
    _wait_state(stack, first, "done")
    summary = stack.fake.wait_for(
        lambda: [m for m in stack.fake.messages("C0FOLD") if "12 collections received" in m.text]
    )
    assert all(f"payer {n}" in summary[0].text for n in range(12))
    assert len(stack.fake.messages("C0FOLD")) == 2


def test_row_in_flight_at_a_crash_is_found_by_metadata_not_posted_again(
    stack: LocalStack, database_url: str | None
) -> None:
    """Simulates a kill after Slack accepted the post but before the row was marked done."""
    services = stack.services
    with services.store.transaction() as db:
        row_id = enqueue_post(db, channel="C0CRASH", text="posted once")
        db.execute("UPDATE outbox SET state = 'sending', next_attempt_at = '9999' WHERE id = ?", [row_id])

    async def post_like_the_worker_did() -> None:
        await services.slack_outbox.chat_postMessage(
            channel="C0CRASH",
            text="posted once",
            metadata={"event_type": "whalet_bot_outbox", "event_payload": {"outbox_id": row_id}},
        )

    stack.run(post_like_the_worker_did())
    assert services.outbox is not None
    services.outbox._recover_inflight()  # what the worker does first after a restart
    with services.store.transaction() as db:
        db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01' WHERE id = ?", [row_id])
    services.wake_outbox()
    row = _wait_state(stack, row_id, "done")
    assert [m.text for m in stack.fake.messages("C0CRASH")] == ["posted once"]
    assert row["ts"] == stack.fake.messages("C0CRASH")[0].ts


def test_a_long_queue_in_one_channel_does_not_hold_up_another(stack: LocalStack) -> None:
    with stack.services.store.transaction() as db:
        for n in range(250):
            enqueue_post(db, channel="C0FLOOD", text=f"flood {n}")
        quiet = enqueue_post(db, channel="C0QUIET", text="just one")
    stack.services.wake_outbox()
    _wait_state(stack, quiet, "done", timeout=5)  # paced at ~1/s per channel: C0FLOOD needs minutes


def test_a_mention_added_to_a_full_message_is_capped_at_enqueue_and_delivered(stack: LocalStack) -> None:
    """The route's mention is the last transform: the cap must come after it, not before."""
    full = Rendered("fifty", [section(f"line {n}") for n in range(MAX_BLOCKS)])
    message = with_mention(full, "S0TREASURY")
    assert len(message.blocks) == MAX_BLOCKS + 1
    with stack.services.store.transaction() as db:
        row_id = queue_post(db, channel="C0ROUTE", text=message.text + "x" * 40_500, blocks=message.blocks)
    stack.services.wake_outbox()
    _wait_state(stack, row_id, "done")
    [posted] = stack.fake.messages("C0ROUTE")
    assert len(posted.blocks) == MAX_BLOCKS and len(posted.text) == 40_000
    assert "<!subteam^S0TREASURY>" in str(posted.blocks[0]) and "2 more items not shown" in str(posted.blocks[-1])


def test_a_slack_outage_parks_nothing_alerts_once_and_everything_goes_out_after(make_stack) -> None:  # type: ignore[no-untyped-def]
    """Every chat.postMessage answers 503 for six minutes of delivery time (the worker's clock is
    frozen here and moved by the test): nothing is parked (max_attempts is 2), one alert is
    queued once the outage passed outage_alert_minutes (5), /healthz and /whalet status say so,
    and when Slack answers again every message goes out once, the alert too."""
    from devkit.localstack import DEMO_CONFIG

    stack = make_stack(
        DEMO_CONFIG.replace('alerts_channel = "C0ALERTS"', 'alerts_channel = "C0ALERTS"\nmax_attempts = 2')
    )
    clock = FrozenClock(datetime.now(UTC))
    stack.services.outbox.clock = clock
    stack.fake.script("chat.postMessage", [("status", 503)] * 1000)
    ids = [_enqueue(stack, channel="C0FINANCE", text=f"money received {i}") for i in range(3)]

    def minutes_pass(minutes: int) -> None:
        for _ in range(minutes * 4):
            clock.advance(timedelta(seconds=15))
            stack.services.wake_outbox()
            time.sleep(0.05)

    minutes_pass(4)
    assert all(_row(stack, i)["state"] in ("pending", "sending") for i in ids)  # waiting or being tried: not parked
    assert stack.services.outbox.outage_since is not None
    assert "unreachable since" in stack.http.get("/healthz").json()["slack"]
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'alert'").fetchone()[0] == 0
    minutes_pass(2)
    with stack.services.store.read() as db:
        alerts = [r[0] for r in db.execute("SELECT text FROM outbox WHERE kind = 'alert'")]
        assert db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'parked'").fetchone()[0] == 0
    assert len(alerts) == 1 and "Slack has been failing" in alerts[0]

    stack.fake.clear_scripts()
    minutes_pass(2)
    for i in ids:
        _wait_state(stack, i, "done")
    assert sorted(m.text for m in stack.fake.messages("C0FINANCE")) == [f"money received {i}" for i in range(3)]
    assert len([m for m in stack.fake.messages("C0ALERTS") if "Slack has been failing" in m.text]) == 1
    assert stack.services.outbox.outage_since is None
