"""`whalet-bot demo --locale zh-Hans`: the tour plays with Chinese people and channels, every step met."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console

from devkit.demo import run_demo
from devkit.demo_driver import plain_text
from devkit.demo_zh import config_for
from devkit.localstack import LocalStack


def test_the_tour_plays_in_chinese(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(config_for("zh-Hans"))
    buffer = io.StringIO()
    code = run_demo(
        interactive=False, console=Console(file=buffer, width=120, no_color=True), stack=stack, locale="zh-Hans"
    )
    assert code == 0, buffer.getvalue()
    cards = [m for m in stack.fake.messages("C0APPROVALS") if not m.is_reply]
    assert "向受益人" in plain_text(cards[0]) and "已由" in plain_text(cards[0])
    assert "1,200.50 USD" in plain_text(cards[0])
    assert "批准提现" in buffer.getvalue()  # the button the approver clicked


def test_an_unknown_locale_is_refused_by_the_cli() -> None:
    from typer.testing import CliRunner

    from bot.cli import command_line

    result = CliRunner().invoke(command_line(), ["demo", "--locale", "fr", "--no-interactive"])
    assert result.exit_code == 2 and "--locale must be one of en, zh-Hans" in result.output
