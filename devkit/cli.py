"""The dev kit's commands for `whalet-bot`: ``demo`` and ``console`` on the local stack.

Registered through the ``whalet_bot.cli`` entry point (see pyproject.toml), so the production
command line lists them without importing the dev kit itself. The stack, the demo and the console
are imported when their command runs: `whalet-bot run` loads this module to list the commands, and
has no use for a sandbox or a Slack stand-in in its process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from bot.cli import fail
from core.config import ConfigError
from bot.logs import configure_logging
from core.settings import SettingsError
from whalet.recipes import PROTOCOLS

if TYPE_CHECKING:
    from devkit.localstack import LocalStack

PROTOCOL_HELP = "The Whalet protocol the sandbox and the app speak: legacy (RSA envelope) or v1 (REST)."


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(console)


def _terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _local_stack(workdir: Optional[Path], protocol: str = "legacy") -> LocalStack:
    """The demo / console stack; a start-up failure is one message, not a traceback.

    Only errors are logged: the rendered Slack messages are the output, and the app's routine
    warnings would interleave with them.
    """
    from devkit.localstack import start_local_stack

    if protocol not in PROTOCOLS:
        fail(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    configure_logging("ERROR")
    try:
        return start_local_stack(workdir, protocol=protocol)
    except (SettingsError, ConfigError, OSError, RuntimeError) as exc:
        fail(f"Could not start the local stack: {exc}")


def demo(
    interactive: Optional[bool] = typer.Option(
        None,
        "--interactive/--no-interactive",
        help="Pause between steps (default: yes in a terminal, no in CI and pipes).",
    ),
    workdir: Optional[Path] = typer.Option(
        None, help="Keep the database and keys in this folder (default: a temporary one)."
    ),
    protocol: str = typer.Option("legacy", help=PROTOCOL_HELP),
) -> None:
    """Play the whole product on loopback: Whalet sandbox, a Slack stand-in and the real app.

    Needs no credentials. Exits 0 only if every step produced its expected Slack effect.
    """
    from rich.console import Console

    from devkit.demo import run_demo

    stack = _local_stack(workdir, protocol)
    try:
        code = run_demo(_terminal() if interactive is None else interactive, Console(), workdir, stack=stack)
    finally:
        stack.stop()
    raise typer.Exit(code=code)


def console(
    user: str = typer.Option("U0REQ", "--as", help="The Slack user you start as."),
    workdir: Optional[Path] = typer.Option(
        None, help="Keep the database and keys in this folder (default: a temporary one)."
    ),
    protocol: str = typer.Option("legacy", help=PROTOCOL_HELP),
) -> None:
    """Type /whalet commands as demo Slack users against the local stack (:help inside)."""
    from rich.console import Console

    from devkit.console import run_console

    stack = _local_stack(workdir, protocol)
    try:
        run_console(stack, Console(), user=user)
    finally:
        stack.stop()
