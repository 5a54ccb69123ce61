"""What the Slack stand-in remembers: plain dataclasses handed out as snapshots.

The fake server mutates its records on its own thread while tests and the demo read them from
another; every observation method therefore returns copies (``snapshot()``) so a reader never sees
a message change underneath it or races a half-applied ``chat.update``.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Literal

EventKind = Literal["message", "update", "delete", "ephemeral", "response", "view"]


@dataclass
class Call:
    """One HTTP request to ``/api/<method>``, including ones answered with an injected fault."""

    method: str
    params: dict[str, Any]
    token: str | None
    time: float
    status: int = 200
    error: str | None = None
    connection: str | None = None  # the client's "host:port": one per TCP connection it opened


@dataclass
class Message:
    """A channel message as it is NOW (after every ``chat.update`` / ``replace_original``)."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    user: str = "UBOT"
    updated_count: int = 0
    metadata: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    reply_broadcast: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)  # shared by files.completeUploadExternal

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def snapshot(self) -> Message:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """The shape Slack uses inside API answers and interaction payloads (plus ``channel``)."""
        out: dict[str, Any] = {
            "type": "message",
            "channel": self.channel,
            "ts": self.ts,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "user": self.user,
        }
        if self.user == "UBOT":
            out["bot_id"] = "BBOT"
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        if self.attachments:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.files:
            out["files"], out["upload"] = copy.deepcopy(self.files), True
        if self.updated_count:
            out["edited"] = {"user": self.user, "ts": self.ts}
        return out


@dataclass
class Ephemeral:
    """A message only ``user`` sees: from ``chat.postEphemeral`` or an ephemeral ``response_url`` post."""

    channel: str | None
    user: str | None
    message_ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    source: Literal["chat.postEphemeral", "response_url"] = "chat.postEphemeral"
    updated_count: int = 0
    deleted: bool = False

    def snapshot(self) -> Ephemeral:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """Message-like dict so an ephemeral's buttons can be clicked like a channel message's."""
        return {
            "type": "message",
            "channel": self.channel,
            "ts": self.message_ts,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "is_ephemeral": True,
            "user": self.user,
        }


@dataclass
class ResponsePost:
    """One POST to a fake ``response_url``, exactly as the app sent it."""

    response_id: str
    body: dict[str, Any]
    time: float
    status: int = 200

    @property
    def response_type(self) -> str:
        return str(self.body.get("response_type") or "ephemeral")

    @property
    def replace_original(self) -> bool:
        return _truthy(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        return _truthy(self.body.get("delete_original"))

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.body.get("blocks") or [])

    def snapshot(self) -> ResponsePost:
        return replace(self, body=copy.deepcopy(self.body))


@dataclass
class View:
    """A modal opened, pushed or updated by the app (``view`` is the current definition)."""

    id: str
    view: dict[str, Any]
    action: str  # views.open / views.push / views.update (the last one applied)
    trigger_id: str | None = None
    user: str | None = None
    hash: str = ""
    updated_count: int = 0

    @property
    def callback_id(self) -> str | None:
        return self.view.get("callback_id")

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata") or "")

    def snapshot(self) -> View:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """The view as Slack echoes it back (with ``id`` and ``hash``)."""
        out = copy.deepcopy(self.view)
        out.update({"id": self.id, "hash": self.hash, "team_id": "TDEMO", "state": {"values": {}}})
        out.setdefault("type", "modal")
        out.setdefault("private_metadata", "")
        return out


@dataclass
class UploadedFile:
    id: str
    name: str
    length: int
    alt_txt: str | None = None
    title: str | None = None
    data: bytes | None = None  # None until step 2
    channel: str | None = None  # set by step 3
    thread_ts: str | None = None
    message_ts: str | None = None
    user: str = "UBOT"  # who uploaded it: the bot, or a person's file input (user_files.py)
    mimetype: str | None = None
    url: str | None = None  # url_private_download, for files people upload

    def to_dict(self) -> dict[str, Any]:
        """Slack's file object, the fields the bot and the tests read."""
        mimetype = self.mimetype or (
            "image/png"
            if self.name.lower().endswith(".png")
            else "text/csv"
            if self.name.lower().endswith(".csv")
            else "application/octet-stream"
        )
        links = {"url_private": self.url, "url_private_download": self.url} if self.url else {}
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": mimetype,
            "filetype": self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary",
            "size": len(self.data or b""),
            "user": self.user,
            **links,
            "alt_txt": self.alt_txt,
            "channels": [self.channel] if self.channel and self.channel[:1] == "C" else [],
            "groups": [self.channel] if self.channel and self.channel[:1] == "G" else [],
            "ims": [self.channel] if self.channel and self.channel[:1] == "D" else [],
        }


class Files:
    """Uploads by file id, and the upload URLs' tokens; thread-safe like the store."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.by_id: dict[str, UploadedFile] = {}
        self.by_upload: dict[str, str] = {}  # upload token -> file id


@dataclass(frozen=True)
class Event:
    """Handed to ``FakeSlack.on_event`` observers; ``record`` is a snapshot."""

    kind: EventKind
    record: Message | Ephemeral | ResponsePost | View


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
