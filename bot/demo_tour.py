"""The demo tour as data, and the driver that plays Slack users against the local stack.

The tour is a list of ``Step``s: a caption, one action (a signed slash command, a click on a
button found by its label, a sandbox operator call, a clock tick) and the Slack effects that
must follow. Keeping it data means ``whalet-bot demo`` (for people), the test suite (for CI) and
``whalet-bot console`` (one action at a time, typed) share one vocabulary, and a broken step
names itself instead of hiding in a script.

Effects are matched against the events the Slack stand-in reports while the step runs (its
``on_event`` feed), plus the app's direct answers to Slack's requests (the "ack" bodies Slack
shows as ephemeral messages), which never reach the stand-in's Web API.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from bot.localstack import DEMO_USERS, LocalStack
from bot.slack_standin.blocks import button_label, buttons
from bot.slack_standin.records import Ephemeral, Event, Message

Record = Message | Ephemeral
COMMAND_CHANNEL = "C0FINANCE"  # where the tour's people type their slash commands


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

    def __post_init__(self) -> None:
        self.stack.fake.on_event(self.feed.add)

    @property
    def whalet_user(self) -> str:
        return self.stack.config.whalet.default_user_id or "U10001"

    def command(self, user: str, text: str, channel: str = COMMAND_CHANNEL) -> Ephemeral | None:
        """Send ``/whalet text``; returns the ack's visible answer, if the app gave one."""
        response = self.stack.slack_requests.command(user, text, channel_id=channel)
        return self._ack(response, user, channel)

    def click(self, user: str, record: Record, button: dict[str, Any]) -> Ephemeral | None:
        channel = record.channel or COMMAND_CHANNEL
        response = self.stack.slack_requests.block_action(
            user, record, action_id=button.get("action_id"), text=button_label(button),
            channel_id=channel)
        return self._ack(response, user, channel)

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
        return self.operator("/sandbox/collect", {"userId": self.whalet_user, "currency": currency.upper(),
                                                  "amount": str(Decimal(amount)), "payerName": payer})

    def replenish(self, kind: str) -> dict[str, Any]:
        return self.operator("/sandbox/replenish", {"kind": kind, "userId": self.whalet_user})

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
        ack = Ephemeral(channel, user, self.stack.fake.store.next_ts(), str(data.get("text") or ""),
                        list(data.get("blocks") or []), source="response_url")  # Slack: same look
        self.feed.add(Event("ephemeral", ack))
        return ack


def find_labelled(record: Record, label: str) -> dict[str, Any] | None:
    """The first button whose label starts with ``label`` (case-insensitive)."""
    wanted = label.strip().lower()
    return next((b for b in buttons(record.blocks) if button_label(b).strip().lower().startswith(wanted)), None)


def confirm_text(button: dict[str, Any]) -> str | None:
    """What Slack's confirm dialog on ``button`` says, or None when it has none."""
    confirm = button.get("confirm")
    if not isinstance(confirm, dict):
        return None
    parts = [_strings(confirm.get(key)) for key in ("title", "text")]
    return " — ".join(" ".join(p) for p in parts if p)


# --- the step vocabulary -----------------------------------------------------------------------

class Tour(Protocol):
    """What actions and expectations may use while a step runs."""

    driver: Driver
    saved: dict[str, Record]

    def events(self) -> list[Event]: ...


@dataclass(frozen=True)
class Command:
    user: str
    text: str
    channel: str = COMMAND_CHANNEL

    def run(self, tour: Tour) -> str:
        tour.driver.command(self.user, self.text, self.channel)
        return f"{who(self.user)} types  /whalet {self.text}  in #{self.channel}"


@dataclass(frozen=True)
class Click:
    user: str
    label: str   # a label prefix: "Approve" matches "Approve payout"
    target: str  # the name a previous step saved the message under

    def run(self, tour: Tour) -> str:
        record = tour.driver.latest(tour.saved[self.target])
        button = find_labelled(record, self.label) if record else None
        if record is None or button is None:
            raise DriverError(f"no button labelled {self.label!r} on the message saved as {self.target!r}")
        tour.driver.click(self.user, record, button)
        dialog = confirm_text(button)
        asked = f"  (Slack asks: {dialog}; they confirm)" if dialog else ""
        return f"{who(self.user)} clicks [{button_label(button)}]{asked}"


@dataclass(frozen=True)
class Collect:
    amount: str
    currency: str
    payer: str = "Globex Import LLC"

    def run(self, tour: Tour) -> str:
        tour.driver.collect(self.amount, self.currency, self.payer)
        return f"Whalet sandbox: {self.payer} pays in {self.amount} {self.currency}"


@dataclass(frozen=True)
class Replenish:
    kind: str

    def run(self, tour: Tour) -> str:
        tour.driver.replenish(self.kind)
        return f"Whalet sandbox: Whalet asks for {self.kind.upper()} documents"


@dataclass(frozen=True)
class Tick:
    seconds: int

    def run(self, tour: Tour) -> str:
        tour.driver.tick(self.seconds)
        return f"Whalet sandbox: the clock moves {self.seconds} s ahead, the payout is processed"


