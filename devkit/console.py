"""``whalet-bot console``: the Slack stand-in as a REPL, for trying the app by hand.

Type ``/whalet …`` as the current Slack user and every message the app posts, updates or shows
ephemerally appears rendered, with its buttons numbered; ``:click N`` presses one (showing its
confirm dialog first, like Slack). Sandbox events (a collection, a replenish request, the clock)
are one command away, so every notification path can be tried without Whalet or a workspace.

``handle_line`` is the whole command loop minus ``input()``: the test drives it directly.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.text import Text

from devkit.demo import show
from devkit.demo_driver import Driver, DriverError, Record, confirm_text
from devkit.localstack import DEMO_USERS, LocalStack
from devkit.slack_standin.blocks import button_label, buttons
from devkit.slack_standin.records import Ephemeral, Event, Message, View

HELP = """\
  /whalet …              run the slash command as the current user (in the current channel)
  :as USER               switch user (see :users), e.g. :as U0APP1
  :in CHANNEL            switch the channel commands are typed in, e.g. :in C0APPROVALS
  :click N               press button N of the last message with buttons
  :collect AMOUNT CUR [PAYER]   money arrives in the Whalet sandbox, e.g. :collect 500 USD
  :replenish edd|trade   Whalet asks for documents
  :tick 10m|30s|1h       advance the sandbox clock (payout results need time)
  :users                 the demo's Slack users and their roles
  :help                  this text
  :quit                  leave"""

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


class Quit(Exception):
    """Raised by ``:quit``; ``run`` ends the loop."""


def parse_duration(text: str) -> float:
    match = DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"'{text}' is not a duration; use e.g. 30s, 10m or 1h")
    return float(match.group(1)) * UNITS[match.group(2)]


class SlackConsole:
    """One person's seat at the stand-in: current user, current channel, last buttons seen."""

    def __init__(
        self,
        stack: LocalStack,
        console: Console,
        *,
        user: str = "U0REQ",
        channel: str = "C0FINANCE",
        confirm: Callable[[str], bool] | None = None,
    ) -> None:
        self.driver = Driver(stack)
        self.console = console
        self.user, self.channel = user, channel
        self._confirm = confirm or self._ask
        self._last: Record | None = None
        self._lock = threading.Lock()
        stack.fake.on_event(self._seen)

    # -- what the app does, as it happens ------------------------------------------------------
    def _seen(self, event: Event) -> None:
        """Called from the stand-in's thread for every event: render it, remember its buttons.
        Other people's DMs (approvers' copies of cards) and App Home tabs are not this seat's."""
        record = event.record
        if isinstance(record, View) and record.view.get("type") == "home" and record.user != self.user:
            return
        channel = getattr(record, "channel", None) or ""
        if (
            isinstance(record, Message)
            and channel.startswith("D")
            and channel != self.driver.stack.fake.dm_channel(self.user)
        ):
            return
        if isinstance(record, (Message, Ephemeral)) and event.kind != "delete" and buttons(record.blocks):
            if not isinstance(record, Ephemeral) or record.user == self.user:
                with self._lock:
                    self._last = record
        show(event, self.console)

    def _seen_ack(self, ack: Ephemeral | None) -> None:
        """An ack's answer never reaches the stand-in (Slack shows it as an ephemeral): show it."""
        if ack is not None:
            self._seen(Event("ephemeral", ack))

    # -- the command loop --------------------------------------------------------------------
    def handle_line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            if line.startswith("/"):
                self._command(line)
            elif line.startswith(":"):
                self._meta(line[1:])
            else:
                self.say("Type /whalet … or a :command (see :help).")
        except Quit:
            raise
        except (DriverError, ValueError, KeyError) as exc:
            self.say(f"! {exc}", style="red")

    def run(self, read: Callable[[str], str] = input) -> None:
        self.say(f"Slack stand-in console. You are {self._name(self.user)} in #{self.channel}. :help for help.")
        while True:
            try:
                line = read(f"{self.user}@#{self.channel}> ")
            except (EOFError, KeyboardInterrupt):
                self.say("")
                return
            try:
                self.handle_line(line)
            except Quit:
                return

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(text, style=style))

    # -- commands ------------------------------------------------------------------------------
    def _command(self, line: str) -> None:
        command, _, text = line.partition(" ")
        if command != "/whalet":
            raise ValueError(f"unknown slash command {command}; this app has /whalet")
        self._seen_ack(self.driver.command(self.user, text.strip(), self.channel))

    def _meta(self, line: str) -> None:
        words = shlex.split(line)
        name, args = words[0].lower(), words[1:]
        handler = self._handlers().get(name)
        if handler is None:
            raise ValueError(f"unknown command :{name}; see :help")
        handler(args)

    def _handlers(self) -> dict[str, Callable[[list[str]], None]]:
        return {
            "as": self._as,
            "in": self._in,
            "click": self._click,
            "collect": self._collect,
            "replenish": self._replenish,
            "tick": self._tick,
            "users": self._users,
            "help": lambda args: self.say(HELP),
            "quit": self._quit,
            "q": self._quit,
        }

    def _as(self, args: list[str]) -> None:
        if len(args) != 1 or args[0][:1] not in ("U", "W"):
            raise ValueError("usage: :as USER_ID (e.g. :as U0APP1; :users lists them)")
        self.user = args[0]
        self.say(f"You are now {self._name(self.user)}.")

    def _in(self, args: list[str]) -> None:
        if len(args) != 1 or args[0][:1] not in ("C", "G", "D"):
            raise ValueError("usage: :in CHANNEL_ID (e.g. :in C0FINANCE)")
        self.channel = args[0]
        self.say(f"Commands are now typed in #{self.channel}.")

    def _click(self, args: list[str]) -> None:
        if len(args) != 1 or not args[0].isdigit():
            raise ValueError("usage: :click N (the number shown on the button)")
        with self._lock:
            last = self._last
        record = self.driver.latest(last) if last is not None else None
        found = buttons(record.blocks) if record is not None else []
        if record is None or not found:
            raise ValueError("no message with buttons yet")
        number = int(args[0])
        if not 1 <= number <= len(found):
            raise ValueError(f"the last message has buttons 1 to {len(found)}")
        button = found[number - 1]
        dialog = confirm_text(button)
        if dialog and not self._confirm(dialog):
            self.say("Not confirmed; nothing was sent (like Slack's confirm dialog).")
            return
        self.say(f"{self._name(self.user)} clicks [{button_label(button)}]", style="cyan")
        self._seen_ack(self.driver.click(self.user, record, button))

    def _collect(self, args: list[str]) -> None:
        if len(args) not in (2, 3):
            raise ValueError("usage: :collect AMOUNT CURRENCY [PAYER], e.g. :collect 500 USD")
        answer = self.driver.collect(args[0], args[1], *args[2:])
        self.say(f"Sandbox: {self._money(answer, args)} received; Whalet notifies the bot.")

    def _replenish(self, args: list[str]) -> None:
        if len(args) != 1 or args[0].lower() not in ("edd", "trade"):
            raise ValueError("usage: :replenish edd|trade")
        answer = self.driver.replenish(args[0].lower())
        self.say(f"Sandbox: replenish request {answer.get('replenishId', '')} raised; Whalet notifies the bot.")

    def _tick(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ValueError("usage: :tick 10m|30s|1h")
        answer = self.driver.tick(parse_duration(args[0]))
        self.say(f"Sandbox clock is now {answer.get('now', '?')}.")

    def _users(self, args: list[str]) -> None:
        for user_id, name in DEMO_USERS.items():
            marker = "*" if user_id == self.user else " "
            self.say(f" {marker} {user_id:<8} {name}")

    def _quit(self, args: list[str]) -> None:
        raise Quit()

    def _ask(self, dialog: str) -> bool:
        answer = self.console.input(f"Slack asks: {dialog} [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    @staticmethod
    def _name(user: str) -> str:
        return DEMO_USERS.get(user, user)

    @staticmethod
    def _money(answer: dict[str, Any], args: list[str]) -> str:
        amount = answer.get("amount") or args[0]
        currency = answer.get("currency") or args[1].upper()
        return f"{amount} {currency}"


def run_console(stack: LocalStack, console: Console, *, user: str = "U0REQ") -> None:
    SlackConsole(stack, console, user=user).run()
