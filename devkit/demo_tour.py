"""The demo tour as data: captions, actions and the Slack effects each step must produce.

Each ``Step`` has a caption, one action (a signed slash command, a click on a button found by its
label, a sandbox operator call, a clock tick) and the Slack effects that must follow. Keeping it
data means ``whalet-bot demo`` (for people) and the test suite (for CI) play the same tour, and
a broken step names itself instead of hiding in a script. Effects are matched against the events
seen while the step runs (see ``devkit.demo_driver.Feed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from devkit.demo_driver import (
    COMMAND_CHANNEL,
    Driver,
    DriverError,
    Record,
    confirm_text,
    contains_all,
    find_labelled,
    plain_text,
    who,
)
from devkit.localstack import DEMO_USERS
from devkit.slack_standin.blocks import button_label
from devkit.slack_standin.records import Ephemeral, Event, Message, View

# --- the step vocabulary -----------------------------------------------------------------------


class Tour(Protocol):
    """What actions and expectations may use while a step runs."""

    driver: Driver
    saved: dict[str, Record | View]
    words: dict[str, str]  # English needle -> the tour's language's (devkit/demo_zh.py); empty in English

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
    label: str  # a label prefix: "Approve" matches "Approve payout"
    target: str  # the name a previous step saved the message under

    def run(self, tour: Tour) -> str:
        saved = tour.saved[self.target]
        if isinstance(saved, View):  # a button in someone's App Home
            home = tour.driver.home(self.user)
            button = find_labelled(home, tour.words.get(self.label, self.label)) if home else None
            if home is None or button is None:
                raise DriverError(f"no button labelled {self.label!r} in the App Home of {self.user}")
            tour.driver.click_in_view(self.user, home, button)
            return f"{who(self.user)} clicks [{button_label(button)}] in their App Home"
        record = tour.driver.latest(saved)
        button = find_labelled(record, tour.words.get(self.label, self.label)) if record else None
        if record is None or button is None:
            raise DriverError(f"no button labelled {self.label!r} on the message saved as {self.target!r}")
        tour.driver.click(self.user, record, button)
        dialog = confirm_text(button)
        asked = f"  (Slack asks: {dialog}; they confirm)" if dialog else ""
        return f"{who(self.user)} clicks [{button_label(button)}]{asked}"


@dataclass(frozen=True)
class ShowDM:
    """Put ``user``'s DM copy of the saved approval card on screen, saved as ``save_as``."""

    user: str
    target: str
    save_as: str

    def run(self, tour: Tour) -> str:
        card = tour.saved[self.target]
        found = None if isinstance(card, View) else tour.driver.dm_copy(self.user, card)
        if found is None:
            raise DriverError(f"{self.user} has no DM copy of the card saved as {self.target!r}")
        tour.saved[self.save_as] = found
        return f"{who(self.user)} looks at their direct messages from the bot"


@dataclass(frozen=True)
class OpenHome:
    user: str

    def run(self, tour: Tour) -> str:
        tour.driver.open_home(self.user)
        return f"{who(self.user)} opens the bot's Home tab"


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
class SendBatch:
    """`/whalet payout batch`, then a CSV picked in the modal's file input and submitted."""

    user: str
    name: str
    csv: str

    def run(self, tour: Tour) -> str:
        tour.driver.command(self.user, "payout batch")
        tour.driver.submit_file(self.user, "batch_payout_modal", self.name, self.csv.encode("utf-8"))
        rows = self.csv.strip().count("\n")
        return f"{who(self.user)} types  /whalet payout batch  and uploads {self.name} ({rows} payments)"


BATCH_CSV = """beneficiary,amount,currency,purpose,reference
acme-us,1800.00,USD,Parts,INV-8812
acme-us,950.25,USD,Freight,INV-8813
acme-hk,"4,200.00",HKD,Office rent,RENT-12
"""


