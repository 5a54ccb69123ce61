"""The `whalet-bot` command line: run, sandbox, keys, and the local tools.

Each command turns a bad setting or a broken config file into one clear message and exit code 2,
never a traceback: the people running this are finance teams' admins, not Python developers.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Optional

import typer

from bot.config import ConfigError
from bot.settings import SettingsError
from whalet.recipes import PROTOCOLS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="whalet-bot: Whalet balances, payouts with approvals and notifications in Slack.")
keys_app = typer.Typer(help="Key pairs for onboarding with Whalet.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def run(config: Optional[Path] = typer.Option(None, help="Policy file (default: WHALET_BOT_CONFIG).")) -> None:
    """Serve Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN) and the Whalet webhook."""
    import uvicorn

    from bot.config import load_config
    from bot.logs import configure_logging
    from bot.settings import load_settings
    from bot.wiring import build_runtime

    try:
        settings = load_settings()
        configure_logging(settings.log_level_number)
        bot_config = load_config(config or settings.whalet_bot_config)
        runtime = build_runtime(settings, bot_config)
    except (SettingsError, ConfigError) as exc:
        _fail(str(exc))
        return
    # uvicorn shuts down gracefully on SIGTERM/SIGINT (stop accepting, finish requests, run the
    # lifespan's shutdown: loops stopped, outbox handed back, database closed), then re-raises the
    # signal to the handler that was in place before it. Ours ends the process with exit code 0, so
    # a supervisor sees the clean stop it asked for rather than "killed by signal 15".
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(runtime.asgi, host=settings.whalet_bot_host, port=settings.whalet_bot_port,
                log_config=None, access_log=False, timeout_graceful_shutdown=10)


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8700, help="Port to listen on."),
    keys_dir: Path = typer.Option(Path("./sandbox-keys"), help="Key folder; missing keys are generated."),
    webhook_url: Optional[str] = typer.Option(None, help="Where notifications are delivered."),
    partner_id: str = typer.Option("PDEMO0001", help="The partner id the sandbox accepts."),
    latency_ms: int = typer.Option(0, help="Extra latency added to every API answer."),
    seed: int = typer.Option(0, help="Seed for rates and random faults."),
    protocol: str = typer.Option("legacy", help="legacy (RSA envelope at /api) or v1 (REST, token, HMAC)."),
) -> None:
    """Run the Whalet sandbox (a stateful imitation of Whalet's gateway) for staging."""
    from bot.logs import configure_logging
    from whalet.sandbox import run_sandbox

    if protocol not in PROTOCOLS:
        _fail(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    configure_logging("INFO")
    run_sandbox(host, port, keys_dir, webhook_url, partner_id, latency_ms, seed, protocol)


@keys_app.command("generate")
def keys_generate(directory: Path = typer.Argument(..., help="Folder for the new key pair.")) -> None:
    """Create an RSA-2048 partner key pair: send partner_public.pem to Whalet, keep the private key."""
    from whalet.envelope import generate_key_pair

    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / "partner_private.pem", directory / "partner_public.pem"
    if private_path.exists():
        _fail(f"{private_path} already exists; refusing to overwrite a key. Choose another folder.")
    private_pem, public_pem = generate_key_pair()
    private_path.write_bytes(private_pem)
    private_path.chmod(0o600)
    public_path.write_bytes(public_pem)
    typer.echo(f"Wrote {private_path} (keep it secret; set WHALET_PARTNER_PRIVATE_KEY={private_path})")
    typer.echo(f"Wrote {public_path} (give this one to Whalet)")


def _terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


PROTOCOL_HELP = "The Whalet protocol the sandbox and the app speak: legacy (RSA envelope) or v1 (REST)."


def _local_stack(workdir: Optional[Path], protocol: str = "legacy"):  # type: ignore[no-untyped-def]
    """The demo / console stack; a start-up failure is one message, not a traceback.

    Only errors are logged: the rendered Slack messages are the output, and the app's routine
    warnings would interleave with them.
    """
    from bot.localstack import start_local_stack
    from bot.logs import configure_logging

    if protocol not in PROTOCOLS:
        _fail(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    configure_logging("ERROR")
    try:
        return start_local_stack(workdir, protocol=protocol)
    except (SettingsError, ConfigError, OSError, RuntimeError) as exc:
        _fail(f"Could not start the local stack: {exc}")


@app.command()
def demo(
    interactive: Optional[bool] = typer.Option(
        None, "--interactive/--no-interactive",
        help="Pause between steps (default: yes in a terminal, no in CI and pipes)."),
    workdir: Optional[Path] = typer.Option(
        None, help="Keep the database and keys in this folder (default: a temporary one)."),
    protocol: str = typer.Option("legacy", help=PROTOCOL_HELP),
) -> None:
    """Play the whole product on loopback: Whalet sandbox, a Slack stand-in and the real app.

    Needs no credentials. Exits 0 only if every step produced its expected Slack effect.
    """
    from rich.console import Console

    from bot.demo import run_demo

    stack = _local_stack(workdir, protocol)
    try:
        code = run_demo(_terminal() if interactive is None else interactive, Console(), workdir, stack=stack)
    finally:
        stack.stop()
    raise typer.Exit(code=code)


@app.command()
def console(
    user: str = typer.Option("U0REQ", "--as", help="The Slack user you start as."),
    workdir: Optional[Path] = typer.Option(
        None, help="Keep the database and keys in this folder (default: a temporary one)."),
    protocol: str = typer.Option("legacy", help=PROTOCOL_HELP),
) -> None:
    """Type /whalet commands as demo Slack users against the local stack (:help inside)."""
    from rich.console import Console

    from bot.console import run_console

    stack = _local_stack(workdir, protocol)
    try:
        run_console(stack, Console(), user=user)
    finally:
        stack.stop()


@app.command()
def check(
    config: Optional[Path] = typer.Option(None, help="Policy file (default: WHALET_BOT_CONFIG)."),
    webhook_url: Optional[str] = typer.Option(
        None, help="This bot's public webhook URL (https://…/whalet/webhook): check what it answers."),
    probe: bool = typer.Option(False, "--probe", help="Try the alternatives of each provisional protocol setting "
                                                      "against connectivity and print the TOML lines that work."),
    allow_production: bool = typer.Option(False, "--allow-production",
                                          help="Let --probe call a gateway other than Whalet's test host."),
) -> None:
    """Validate settings, credentials and the policy file; take a Whalet round trip apart step by step; Slack.

    Prints one PASS / FAIL line per item with the fix; exits 0 only if everything passed. --probe
    sends at most 32 read-only calls, one per second.
    """
    from rich.console import Console

    from bot.check import CheckOptions, run_checks

    options = CheckOptions(webhook_url=webhook_url, probe=probe, allow_production=allow_production)
    raise typer.Exit(code=run_checks(None, config, Console(highlight=False), options))


@app.command()
def manifest(
    url: str = typer.Option(..., help="The public base URL of this bot, e.g. https://bot.example.org"),
    allow_http: bool = typer.Option(False, help="Accept an http:// URL (local tunnels only)."),
    file: Optional[Path] = typer.Option(None, help="Manifest to fill in (default: the shipped app_manifest.yml)."),
) -> None:
    """Print app_manifest.yml with this deployment's request URLs, ready for Slack's app settings."""
    from bot.manifest import ManifestError, render_manifest

    try:
        text = render_manifest(url, allow_http=allow_http, source=file)
    except ManifestError as exc:
        _fail(str(exc))
        return
    typer.echo(text, nl=not text.endswith("\n"))


def main() -> None:
    app(prog_name="whalet-bot")


if __name__ == "__main__":
    main()
