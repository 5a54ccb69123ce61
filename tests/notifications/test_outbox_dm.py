"""The outbox posting to a person (an approver's DM copy, a reminder): the DM is opened with
``conversations.open``, updates follow into it, and a post cut off by a crash is looked up in
the DM (``im:history``) instead of being posted twice. Real slack_sdk client, strict stand-in."""

from __future__ import annotations

import time

from core.storage import outbox as outbox_rows
from core.storage.outbox import enqueue_post, enqueue_update, message_ref
from devkit.localstack import LocalStack


def _enqueue(stack: LocalStack, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with stack.services.store.transaction() as db:
        row_id = enqueue_post(db, **kwargs)
    stack.services.wake_outbox()
    return row_id


def _wait_state(stack: LocalStack, row_id: int, state: str, timeout: float = 10.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        with stack.services.store.read() as db:
            row = next(db.query("SELECT * FROM outbox WHERE id = ?", [row_id]))
        if row["state"] == state or time.monotonic() > deadline:
            assert row["state"] == state, row
            return row
        time.sleep(0.02)


def test_a_post_to_a_person_goes_to_their_dm_and_updates_follow(stack: LocalStack, database_url: str | None) -> None:
    first = _enqueue(stack, channel="U0APP1", text="copy v1", ref=("approval_dm", "R1:U0APP1"))
    posted = _wait_state(stack, first, "done")
    dm = stack.fake.dm_channel("U0APP1")
    assert dm is not None and dm.startswith("D")
    with stack.services.store.read() as db:
        assert message_ref(db, "approval_dm", "R1:U0APP1") == (dm, posted["ts"])
    second = _enqueue(stack, channel="U0APP1", text="a reminder")
    _wait_state(stack, second, "done")
    with stack.services.store.transaction() as db:
        enqueue_update(db, ref=("approval_dm", "R1:U0APP1"), text="copy v2")
    stack.services.wake_outbox()
    stack.fake.wait_for(lambda: [m for m in stack.fake.messages(dm) if m.text == "copy v2"])
    assert sorted(m.text for m in stack.fake.messages(dm)) == ["a reminder", "copy v2"]
    assert [c.params["users"] for c in stack.fake.calls("conversations.open")] == ["U0APP1"]  # opened once


def test_a_dm_post_cut_off_by_a_crash_is_found_in_the_dm_not_posted_again(stack: LocalStack) -> None:
    row_id = _enqueue(stack, channel="U0APP2", text="copy", ref=("approval_dm", "R2:U0APP2"))
    _wait_state(stack, row_id, "done")
    with stack.services.store.transaction() as db:  # as if the process died after Slack took the post
        db.execute("UPDATE outbox SET state = 'sending' WHERE id = ?", [row_id])
        assert outbox_rows.hand_back_inflight(db) == 1  # what the next start does
    stack.services.wake_outbox()
    row = _wait_state(stack, row_id, "done")
    dm = stack.fake.dm_channel("U0APP2")
    assert [m.text for m in stack.fake.messages(dm)] == ["copy"] and row["check_first"] == 1
    assert [c.params["channel"] for c in stack.fake.calls("conversations.history")] == [dm]
    assert len([c for c in stack.fake.calls("chat.postMessage") if c.params.get("channel") == dm]) == 1


def test_a_person_slack_will_not_dm_parks_the_row(stack: LocalStack) -> None:
    row_id = _enqueue(stack, channel="UBOT", text="to the bot itself")
    row = _wait_state(stack, row_id, "parked")
    assert row["last_error"] == "cannot_dm_bot" and row["attempts"] == 1