@dataclass(frozen=True)
class SubmitDocuments:
    """``user`` answers the saved to-do with one small file "uploaded" through the stand-in."""

    user: str
    target: str
    file_name: str = "business-licence.pdf"

    def run(self, tour: Tour) -> str:
        saved = tour.saved[self.target]
        record = None if isinstance(saved, View) else tour.driver.latest(saved)
        if record is None:
            raise DriverError(f"the message saved as {self.target!r} is gone")
        tour.driver.submit_documents(self.user, record, self.file_name, DEMO_DOCUMENT, "Signed copy, as requested")
        return f"{who(self.user)} clicks [Submit documents], picks {self.file_name} and sends it to Whalet"


DEMO_DOCUMENT = b"%PDF-1.4\n% Acme Trading Ltd: business licence (demo)\n%%EOF\n"


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
    user: str | None = None  # for ephemerals: who sees it
    thread_of: str | None = None  # a reply in the thread of this saved message
    updates: str | None = None  # an update of this saved message
    dm_of: str | None = None  # in the bot's DM with this person
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
        if self.dm_of is not None and record.channel != tour.driver.stack.fake.dm_channel(self.dm_of):
            return False
        if self.thread_of is not None:
            parent = tour.saved[self.thread_of]
            if not (
                isinstance(record, Message)
                and isinstance(parent, Message)
                and record.is_reply
                and record.thread_ts == parent.ts
            ):
                return False
        if self.updates is not None:
            target = tour.saved[self.updates]
            if not (isinstance(record, Message) and isinstance(target, Message) and record.ts == target.ts):
                return False
        return contains_all(record, tuple(tour.words.get(needle, needle) for needle in self.contains))


@dataclass(frozen=True)
class SaveChart:
    """Wait for the chart the bot uploads into a saved message's thread; keep a copy in the work dir."""

    target: str
    filename: str = "digest-chart.png"
    timeout: float = 15.0

    def run(self, tour: Tour) -> str:
        parent, stack = tour.saved[self.target], tour.driver.stack
        if not isinstance(parent, Message):
            raise DriverError(f"the record saved as {self.target!r} is not a channel message")
        try:
            data = stack.fake.wait_for(
                lambda: next(
                    (f.data for f in stack.fake.uploaded_files(parent.channel) if f.thread_ts == parent.ts and f.data),
                    None,
                ),
                timeout=self.timeout,
                interval=0.05,
            )
        except AssertionError:
            data = None
        if not data:
            raise DriverError("no chart was uploaded into the digest's thread")
        path = stack.workdir / self.filename
        path.write_bytes(data)
        kept = (
            ""
            if stack.workdir_is_kept
            else " (a temporary folder, removed when the demo ends: use --workdir DIR to keep it)"
        )
        return f"the chart ({len(data):,} bytes, PNG) is saved as {path}{kept}"


@dataclass(frozen=True)
class ChartInThread:
    """The saved message's thread holds the chart as a file."""

    target: str
    what: str = "the chart uploaded into the digest's thread"

    def met(self, tour: Tour) -> bool:
        parent = tour.saved[self.target]
        return isinstance(parent, Message) and any(
            f.thread_ts == parent.ts for f in tour.driver.stack.fake.uploaded_files(parent.channel)
        )


@dataclass(frozen=True)
class HomeShows:
    """``user``'s App Home was published during the step and shows all of ``contains``."""

    what: str
    user: str
    contains: tuple[str, ...] = ()
    save_as: str | None = None

    def met(self, tour: Tour) -> bool:
        for event in reversed(tour.events()):
            view = event.record
            if (
                isinstance(view, View)
                and view.user == self.user
                and view.view.get("type") == "home"
                and all(tour.words.get(n, n).lower() in plain_text(view.view).lower() for n in self.contains)
            ):
                if self.save_as:
                    tour.saved[self.save_as] = view
                return True
        return False


ORDER_NO = re.compile(r"(?:order|订单) `?([A-Za-z0-9]{6,32})`?")  # the card in English or Chinese


