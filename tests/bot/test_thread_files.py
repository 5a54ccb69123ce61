"""Files queued for a message's thread go there once: after the message is posted, and not again
after a process died mid-upload (the thread is looked at first). Real app, real stand-in."""

from __future__ import annotations

from typing import Any

from core.storage import thread_files as rows
from services.slack.queue import enqueue_post
from services.slack.thread_files import queue_file, upload_due

CHANNEL = "C0FINANCE"


def _queue(stack: Any, ref: str, filename: str, data: bytes) -> None:
    with stack.services.store.transaction() as db:
        enqueue_post(db, channel=CHANNEL, text=f"parent {ref}", ref=("test", ref))
        queue_file(db, ("test", ref), CHANNEL, filename, "A file", data)
        queue_file(db, ("test", ref), CHANNEL, filename, "A file", data)  # twice: still one
    stack.services.wake_outbox()


def _in_thread(stack: Any, text: str) -> list[Any]:
    parent = stack.fake.wait_for(lambda: next((m for m in stack.fake.messages(CHANNEL) if m.text == text), None))
    return [f for f in stack.fake.uploaded_files(CHANNEL) if f.thread_ts == parent.ts]


def test_a_queued_file_lands_in_its_messages_thread_once(stack: Any) -> None:
    _queue(stack, "a", "a.csv", b"x,y\r\n1,2\r\n")
    stack.host.run(upload_due(stack.services))  # the supervisor's loop may be first: either way, once
    stack.fake.wait_for(lambda: _in_thread(stack, "parent a"))
    stack.host.run(upload_due(stack.services))
    files = _in_thread(stack, "parent a")
    assert [(f.name, f.data) for f in files] == [("a.csv", b"x,y\r\n1,2\r\n")]


def test_a_file_left_uploading_by_a_dead_process_is_not_uploaded_twice(stack: Any) -> None:
    _queue(stack, "b", "b.csv", b"b")
    parent = stack.fake.wait_for(lambda: next((m for m in stack.fake.messages(CHANNEL) if m.text == "parent b"), None))
    stack.host.run(  # the dead process's upload reached Slack; it died before recording it
        stack.services.slack.files_upload_v2(channel=CHANNEL, thread_ts=parent.ts, file=b"b", filename="b.csv")
    )
    with stack.services.store.transaction() as db:
        db.execute("UPDATE thread_files SET state = 'uploading', owner = 'dead', lease_until = '2000-01-01'")
    stack.host.run(upload_due(stack.services))
    assert len(_in_thread(stack, "parent b")) == 1
    with stack.services.store.read() as db:
        assert [r["state"] for r in rows.of_parent(db, "test:b")] == ["done"]
