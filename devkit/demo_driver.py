"""Playing Slack users against the local stack: send what Slack sends, see what Slack shows.

Shared by ``whalet-bot demo`` and ``whalet-bot console``: ``Driver`` sends signed slash commands
and button clicks through the stand-in's ``SlackRequests``, pokes the Whalet sandbox's operator
endpoints, and collects everything the stand-in reports in a ``Feed``, together with the app's
direct answers to Slack's requests (the "ack" bodies Slack shows as ephemeral messages), which
never reach the stand-in's Web API.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from devkit.localstack import DEMO_USERS, LocalStack
from devkit.slack_standin.blocks import button_label, buttons
from devkit.slack_standin.records import Ephemeral, Event, Message, View

Record = Message | Ephemeral
COMMAND_CHANNEL = "C0FINANCE"  # where the tour's people type their slash commands
REQUEST_ID = re.compile(r"\b(?:PO|PY)-[A-Z0-9]{8}\b")


# --- reading what Slack shows ----------------------------------------------------------------


def _strings(node: Any) -> list[str]:
    """Every human-visible string in Block Kit (texts, fields, labels), in reading order."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        found: list[str] = []
        for key in ("text", "fields", "elements", "accessory", "title", "alt_text"):
            if key in node:
                found += _strings(node[key])
        return found
    return []


def plain_text(record: Record | dict[str, Any]) -> str:
    """A message's fallback text and all its block text as one string, for matching."""
    if isinstance(record, dict):
        text, blocks = str(record.get("text") or ""), record.get("blocks") or []
    else:
        text, blocks = record.text, record.blocks
    return "\n".join([text, *_strings(blocks)])


def contains_all(record: Record, needles: tuple[str, ...]) -> bool:
    haystack = plain_text(record).lower()
    return all(needle.lower() in haystack for needle in needles)


def who(user_id: str) -> str:
    return DEMO_USERS.get(user_id, user_id)


# --- the feed of what happened -----------------------------------------------------------------


