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
    app.command()(sandbox)
    app.command()(demo)
    app.command()(console)


def _terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _local_stack(workdir: Optional[Path], protocol: str = "legacy", config_toml: Optional[str] = None) -> LocalStack:
    """The demo / console stack; a start-up failure is one message, not a traceback.

    Only errors are logged: the rendered Slack messages are the output, and the app's routine
    warnings would interleave with them.
    """
    from devkit.localstack import start_local_stack

    if protocol not in PROTOCOLS:
        fail(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    configure_logging("ERROR")
    try:
        if config_toml is None:
            return start_local_stack(workdir, protocol=protocol)
        return start_local_stack(workdir, protocol=protocol, config_toml=config_toml)
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
    locale: str = typer.Option(
        "en", help="The Slack language of the demo people and channels: en or zh-Hans (简体中文)."
    ),
) -> None:
    """Play the whole product on loopback: Whalet sandbox, a Slack stand-in and the real app.

    Needs no credentials. Exits 0 only if every step produced its expected Slack effect.
    """
    from rich.console import Console

    from devkit.demo import run_demo
    from devkit.demo_zh import LOCALES, config_for

    if locale not in LOCALES:
        fail(f"--locale must be one of {', '.join(LOCALES)}, not {locale!r}")
    stack = _local_stack(workdir, protocol, config_for(locale))
    try:
        code = run_demo(
            _terminal() if interactive is None else interactive, Console(), workdir, stack=stack, locale=locale
        )
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


def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8700, help="Port to listen on."),
    keys_dir: Path = typer.Option(Path("./sandbox-keys"), help="Key folder; missing keys are generated."),
    webhook_url: Optional[str] = typer.Option(None, help="Where notifications are delivered."),
    partner_id: Optional[str] = typer.Option(
        None, help="The partner id the sandbox accepts (default PDEMO0001; v1: the numeric 800000001)."
    ),
    latency_ms: int = typer.Option(0, help="Extra latency added to every API answer."),
    seed: int = typer.Option(0, help="Seed for rates and random faults."),
    protocol: str = typer.Option("legacy", help="legacy (RSA envelope at /api) or v1 (REST, token, HMAC)."),
    v1_request_signature: str = typer.Option(
        "on", help="v1: on checks every request's HMAC sign header; off accepts unsigned requests."
    ),
    v1_errors: str = typer.Option(
        "http", help="v1: http answers refusals with 400/401/404; body answers HTTP 200 with the code in the body."
    ),
) -> None:
    """Run the Whalet sandbox (a stateful imitation of Whalet's gateway) for staging."""
    from bot.logs import configure_logging
    from devkit.whalet_sandbox import run_sandbox

    if protocol not in PROTOCOLS:
        fail(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if v1_request_signature not in ("on", "off"):
        fail(f"--v1-request-signature must be on or off, not {v1_request_signature!r}")
    if v1_errors not in ("http", "body"):
        fail(f"--v1-errors must be http or body, not {v1_errors!r}")
    v1 = {"request_signature": v1_request_signature == "on", "errors": v1_errors}
    partner = partner_id or ("800000001" if protocol == "v1" else "PDEMO0001")
    configure_logging("INFO")
    run_sandbox(
        host, port, keys_dir, webhook_url, partner, latency_ms, seed, protocol, v1 if protocol == "v1" else None
    )
