"""The Slack stand-in's memory: messages, ephemerals, response_url posts, modals, calls.

One lock guards everything because the server thread writes while tests and the demo read; the
observers registered with ``on_event`` are called AFTER the lock is released, so an observer may
itself read the store (the demo renders the thread a reply belongs to) without deadlocking.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devkit.slack_standin.records import Call, Ephemeral, Event, EventKind, Message, ResponsePost, View

log = logging.getLogger(__name__)

RESPONSE_URL_MAX_USES = 5  # Slack: up to 5 posts per response_url (within 30 minutes)
TRIGGER_TTL_SECONDS = 3.0  # Slack: a trigger_id must be exchanged within ~3 s, once


@dataclass
class _ResponseTarget:
    channel_id: str | None
    user_id: str | None
    kind: str | None  # "message" | "ephemeral" | None (a slash command: nothing to replace yet)
    ts: str | None
    uses: int = 0


@dataclass
class _Trigger:
    user_id: str | None
    issued: float
    used: bool = False


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._observers: list[Callable[[Event], None]] = []
        self._ids = itertools.count(1)
        self._last_ts = 0
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.calls: list[Call] = []
            self.messages: dict[tuple[str, str], Message] = {}
            self.ephemerals: dict[str, Ephemeral] = {}  # by message_ts
            self.responses: list[ResponsePost] = []
            self.views: dict[str, View] = {}
            self.targets: dict[str, _ResponseTarget] = {}
            self.triggers: dict[str, _Trigger] = {}

    # -- identifiers -------------------------------------------------------------------------
    def next_ts(self) -> str:
        """Wall-clock based like Slack's, but strictly increasing so ts stays a unique key."""
        with self.lock:
            micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
            self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    # -- observers ---------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        with self.lock:
            self._observers.append(callback)

    def emit(self, kind: EventKind, record: Any) -> None:
        event = Event(kind, record.snapshot())
        with self.lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(event)
            except Exception:  # an observer bug must not turn into a fake Slack outage
                log.exception("Slack stand-in observer failed on %s", kind)

    # -- mutations (called by the API handlers) ------------------------------------------------
    def add_message(self, message: Message) -> Message:
        with self.lock:
            self.messages[(message.channel, message.ts)] = message
        self.emit("message", message)
        return message

    def update_message(
        self, channel: str, ts: str, changes: dict[str, Any], kind: EventKind = "update"
    ) -> Message | None:
        with self.lock:
            message = self.messages.get((channel, ts))
            if message is None or message.deleted:
                return None
            for key, value in changes.items():
                setattr(message, key, value)
            if kind == "update":
                message.updated_count += 1
        self.emit(kind, message)
        return message

    def add_ephemeral(self, ephemeral: Ephemeral) -> Ephemeral:
        with self.lock:
            self.ephemerals[ephemeral.message_ts] = ephemeral
        self.emit("ephemeral", ephemeral)
        return ephemeral

    def save_view(self, view: View, kind: EventKind = "view") -> View:
        with self.lock:
            self.views[view.id] = view
        self.emit(kind, view)
        return view

    # -- response_url ------------------------------------------------------------------------
    def new_response_id(
        self, channel_id: str | None, user_id: str | None, message_ts: str | None, is_ephemeral: bool
    ) -> str:
        response_id = f"{next(self._ids):06d}-{secrets.token_hex(6)}"
        kind = None if message_ts is None else ("ephemeral" if is_ephemeral else "message")
        with self.lock:
            self.targets[response_id] = _ResponseTarget(channel_id, user_id, kind, message_ts)
        return response_id

    def apply_response(self, response_id: str, body: dict[str, Any]) -> tuple[int, str]:
        """Record a response_url post and do to the conversation what Slack would do."""
        post = ResponsePost(response_id, body, time.time())
        with self.lock:
            target = self.targets.get(response_id)
            if target is not None:
                target.uses += 1
                if target.uses > RESPONSE_URL_MAX_USES:
                    post.status = 404
            self.responses.append(post)
        self.emit("response", post)
        if post.status != 200:
            return post.status, "used_url"
        if target is not None:
            self._apply_to_conversation(target, post)
        return 200, "ok"

    def _apply_to_conversation(self, target: _ResponseTarget, post: ResponsePost) -> None:
        text, blocks = post.text, post.blocks
        if (post.delete_original or post.replace_original) and target.ts is not None:
            record: Message | Ephemeral | None
            with self.lock:
                if target.kind == "message":
                    record = self.messages.get((target.channel_id or "", target.ts))
                else:
                    record = self.ephemerals.get(target.ts)
                if record is not None and not record.deleted:
                    if post.delete_original:
                        record.deleted = True
                    else:
                        record.text, record.blocks = text, blocks
                        record.updated_count += 1
                else:
                    record = None
            if record is not None:
                self.emit("delete" if post.delete_original else "update", record)
                return
        if post.delete_original:
            return
        thread_ts = post.body.get("thread_ts")
        if post.response_type == "in_channel" and target.channel_id:
            message = self.add_message(Message(target.channel_id, self.next_ts(), text, blocks, thread_ts=thread_ts))
            kind, ts = "message", message.ts
        else:
            ephemeral = self.add_ephemeral(
                Ephemeral(
                    target.channel_id, target.user_id, self.next_ts(), text, blocks, thread_ts, source="response_url"
                )
            )
            kind, ts = "ephemeral", ephemeral.message_ts
        with self.lock:
            if target.ts is None:  # later replace_original posts replace this first answer
                target.kind, target.ts = kind, ts

    # -- trigger_id --------------------------------------------------------------------------
    def new_trigger(self, user_id: str | None) -> str:
        trigger_id = f"{next(self._ids)}.{secrets.token_hex(8)}"
        with self.lock:
            self.triggers[trigger_id] = _Trigger(user_id, time.monotonic())
        return trigger_id

    def exchange_trigger(self, trigger_id: str) -> tuple[str | None, str | None]:
        """(user, error): unknown triggers are accepted (tests may invent them)."""
        with self.lock:
            trigger = self.triggers.get(trigger_id)
            if trigger is None:
                return None, None
            if trigger.used:
                return trigger.user_id, "exchanged_trigger_id"
            if time.monotonic() - trigger.issued > TRIGGER_TTL_SECONDS:
                return trigger.user_id, "expired_trigger_id"
            trigger.used = True
            return trigger.user_id, None
