"""The console REPL driven through its command loop against the local stack."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console

from devkit.console import Quit, SlackConsole, parse_duration
from devkit.demo_driver import plain_text
from devkit.localstack import LocalStack


def text_of(stack: LocalStack, channel: str, ts: str) -> str:
    message = stack.fake.message(channel, ts)
    return plain_text(message) if message is not None else ""


class Seat:
    def __init__(self, stack: LocalStack, confirm: bool = True) -> None:
        self.buffer = io.StringIO()
        self.dialogs: list[str] = []
        self.answer = confirm

        def ask(dialog: str) -> bool:
            self.dialogs.append(dialog)
            return self.answer

        self.repl = SlackConsole(stack, Console(file=self.buffer, width=120, no_color=True), confirm=ask)
        self.stack = stack

    def type(self, *lines: str) -> None:
        for line in lines:
            self.repl.handle_line(line)

    @property
    def out(self) -> str:
        return self.buffer.getvalue()


def test_a_payout_from_request_to_result_typed_in_the_console(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    seat = Seat(stack)
    fake = stack.fake

    seat.type("/whalet balance")
    fake.wait_for(lambda: "USD" in seat.out and "only visible to" in seat.out)

    seat.type('/whalet payout 300 USD to acme-us for "Console test"')
    card = fake.wait_for(lambda: next((m for m in fake.messages("C0APPROVALS") if not m.is_reply), None))
    assert card is not None
    fake.wait_for(lambda: "[1] Approve" in seat.out)

    seat.answer = False  # the approver cancels Slack's confirm dialog: nothing is sent
    seat.type(":as U0APP1", ":click 1")
    assert seat.dialogs and "Approve this payout?" in seat.dialogs[0]
    assert "Not confirmed" in seat.out
    assert "Waiting for approval — 0 of 1" in text_of(stack, "C0APPROVALS", card.ts)
    assert stack.slack_requests.last_payload.get("command") == "/whalet"  # no click was sent

    seat.answer = True
    seat.type(":click 1")
    fake.wait_for(lambda: "Approved by" in text_of(stack, "C0APPROVALS", card.ts))
    seat.type(":tick 10m")
    reply = fake.wait_for(lambda: next((m for m in fake.thread("C0APPROVALS", card.ts) if m.is_reply), None))
    assert reply is not None
    fake.wait_for(lambda: "↳ reply" in seat.out)
    assert reply.thread_ts == card.ts
    assert list(stack.confirm_counts().values()) == [1]
    assert "(updated)" in seat.out


def test_sandbox_events_and_the_to_do_button(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    seat = Seat(stack)
    fake = stack.fake
    seat.type(":collect 750.25 USD Initech")
    fake.wait_for(lambda: any("750.25" in plain_text(m) for m in fake.messages("C0COLLECT")))
    assert "Sandbox: 750.25 USD received" in seat.out

    seat.type(":replenish edd")
    todo = fake.wait_for(lambda: next(iter(fake.messages("C0COMPLIANCE")), None))
    assert todo is not None
    fake.wait_for(lambda: "I'll handle it" in seat.out)
    seat.type(":as U0ADM", ":click 1")
    fake.wait_for(lambda: "U0ADM" in text_of(stack, "C0COMPLIANCE", todo.ts))


def test_meta_commands_and_mistakes_get_a_clear_line(make_stack: Callable[..., LocalStack]) -> None:
    seat = Seat(make_stack())
    seat.type(":users", ":help", ":as U0APP2", ":in C0APPROVALS")
    assert "U0APP1" in seat.out and "Avery (approver)" in seat.out
    assert ":click N" in seat.out
    assert seat.repl.user == "U0APP2" and seat.repl.channel == "C0APPROVALS"
    for bad, says in [
        (":click 1", "no message with buttons yet"),
        (":frobnicate", "unknown command :frobnicate"),
        (":tick soon", "not a duration"),
        (":replenish kyc", "usage: :replenish edd|trade"),
        (":as nobody", "usage: :as USER_ID"),
        ("hello", "Type /whalet"),
        ("/other balance", "unknown slash command /other"),
    ]:
        seat.type(bad)
        assert says in seat.out, (bad, seat.out)
    with pytest.raises(Quit):
        seat.type(":quit")


def test_run_reads_lines_until_quit(make_stack: Callable[..., LocalStack]) -> None:
    seat = Seat(make_stack())
    lines = iter([":users", ":quit", ":users"])
    seat.repl.run(read=lambda prompt: next(lines))
    assert next(lines) == ":users"  # the loop stopped at :quit


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("1h", 3600), ("45", 45), ("1.5m", 90)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