class Feed:
    """Every stand-in event plus our synthesized ack answers, in arrival order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def add(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def mark(self) -> int:
        with self._lock:
            return len(self._events)

    def since(self, mark: int) -> list[Event]:
        with self._lock:
            return list(self._events[mark:])


# --- driving the stack as Slack users --------------------------------------------------------


class DriverError(RuntimeError):
    """An action could not even be sent (no such button, HTTP error from the app)."""


@dataclass
class Driver:
    """Sends what Slack would send and pokes the sandbox; shared by the demo and the console."""

    stack: LocalStack
    feed: Feed = field(default_factory=Feed)
    # DMs ("D…" channels) and App Home tabs (user ids) the tour puts on screen; the others (every
    # approver's DM copy, every republished Home) would bury the story in repeats.
    spotlight: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.stack.fake.on_event(self.feed.add)

    @property
    def whalet_user(self) -> str:
        return self.stack.config.whalet.default_user_id or "U10001"

    def command(self, user: str, text: str, channel: str = COMMAND_CHANNEL) -> Ephemeral | None:
        """Send ``/whalet text``; returns the ack's visible answer, if the app gave one."""
        response = self.stack.slack_requests.command(user, text, channel_id=channel)
        return self._ack(response, user, channel)

    def submit_file(self, user: str, callback_id: str, name: str, data: bytes, **values: Any) -> None:
        """Pick ``name`` in the file input of ``user``'s open modal ``callback_id`` and submit it,
        as Slack sends it: file objects in the state, the bytes read back by the app."""
        fake = self.stack.fake
        opened = fake.wait_for(
            lambda: next((v for v in reversed(fake.views(user)) if v.callback_id == callback_id), None)
        )
        picked = fake.add_user_file(user, name, data)
        self.stack.slack_requests.view_submission(user, opened, {"file": [picked], **values})

    def click(self, user: str, record: Record, button: dict[str, Any]) -> Ephemeral | None:
        channel = record.channel or COMMAND_CHANNEL
        response = self.stack.slack_requests.block_action(
            user, record, action_id=button.get("action_id"), text=button_label(button), channel_id=channel
        )
        return self._ack(response, user, channel)

    def shown(self, event: Event) -> bool:
        """Whether the terminal shows ``event``: channels always, DMs and Homes when spotlit."""
        record = event.record
        if isinstance(record, View):
            return record.view.get("type") != "home" or (record.user or "") in self.spotlight
        channel = getattr(record, "channel", None) or ""
        return not (channel.startswith("D") and isinstance(record, Message)) or channel in self.spotlight

    def dm_copy(self, user: str, of: Record) -> Message | None:
        """The copy in ``user``'s DM of the approval card ``of`` (same request id), now on screen."""
        channel = self.stack.fake.dm_channel(user)
        request = REQUEST_ID.search(plain_text(of))
        if channel is None or request is None:
            return None
        found = next((m for m in self.stack.fake.messages(channel) if request.group(0) in plain_text(m)), None)
        if found is not None:
            self.spotlight.add(channel)
            self.feed.add(Event("message", found))
        return found

    def dm_owner(self, channel: str) -> str:
        """Who the bot's DM ``channel`` is with, by name."""
        with self.stack.fake.store.lock:
            user = next((u for u, c in self.stack.fake.ims.items() if c == channel), channel)
        return who(user)

    def open_home(self, user: str) -> None:
        """``user`` opens the bot's Home tab (Slack sends ``app_home_opened``)."""
        self.spotlight.add(user)
        response = self.stack.slack_requests.event({"type": "app_home_opened", "user": user, "tab": "home"})
        if response.status_code != 200:
            raise DriverError(f"the app answered HTTP {response.status_code}: {response.text[:200]}")

    def home(self, user: str) -> View | None:
        return next((v for v in self.stack.fake.views(user=user) if v.action == "views.publish"), None)

    def click_in_view(self, user: str, view: View, button: dict[str, Any]) -> None:
        response = self.stack.slack_requests.view_action(
            user, view, action_id=button.get("action_id"), text=button_label(button)
        )
        if response.status_code != 200:
            raise DriverError(f"the app answered HTTP {response.status_code}: {response.text[:200]}")

    def latest(self, record: Record) -> Record | None:
        """The current state of a message seen earlier (it may have been updated since)."""
        if isinstance(record, Message):
            return self.stack.fake.message(record.channel, record.ts)
        return next((e for e in self.stack.fake.ephemerals() if e.message_ts == record.message_ts), None)

    def operator(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.stack.operator.post(path, json=body)
        if response.status_code != 200:
            raise DriverError(f"sandbox {path} answered {response.status_code}: {response.text[:200]}")
        return dict(response.json())

    def collect(self, amount: str, currency: str, payer: str = "Globex Import LLC") -> dict[str, Any]:
        return self.operator(
            "/sandbox/collect",
            {
                "userId": self.whalet_user,
                "currency": currency.upper(),
                "amount": str(Decimal(amount)),
                "payerName": payer,
            },
        )

    def replenish(self, kind: str) -> dict[str, Any]:
        return self.operator("/sandbox/replenish", {"kind": kind, "userId": self.whalet_user})

    def submit_documents(self, user: str, record: Record, name: str, data: bytes, note: str = "") -> None:
        """``user`` clicks Submit documents on a to-do, picks one file "uploaded" through the
        stand-in, and sends the modal, as Slack would (the file object, not its bytes)."""
        button = next((b for b in buttons(record.blocks) if b.get("action_id") == "replenish_submit"), None)
        if button is None:
            raise DriverError("no Submit documents button on that to-do")
        before = {v.id for v in self.stack.fake.views(user=user)}
        self.click(user, record, button)

        def opened() -> View | None:
            views = self.stack.fake.views(user=user)
            return next((v for v in views if v.callback_id == "replenish_submit_modal" and v.id not in before), None)

        form = self.stack.fake.wait_for(opened)
        assert form is not None
        picked = self.stack.fake.add_user_file(user, name, data)
        response = self.stack.slack_requests.view_submission(
            user, dict(form.view, id=form.id), {"files": [picked], "note": note}
        )
        if response.status_code != 200:
            raise DriverError(f"the app answered HTTP {response.status_code}: {response.text[:200]}")

    def tick(self, seconds: float) -> dict[str, Any]:
        return self.operator("/sandbox/clock", {"advance_seconds": seconds})

    def confirm_count(self, mer_order_no: str) -> int | None:
        return self.stack.confirm_counts().get(mer_order_no)

    def _ack(self, response: Any, user: str, channel: str) -> Ephemeral | None:
        """Slack shows a non-empty ack body to the user as an ephemeral message: so do we."""
        if response.status_code != 200:
            raise DriverError(f"the app answered HTTP {response.status_code}: {response.text[:200]}")
        body = response.text.strip()
        if not body:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            data = {"text": body}
        if not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
            return None
        ack = Ephemeral(
            channel,
            user,
            self.stack.fake.store.next_ts(),
            str(data.get("text") or ""),
            list(data.get("blocks") or []),
            source="response_url",
        )  # Slack: same look
        self.feed.add(Event("ephemeral", ack))
        return ack


def find_labelled(record: Record | View, label: str) -> dict[str, Any] | None:
    """The first button whose label starts with ``label`` (case-insensitive)."""
    wanted = label.strip().lower()
    blocks = (record.view.get("blocks") or []) if isinstance(record, View) else record.blocks
    return next((b for b in buttons(blocks) if button_label(b).strip().lower().startswith(wanted)), None)


def confirm_text(button: dict[str, Any]) -> str | None:
    """What Slack's confirm dialog on ``button`` says, or None when it has none."""
    confirm = button.get("confirm")
    if not isinstance(confirm, dict):
        return None
    parts = [_strings(confirm.get(key)) for key in ("title", "text")]
    return " — ".join(" ".join(p) for p in parts if p)
