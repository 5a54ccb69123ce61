"""File uploads the way Slack takes them today (``files_upload_v2``).

Slack's upload is three steps, and slack_sdk's ``files_upload_v2`` makes all three:

1. ``files.getUploadURLExternal`` (``filename``, ``length`` in bytes) answers an ``upload_url``
   and a ``file_id``;
2. the bytes are POSTed to that URL (not a Web API method: no token, answer ``200 OK - <size>``);
3. ``files.completeUploadExternal`` (``files`` = JSON ``[{"id", "title"}]``, ``channel_id``,
   ``thread_ts``, ``initial_comment``) shares the files: a message carrying them appears in the
   channel, or in the thread when ``thread_ts`` is given, and the answer lists the files.

Both methods need ``files:write``. Sharing follows membership like posting, except that
``chat:write.public`` does not cover files: a public channel the bot has not joined answers
``not_in_channel``. A file id never uploaded to (or completed twice) is ``file_not_found``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from devkit.slack_standin import rules
from devkit.slack_standin.records import Message, UploadedFile
from devkit.slack_standin.workspace import Workspace

Answer = dict[str, Any]
MAX_FILE_BYTES = 1024 * 1024 * 1024  # Slack: 1 GB per file


def _fail(error: str) -> Answer:
    return {"ok": False, "error": error}


def get_upload_url_external(fake: Workspace, p: dict[str, Any]) -> Answer:
    filename = str(p.get("filename") or "")
    try:
        length = int(p.get("length") or 0)
    except (TypeError, ValueError):
        length = 0
    if not filename or length <= 0:
        return _fail("invalid_arguments")
    if length > MAX_FILE_BYTES:
        return _fail("file_upload_size_restricted")
    file_id, token = fake.store.next_id("F"), fake.store.next_id("u")
    with fake.files.lock:
        fake.files.by_id[file_id] = UploadedFile(file_id, filename, length, p.get("alt_txt") or None)
        fake.files.by_upload[token] = file_id
    return {"ok": True, "upload_url": f"{fake.api_url.removesuffix('/api/')}/upload/v1/{token}", "file_id": file_id}


def receive_upload(fake: Workspace, token: str, data: bytes) -> tuple[int, str]:
    """Step 2: the bytes for an issued upload URL (one upload per URL)."""
    with fake.files.lock:
        file_id = fake.files.by_upload.pop(token, None)
        if file_id is None:
            return 404, "upload_url not found"
        fake.files.by_id[file_id].data = data
    return 200, f"OK - {len(data)}"


def _share_error(fake: Workspace, channel: str) -> str | None:
    if denied := fake.denied_channels.get(channel):
        return denied
    if rules.kind_of(channel) == "D":
        return None
    state = fake.channel(channel)
    if not state.member:
        return "channel_not_found" if state.private else "not_in_channel"
    return "is_archived" if state.archived else None


def complete_upload_external(fake: Workspace, p: dict[str, Any]) -> Answer:
    raw = p.get("files")
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        items = None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) and i.get("id") for i in items):
        return _fail("invalid_arguments")
    channel, thread_ts = str(p.get("channel_id") or ""), p.get("thread_ts") or None
    if channel and (error := _share_error(fake, channel)):
        return _fail(error)
    if thread_ts and (not channel or fake.store.messages.get((channel, str(thread_ts))) is None):
        return _fail("invalid_thread_ts") if channel else _fail("invalid_arguments")
    with fake.files.lock:
        files = [fake.files.by_id.get(str(item["id"])) for item in items]
        if any(f is None or f.data is None or f.channel is not None for f in files):
            return _fail("file_not_found")
        for f, item in zip(files, items, strict=True):
            assert f is not None
            f.title = str(item.get("title") or f.name)
            f.channel, f.thread_ts = (channel or None), (str(thread_ts) if thread_ts else None)
        shown = [f.to_dict() for f in files if f is not None]
    if channel:
        message = fake.store.add_message(
            Message(
                channel,
                fake.store.next_ts(),
                str(p.get("initial_comment") or ""),
                [],
                thread_ts=str(thread_ts) if thread_ts else None,
                files=copy.deepcopy(shown),
            )
        )
        with fake.files.lock:
            for f in files:
                assert f is not None
                f.message_ts = message.ts
    return {"ok": True, "files": shown}