@dataclass(frozen=True)
class ConfirmedOnce:
    """The sandbox received exactly one payoutConfirm for the order on the saved card."""

    target: str
    what: str = "Whalet received exactly one payoutConfirm for this order"

    def met(self, tour: Tour) -> bool:
        saved = tour.saved[self.target]
        match = None if isinstance(saved, View) else ORDER_NO.search(plain_text(saved))
        return match is not None and tour.driver.confirm_count(match.group(1)) == 1


class Expectation(Protocol):
    @property
    def what(self) -> str: ...

    def met(self, tour: Tour) -> bool: ...


class Action(Protocol):
    def run(self, tour: Tour) -> str: ...


@dataclass(frozen=True)
class Step:
    caption: str  # what happens next, for people; {U0REQ} etc. become names
    action: Action
    expect: tuple[Expectation, ...]
    timeout: float = 15.0

    def title(self) -> str:
        return self.caption.format(**DEMO_USERS)


APPROVALS, COLLECT, COMPLIANCE, FINANCE = "C0APPROVALS", "C0COLLECT", "C0COMPLIANCE", "C0FINANCE"

TOUR: list[Step] = [
    Step(
        "{U0REQ} checks the balances; only they see the answer.",
        Command("U0REQ", "balance"),
        (Says("an ephemeral balance table with USD", ("USD",), user="U0REQ"),),
    ),
    Step(
        "{U0REQ} asks for a live USD→HKD quote.",
        Command("U0REQ", "rate USD HKD"),
        (Says("a USD→HKD quote", ("USD", "HKD"), user="U0REQ"),),
    ),
    Step(
        "{U0REQ} requests a payout of 1,200.50 USD; an approval card lands in #approvals.",
        Command("U0REQ", 'payout 1200.50 USD to acme-us for "Invoice 7781"'),
        (
            Says(
                "an approval card in C0APPROVALS",
                ("1,200.50 USD",),
                kinds=("message",),
                channel=APPROVALS,
                save_as="card",
            ),
        ),
    ),
    Step(
        "{U0REQ} tries to approve their own request: four eyes, so it is refused.",
        Click("U0REQ", "Approve", "card"),
        (Says("a refusal only the requester sees", ("someone else",), kinds=("ephemeral",), user="U0REQ"),),
    ),
    Step(
        "Each approver also got the card in a DM, with the same buttons: here is {U0APP1}'s copy.",
        ShowDM("U0APP1", "card", save_as="dm_card"),
        (
            Says(
                "the card in the approver's DM", ("1,200.50 USD", "You can approve"), kinds=("message",), dm_of="U0APP1"
            ),
        ),
    ),
    Step(
        "{U0APP1} approves from that DM; the bot confirms with Whalet and updates every copy of the card.",
        Click("U0APP1", "Approve", "dm_card"),
        (
            Says("the card in #approvals updated to approved", ("Approved by",), kinds=("update",), updates="card"),
            Says("the DM copy updated too", ("Approved by",), kinds=("update",), updates="dm_card"),
        ),
    ),
    Step(
        "Time passes in the sandbox: Whalet reports the payout result, in the card's thread.",
        Tick(10),
        (
            Says("the payout result as a reply under the card", (), kinds=("message",), thread_of="card"),
            ConfirmedOnce("card"),
        ),
    ),
    Step(
        "{U0REQ} requests 25,000.00 USD: the larger tier needs two different approvers.",
        Command("U0REQ", 'payout 25000 USD to acme-us for "Equipment"'),
        (
            Says(
                "an approval card needing 2 approvals",
                ("25,000.00 USD", "of 2"),
                kinds=("message",),
                channel=APPROVALS,
                save_as="big",
            ),
        ),
    ),
    Step(
        "{U0APP1} gives the first approval; one more is needed.",
        Click("U0APP1", "Approve", "big"),
        (Says("the card shows 1 of 2", ("1 of 2",), kinds=("update",), updates="big"),),
    ),
    Step(
        "{U0APP2} opens the bot's Home tab: what waits for them (with Approve and Reject), balances, digests.",
        OpenHome("U0APP2"),
        (
            HomeShows(
                "the Home with the request waiting",
                "U0APP2",
                ("Waiting for you", "25,000.00 USD", "Approve"),
                save_as="home",
            ),
        ),
    ),
    Step(
        "{U0APP2} gives the second approval from the Home tab; now the payout goes to Whalet.",
        Click("U0APP2", "Approve", "home"),
        (Says("the card updated to approved", ("Approved by",), kinds=("update",), updates="big"),),
    ),
    Step(
        "{U0APP2} refreshes the balances on the Home tab: one Whalet call, a snapshot with its age.",
        Click("U0APP2", "Refresh", "home"),
        (HomeShows("the Home with a balance snapshot", "U0APP2", ("Balances of", "USD", "less than a minute ago")),),
    ),
    Step(
        "Time passes again: the second payout's result arrives in its thread.",
        Tick(10),
        (
            Says("the payout result under the second card", (), kinds=("message",), thread_of="big"),
            ConfirmedOnce("big"),
        ),
    ),
    Step(
        "{U0REQ} sends the month-end suppliers as one CSV file: every row is checked, one card asks for one approval.",
        SendBatch("U0REQ", "month-end.csv", BATCH_CSV),
        (
            Says(
                "a batch card in C0APPROVALS",
                ("Pay out the batch", "3 lines"),
                kinds=("message",),
                channel=APPROVALS,
                save_as="batch",
            ),
        ),
    ),
    Step(
        "{U0APP1} approves the batch once: each line is its own Whalet order; the results land in its thread.",
        Click("U0APP1", "Approve", "batch"),
        (
            Says("the batch card updated", ("Approved by",), kinds=("update",), updates="batch"),
            Says("the results in the batch's thread", ("Results", "SUCCEEDED"), kinds=("message",), thread_of="batch"),
        ),
        timeout=30.0,
    ),
    Step(
        "A customer pays 500.00 USD into the Whalet account: the collection lands in #collections.",
        Collect("500.00", "USD"),
        (Says("a collection message in C0COLLECT", ("500.00",), kinds=("message",), channel=COLLECT),),
    ),
    Step(
        "Whalet asks for enhanced due-diligence documents: a to-do lands in #compliance.",
        Replenish("edd"),
        (
            Says(
                'a replenish to-do with an "I\'ll handle it" button',
                ("I'll handle it",),
                kinds=("message",),
                channel=COMPLIANCE,
                save_as="todo",
            ),
        ),
    ),
    Step(
        "{U0ADM} takes the to-do; the card shows who owns it.",
        Click("U0ADM", "I'll handle it", "todo"),
        (Says("the to-do updated with its owner", ("U0ADM",), kinds=("update",), updates="todo"),),
    ),
    Step(
        "{U0ADM} answers it with Submit documents and one PDF; Whalet passes it and the to-do closes.",
        SubmitDocuments("U0ADM", "todo"),
        (
            Says("Whalet's answer in the to-do's thread", ("Whalet received the documents",), thread_of="todo"),
            Says("Whalet's decision in the to-do's thread", ("PASS",), kinds=("message",), thread_of="todo"),
            Says("the to-do closed", ("Closed",), kinds=("update",), updates="todo"),
        ),
    ),
    Step(
        "{U0ADM} posts the balance digest now, in #finance.",
        Command("U0ADM", "digest now", channel=FINANCE),
        (Says("a digest in C0FINANCE", ("USD",), kinds=("message",), channel=FINANCE, save_as="digest"),),
    ),
    Step(
        "The digest's chart (the last 30 days of balances per currency) arrives in its thread; a copy is saved.",
        SaveChart("digest"),
        (ChartInThread("digest"),),
    ),
    Step(
        "{U0ADM} checks the bot's health.",
        Command("U0ADM", "status"),
        (Says("a status answer mentioning Whalet", ("Whalet",), user="U0ADM"),),
    ),
]