@dataclass(frozen=True)
class Says:
    """A message, ephemeral or update during the step that shows all of ``contains``."""

    what: str
    contains: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("message", "ephemeral")
    channel: str | None = None
    user: str | None = None       # for ephemerals: who sees it
    thread_of: str | None = None  # a reply in the thread of this saved message
    updates: str | None = None    # an update of this saved message
    save_as: str | None = None

    def met(self, tour: Tour) -> bool:
        for event in reversed(tour.events()):
            record = event.record
            if event.kind in self.kinds and isinstance(record, (Message, Ephemeral)) and self._fits(record, tour):
                if self.save_as:
                    tour.saved[self.save_as] = record
                return True
        return False

    def _fits(self, record: Record, tour: Tour) -> bool:
        if self.channel is not None and record.channel != self.channel:
            return False
        if self.user is not None and not (isinstance(record, Ephemeral) and record.user == self.user):
            return False
        if self.thread_of is not None:
            parent = tour.saved[self.thread_of]
            if not (isinstance(record, Message) and isinstance(parent, Message) and record.is_reply
                    and record.thread_ts == parent.ts):
                return False
        if self.updates is not None:
            target = tour.saved[self.updates]
            if not (isinstance(record, Message) and isinstance(target, Message) and record.ts == target.ts):
                return False
        return contains_all(record, self.contains)


ORDER_NO = re.compile(r"order `?([A-Za-z0-9]{6,32})`?")


@dataclass(frozen=True)
class ConfirmedOnce:
    """The sandbox received exactly one payoutConfirm for the order on the saved card."""

    target: str
    what: str = "Whalet received exactly one payoutConfirm for this order"

    def met(self, tour: Tour) -> bool:
        match = ORDER_NO.search(plain_text(tour.saved[self.target]))
        return match is not None and tour.driver.confirm_count(match.group(1)) == 1


class Expectation(Protocol):
    @property
    def what(self) -> str: ...

    def met(self, tour: Tour) -> bool: ...


class Action(Protocol):
    def run(self, tour: Tour) -> str: ...


@dataclass(frozen=True)
class Step:
    caption: str              # what happens next, for people; {U0REQ} etc. become names
    action: Action
    expect: tuple[Expectation, ...]
    timeout: float = 15.0

    def title(self) -> str:
        return self.caption.format(**DEMO_USERS)


APPROVALS, COLLECT, COMPLIANCE, FINANCE = "C0APPROVALS", "C0COLLECT", "C0COMPLIANCE", "C0FINANCE"

TOUR: list[Step] = [
    Step("{U0REQ} checks the balances; only they see the answer.",
         Command("U0REQ", "balance"),
         (Says("an ephemeral balance table with USD", ("USD",), user="U0REQ"),)),
    Step("{U0REQ} asks for a live USD→HKD quote.",
         Command("U0REQ", "rate USD HKD"),
         (Says("a USD→HKD quote", ("USD", "HKD"), user="U0REQ"),)),
    Step("{U0REQ} requests a payout of 1,200.50 USD; an approval card lands in #approvals.",
         Command("U0REQ", 'payout 1200.50 USD to acme-us for "Invoice 7781"'),
         (Says("an approval card in C0APPROVALS", ("1,200.50 USD",), kinds=("message",), channel=APPROVALS,
               save_as="card"),)),
    Step("{U0REQ} tries to approve their own request: four eyes, so it is refused.",
         Click("U0REQ", "Approve", "card"),
         (Says("a refusal only the requester sees", ("someone else",), kinds=("ephemeral",), user="U0REQ"),)),
    Step("{U0APP1} approves; the bot confirms with Whalet and updates the card.",
         Click("U0APP1", "Approve", "card"),
         (Says("the card updated to approved", ("Approved by",), kinds=("update",), updates="card"),)),
    Step("Time passes in the sandbox: Whalet reports the payout result, in the card's thread.",
         Tick(10),
         (Says("the payout result as a reply under the card", (), kinds=("message",), thread_of="card"),
          ConfirmedOnce("card"))),
    Step("{U0REQ} requests 25,000.00 USD: the larger tier needs two different approvers.",
         Command("U0REQ", 'payout 25000 USD to acme-us for "Equipment"'),
         (Says("an approval card needing 2 approvals", ("25,000.00 USD", "of 2"), kinds=("message",),
               channel=APPROVALS, save_as="big"),)),
    Step("{U0APP1} gives the first approval; one more is needed.",
         Click("U0APP1", "Approve", "big"),
         (Says("the card shows 1 of 2", ("1 of 2",), kinds=("update",), updates="big"),)),
    Step("{U0APP2} gives the second approval; now the payout goes to Whalet.",
         Click("U0APP2", "Approve", "big"),
         (Says("the card updated to approved", ("Approved by",), kinds=("update",), updates="big"),)),
    Step("Time passes again: the second payout's result arrives in its thread.",
         Tick(10),
         (Says("the payout result under the second card", (), kinds=("message",), thread_of="big"),
          ConfirmedOnce("big"))),
    Step("A customer pays 500.00 USD into the Whalet account: the collection lands in #collections.",
         Collect("500.00", "USD"),
         (Says("a collection message in C0COLLECT", ("500.00",), kinds=("message",), channel=COLLECT),)),
    Step("Whalet asks for enhanced due-diligence documents: a to-do lands in #compliance.",
         Replenish("edd"),
         (Says("a replenish to-do with an \"I'll handle it\" button", ("I'll handle it",), kinds=("message",),
               channel=COMPLIANCE, save_as="todo"),)),
    Step("{U0ADM} takes the to-do; the card shows who owns it.",
         Click("U0ADM", "I'll handle it", "todo"),
         (Says("the to-do updated with its owner", ("U0ADM",), kinds=("update",), updates="todo"),)),
    Step("{U0ADM} posts the balance digest now, in #finance.",
         Command("U0ADM", "digest now", channel=FINANCE),
         (Says("a digest in C0FINANCE", ("USD",), kinds=("message",), channel=FINANCE),)),
    Step("{U0ADM} checks the bot's health.",
         Command("U0ADM", "status"),
         (Says("a status answer mentioning Whalet", ("Whalet",), user="U0ADM"),)),
]
