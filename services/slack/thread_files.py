"""Files that belong in a message's thread (a batch's lines and results as CSV), uploaded once.

``queue_file`` runs in the transaction that decides the file, so it is never lost; the message it
belongs under may still be in the outbox then. ``thread_files_loop`` (one per process, polling a
partial index once a second) claims each waiting file with a lease, waits for its message's
``ts``, and uploads it into the thread with ``files_upload_v2``. A file left ``uploading`` by a
process that died is looked for in the thread first (by its name): found, it is recorded as done;
not found, it is uploaded; if the thread cannot be read, it is marked failed rather than risk a
second copy. A message that never reached Slack (parked) leaves its files failed, with why.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlite_utils import Database

from core.clock import SYSTEM_CLOCK
from core.storage import outbox as outbox_rows
from core.storage import thread_files as rows

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.slack")
POLL_SECONDS = 1.0
LEASE_SECONDS = 120.0
PARENT_WAIT_SECONDS = 60.0
PARENT_POLL_SECONDS = 0.05


def _now() -> str:
    return SYSTEM_CLOCK.now().isoformat(timespec="milliseconds")  # leases are real time, like the outbox's


def queue_file(db: Database, parent: tuple[str, str], channel: str, filename: str, title: str, data: bytes) -> None:
    """In the caller's transaction: ``data`` goes under the message of outbox ref ``parent``."""
    rows.queue(db, f"{parent[0]}:{parent[1]}", channel, filename, title, data, _now())


async def thread_files_loop(services: Services) -> None:
    while True:
        await upload_due(services)
        await asyncio.sleep(POLL_SECONDS)


async def upload_due(services: Services) -> list[str]:
    with services.store.read() as db:
        due = rows.due(db)
    return [await upload_one(services, row) for row in due]


async def upload_one(services: Services, row: dict[str, Any]) -> str:
    held = row["state"] == "uploading"
    dead_holder = services.store.exclusive and row["owner"] != services.instance  # SQLite: the only process
    if held and (row["lease_until"] or "") >= _now() and not dead_holder:
        return "busy"
    until = (SYSTEM_CLOCK.now() + timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="milliseconds")
    with services.store.transaction() as db:
        if not rows.claim(db, row, me=services.instance, until=until):
            return "busy"
        data = rows.content(db, int(row["id"]))
    parent = await wait_for_parent(services, str(row["parent_ref"]))
    if parent == "later":
        with services.store.transaction() as db:
            rows.release(db, int(row["id"]), services.instance)
        return "waiting"
    if not isinstance(parent, tuple):
        return _finish(services, row, None, "its message was not posted (parked), so it has no thread")
    channel, thread_ts = parent
    if held:  # a process died mid-upload: is the file already in the thread?
        try:
            found = await find_in_thread(services, channel, thread_ts, str(row["filename"]))
        except SlackClientError as exc:
            return _finish(
                services, row, None, f"could not check the thread ({slack_reason(exc)}); not uploading twice"
            )
        if found:
            return _finish(services, row, found, None)
    try:
        answer = await services.slack.files_upload_v2(
            channel=channel, thread_ts=thread_ts, file=data, filename=row["filename"], title=row["title"]
        )
    except Exception as exc:  # the message is in Slack already; a file failing must not stop anything
        return _finish(services, row, None, slack_reason(exc))
    return _finish(services, row, str((answer.get("file") or {}).get("id") or ""), None)


async def wait_for_parent(services: Services, ref_key: str) -> tuple[str, str] | str | None:
    """The message's (channel, ts) once posted; None if it never will be; "later" if still queued
    after PARENT_WAIT_SECONDS (Slack rate-limiting its channel): the file is handed back."""
    waited = 0.0
    while True:
        with services.store.read() as db:
            parent, coming = outbox_rows.posted(db, ref_key), outbox_rows.post_still_coming(db, ref_key)
        if parent is not None or not coming:
            return parent
        if waited >= PARENT_WAIT_SECONDS:
            return "later"
        await asyncio.sleep(PARENT_POLL_SECONDS)
        waited += PARENT_POLL_SECONDS


def slack_reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error') or exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"[:300]


def _finish(services: Services, row: dict[str, Any], file_id: str | None, error: str | None) -> str:
    with services.store.transaction() as db:
        recorded = rows.finish(db, int(row["id"]), services.instance, file_id=file_id, error=error)
    if error:
        log.warning("thread file %s not uploaded: %s", row["filename"], error, extra={"event": "thread_file_failed"})
        return "failed"
    return "done" if recorded else "busy"


async def find_in_thread(services: Services, channel: str, thread_ts: str, filename: str) -> str | None:
    """The id of a file named ``filename`` already in the thread (an upload a dead process made)."""
    page = await services.slack.conversations_replies(channel=channel, ts=thread_ts, limit=200)
    for message in page.get("messages") or []:
        for item in message.get("files") or []:
            if item.get("name") == filename:
                return str(item.get("id"))
    return None
