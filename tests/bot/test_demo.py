"""The unattended demo runs end to end on the local stack and its Slack effects are asserted."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from devkit.demo import play_tour, run_demo
from devkit.demo_driver import plain_text
from devkit.demo_tour import TOUR, Command, Says, Step
from devkit.localstack import DEMO_USERS, LocalStack
from tests.fixtures.whalet import BOTH_PROTOCOLS


def plain_console(buffer: io.StringIO) -> Console:
    return Console(file=buffer, width=120, no_color=True, force_terminal=False)


@BOTH_PROTOCOLS
def test_unattended_tour_produces_every_expected_slack_effect(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    buffer = io.StringIO()
    code = run_demo(interactive=False, console=plain_console(buffer), stack=stack)
    out = buffer.getvalue()
    assert code == 0, out
    assert "Tour complete" in out
    for step in TOUR:  # every caption is shown, with the names of the people playing it
        assert step.title() in out
    assert DEMO_USERS["U0APP2"] in out
    # An approver's DM copy of the card and an App Home are drawn in the terminal.
    assert f"DM from the bot to {DEMO_USERS['U0APP1']}" in out and "You can approve this request" in out
    assert "App Home of @U0APP2" in out and "Waiting for you (1)" in out

    # Two payout cards and a batch card; each order (two payouts, three batch lines) confirmed once,
    # and each card has its result(s) in its thread.
    cards = [m for m in stack.fake.messages("C0APPROVALS") if not m.is_reply]
    assert [("1,200.50 USD" in plain_text(c), "25,000.00 USD" in plain_text(c)) for c in cards] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert "Pay out the batch month-end.csv: 3 lines" in plain_text(cards[2])
    assert sorted(stack.confirm_counts().values()) == [1, 1, 1, 1, 1]
    for card in cards:
        assert "Approved by" in plain_text(card)
        assert any(m.is_reply for m in stack.fake.thread("C0APPROVALS", card.ts))
    assert "U0APP1" in plain_text(cards[1]) and "U0APP2" in plain_text(cards[1])

    # The requester's own Approve was refused: an answer only they saw, and it is in the output.
    assert "someone else" in out
    assert not any("U0REQ" in line and "Approved by" in line for line in plain_text(cards[0]).splitlines())

    assert any("500.00" in plain_text(m) for m in stack.fake.messages("C0COLLECT"))
    todo = stack.fake.messages("C0COMPLIANCE")
    assert todo and "U0ADM" in plain_text(todo[0]) and todo[0].updated_count >= 1
    assert stack.fake.messages("C0FINANCE"), "no digest was posted"
    chart = stack.workdir / "digest-chart.png"  # the digest's chart, saved from its thread, path printed
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and f"is saved as {chart}" in out.replace("\n", "")


def test_a_step_whose_effect_does_not_appear_fails_the_demo_and_says_what_was_seen(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack()
    buffer = io.StringIO()
    impossible = Step(
        "{U0VIEW} looks for something that is never shown.",
        Command("U0VIEW", "balance"),
        (Says("an answer saying 'no-such-words-anywhere'", ("no-such-words-anywhere",)),),
        timeout=2.0,
    )
    code = play_tour(stack, plain_console(buffer), steps=[TOUR[0], impossible])
    out = buffer.getvalue()
    assert code == 1
    assert "FAILED step 2: Drew (viewer) looks for something that is never shown." in out
    assert "expected: an answer saying 'no-such-words-anywhere'" in out
    assert "seen during this step:" in out
    assert "Tour complete" not in out


def test_interactive_mode_pauses_between_steps_and_can_stop(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    buffer = io.StringIO()
    asked: list[int] = []

    def pause() -> bool:
        asked.append(1)
        return False  # the person types q at the first pause

    code = play_tour(stack, plain_console(buffer), interactive=True, pause=pause)
    assert code == 0 and asked == [1]
    out = buffer.getvalue()
    assert TOUR[0].title() in out and TOUR[1].title() not in out


def test_cli_demo_without_a_terminal_runs_unattended_and_exits_0(tmp_path: Path) -> None:
    """Through the CLI with ``--protocol v1`` (the tour test above plays both profiles)."""
    from typer.testing import CliRunner

    from bot.cli import command_line

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        result = CliRunner().invoke(command_line(), ["demo", "--workdir", str(tmp_path / "demo"), "--protocol", "v1"])
    finally:  # the CLI configures process-wide logging; later tests need pytest's back
        root.handlers[:] = handlers
        root.setLevel(level)
    assert result.exit_code == 0, result.output
    assert "Tour complete" in result.output and "Enter for the next step" not in result.output
    assert "(v1 protocol)" in result.output
    refused = CliRunner().invoke(command_line(), ["demo", "--protocol", "v2"])
    assert refused.exit_code == 2 and "--protocol must be one of legacy, v1, not 'v2'" in refused.output
    assert (tmp_path / "demo" / "whalet-bot.db").exists()  # --workdir keeps the database


def test_the_production_command_line_lists_the_demo_without_loading_the_dev_kit() -> None:
    """`whalet-bot run` builds the same command line; the sandbox and the Slack stand-in must not
    come into its process just because the dev kit is installed."""
    probe = (
        "import sys; from bot.cli import command_line; names = [c.callback.__name__ for c in command_line().registered_commands];"
        "loaded = [m for m in sys.modules if m.startswith('devkit.') and m != 'devkit.cli'];"
        "print(names, loaded)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "'demo'" in out and "'console'" in out and out.rstrip().endswith("[]"), out
