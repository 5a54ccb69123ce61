"""``whalet-bot demo``: the whole product on loopback, played through as different Slack users.

It starts the local stack (Whalet sandbox, Slack stand-in, the real app), then plays
``devkit.demo_tour.TOUR`` step by step: a caption, the action, and the Slack messages that follow,
drawn in the terminal. Each step also states the Slack effect it expects; a step whose effect
does not appear in time fails the demo with what was expected and what was seen. That makes the
unattended run (CI, pipes, the test suite) a real end-to-end test, and the interactive run an
honest one: what the newcomer watches is what the tests prove.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from devkit.demo_driver import Driver, DriverError, Record, plain_text
from devkit.demo_tour import TOUR, Step
from devkit.demo_zh import LOCALES, config_for, speak
from devkit.localstack import DEMO_USERS, LocalStack, start_local_stack
from devkit.slack_standin.records import Ephemeral, Event, Message, View
from devkit.slack_standin.render import render_event, render_message


class EventPrinter:
    """Renders feed events in the caller's thread, so captions and messages never interleave."""

    def __init__(self, driver: Driver, console: Console) -> None:
        self.driver, self.console = driver, console
        self._shown = driver.feed.mark()

    def flush(self) -> None:
        events = self.driver.feed.since(self._shown)
        self._shown += len(events)
        for event in events:
            if not self.driver.shown(event):
                continue
            record = event.record
            if isinstance(record, Message) and record.channel.startswith("D") and event.kind in ("message", "update"):
                if event.kind == "update":
                    self.console.print(Text("(updated)", style="dim"))
                render_message(
                    record, self.console, caption=f"DM from the bot to {self.driver.dm_owner(record.channel)}"
                )
            else:
                show(event, self.console)


def show(event: Event, console: Console) -> None:
    """One stand-in event as a person would notice it in Slack."""
    if event.kind == "response":
        return  # a response_url post shows up as its own message/ephemeral/update event
    if event.kind == "update" and isinstance(event.record, (Message, Ephemeral)):
        console.print(Text("(updated)", style="dim"))
    render_event(event, console)


class TourRun:
    """Plays steps one by one; ``saved`` holds messages later steps click on."""

    def __init__(self, driver: Driver, console: Console, words: dict[str, str] | None = None) -> None:
        self.driver, self.console = driver, console
        self.words = words or {}
        self.saved: dict[str, Record | View] = {}
        self.printer = EventPrinter(driver, console)
        self._mark = driver.feed.mark()

    def events(self) -> list[Event]:
        return self.driver.feed.since(self._mark)

    def play(self, number: int, step: Step) -> bool:
        self.console.print(Rule(f"Step {number}/{len(TOUR)}"))
        self.console.print(Text(step.title(), style="bold"))
        self._mark = self.driver.feed.mark()
        try:
            self.console.print(Text("→ " + step.action.run(self), style="cyan"))
        except DriverError as exc:
            return self._failed(number, step, f"the action could not be sent: {exc}")
        try:
            self.driver.stack.fake.wait_for(self._met(step), timeout=step.timeout, interval=0.05)
        except AssertionError:
            return self._failed(number, step, "not seen within %.0f s" % step.timeout)
        finally:
            self.printer.flush()
        return True

    def _met(self, step: Step) -> Callable[[], bool]:
        def check() -> bool:
            self.printer.flush()
            return all(expectation.met(self) for expectation in step.expect)

        return check

    def _failed(self, number: int, step: Step, why: str) -> bool:
        missing = [e.what for e in step.expect if not _safe_met(e, self)]
        self.console.print(Text(f"FAILED step {number}: {step.title()}", style="bold red"))
        self.console.print(f"  expected: {'; '.join(missing) or 'its effects'} ({why})")
        seen = [e for e in self.events() if e.kind != "response"]
        self.console.print(f"  seen during this step: {len(seen)} Slack event(s)")
        for event in seen[-8:]:
            record = event.record
            where = getattr(record, "channel", None) or "?"
            text = " ".join(plain_text(record).split())[:160] if isinstance(record, (Message, Ephemeral)) else ""
            self.console.print(f"    {event.kind} in {where}: {text}")
        return False


def _safe_met(expectation: object, tour: TourRun) -> bool:
    try:
        return bool(expectation.met(tour))  # type: ignore[attr-defined]
    except (KeyError, LookupError):
        return False


def play_tour(
    stack: LocalStack,
    console: Console,
    *,
    interactive: bool = False,
    steps: list[Step] | None = None,
    pause: Callable[[], bool] | None = None,
    locale: str = "en",
) -> int:
    """Play ``steps`` (default: the whole tour) on a running stack; 0 when every effect was seen."""
    steps = TOUR if steps is None else steps
    speak(stack, locale)
    tour = TourRun(Driver(stack), console, LOCALES[locale][0])
    ask = pause or (lambda: _pause(console))
    console.print("Playing Slack: " + ", ".join(f"{name} = {user}" for user, name in DEMO_USERS.items()))
    for number, step in enumerate(steps, start=1):
        if interactive and number > 1 and not ask():
            console.print("Stopped before the end of the tour.")
            return 0
        if not tour.play(number, step):
            return 1
    time.sleep(0.2)
    tour.printer.flush()
    console.print(Rule("Tour complete: every step produced its Slack effect"))
    return 0


def _pause(console: Console) -> bool:
    try:
        answer = console.input("[dim]Enter for the next step, q to quit: [/dim]")
    except EOFError:
        return True
    return answer.strip().lower() not in ("q", "quit", "exit")


def run_demo(
    interactive: bool,
    console: Console | None = None,
    workdir: Path | None = None,
    *,
    stack: LocalStack | None = None,
    protocol: str = "legacy",
    locale: str = "en",
) -> int:
    """Start the stack (unless one is given), play the tour, stop what we started; 0 = all good.

    ``workdir`` keeps the database and keys there instead of a temporary folder; ``protocol`` is
    the Whalet profile the sandbox and the app speak ("legacy" or "v1").
    """
    console = console or Console()
    own = stack is None
    if stack is None:
        console.print("Starting the Whalet sandbox, the Slack stand-in and whalet-bot on loopback…")
        stack = start_local_stack(workdir, protocol=protocol, config_toml=config_for(locale))
    try:
        profile = stack.services.whalet.protocol.profile
        console.print(f"  Whalet sandbox {stack.sandbox_url} ({profile} protocol) · whalet-bot {stack.url}")
        return play_tour(stack, console, interactive=interactive, locale=locale)
    finally:
        if own:
            stack.stop()
