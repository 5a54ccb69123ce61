"""The `whalet-bot` command line: run, sandbox, keys, check, manifest, outbox (and the dev kit's tools).

Each command turns a bad setting or a broken config file into one clear message and exit code 2,
never a traceback: the people running this are finance teams' admins, not Python developers.

Every command runs under umask 077 (``main``): what the bot writes (the database and its WAL, the
lock file, keys, whatever a library writes) is readable by its own user only.
"""

from __future__ import annotations

import functools
import signal
from importlib.metadata import entry_points
from pathlib import Path
from typing import NoReturn, Optional

import typer

from core.config import ConfigError
from core.settings import SettingsError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="whalet-bot: Whalet balances, payouts with approvals and notifications in Slack.",
)
keys_app = typer.Typer(help="Key pairs for onboarding with Whalet.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
outbox_app = typer.Typer(help="The queue of Slack messages.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
TOOL_COMMANDS = "whalet_bot.cli"


def fail(message: str) -> NoReturn:
    """One red line on stderr and exit code 2: a setting or file problem, never a traceback."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def run(config: Optional[Path] = typer.Option(None, help="Policy file (default: WHALET_BOT_CONFIG).")) -> None:
    """Serve Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN) and the Whalet webhook."""
    import uvicorn

    from core.config import load_config
    from bot.logs import configure_logging
    from core.settings import load_settings
    from bot.http_server import ClientLimits, effective_max_connections, guarded_protocol
    from bot.wiring import build_runtime
    from core.storage.instance_lock import DatabaseInUse, InstanceLock
    from core.storage.store import DatabaseUnavailable

    try:
        settings = load_settings()
        configure_logging(settings.log_level_number)
        bot_config = load_config(config or settings.whalet_bot_config)
        lock = InstanceLock(settings.whalet_bot_db)
        if settings.database_url is None:  # SQLite: this process alone, for as long as it runs
            lock.acquire()
        runtime = build_runtime(settings, bot_config)
    except (SettingsError, ConfigError, DatabaseInUse, DatabaseUnavailable) as exc:
        fail(str(exc))
        return
    # uvicorn shuts down gracefully on SIGTERM/SIGINT (stop accepting, finish requests, run the
    # lifespan's shutdown: loops stopped, outbox handed back, database closed), then re-raises the
    # signal to the handler that was in place before it. Ours ends the process with exit code 0, so
    # a supervisor sees the clean stop it asked for rather than "killed by signal 15".
    signal.signal(signal.SIGTERM, _stopped)
    limits = ClientLimits(
        header_timeout=settings.whalet_bot_http_header_timeout_seconds,
        body_timeout=settings.whalet_bot_http_body_timeout_seconds,
        max_connections=effective_max_connections(settings.whalet_bot_http_max_connections),
    )
    try:
        uvicorn.run(
            runtime.asgi,
            host=settings.whalet_bot_host,
            port=settings.whalet_bot_port,
            http=guarded_protocol(limits),
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        lock.release()


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


@keys_app.command("generate")
def keys_generate(directory: Path = typer.Argument(..., help="Folder for the new key pair.")) -> None:
    """Create an RSA-2048 partner key pair: send partner_public.pem to Whalet, keep the private key."""
    from whalet.envelope import generate_key_pair

    from whalet.private_files import write_new_private

    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / "partner_private.pem", directory / "partner_public.pem"
    already = f"{private_path} already exists; refusing to overwrite a key. Choose another folder."
    if private_path.exists():
        fail(already)  # before the slow key generation
    private_pem, public_pem = generate_key_pair()
    try:
        write_new_private(private_path, private_pem)  # 0600 from its creation, never chmod-ed afterwards
    except FileExistsError:
        fail(already)
    except OSError as exc:
        fail(f"Could not write {private_path}: {exc.strerror or exc}")
    try:
        public_path.write_bytes(public_pem)
    except OSError as exc:
        private_path.unlink()  # half a pair is no use, and would block the next attempt
        fail(f"Could not write {public_path}: {exc.strerror or exc}")
    typer.echo(f"Wrote {private_path} (keep it secret; set WHALET_PARTNER_PRIVATE_KEY={private_path})")
    typer.echo(f"Wrote {public_path} (give this one to Whalet)")


@app.command()
def check(
    config: Optional[Path] = typer.Option(None, help="Policy file (default: WHALET_BOT_CONFIG)."),
    webhook_url: Optional[str] = typer.Option(
        None, help="This bot's public webhook URL (https://…/whalet/webhook): check what it answers."
    ),
    probe: bool = typer.Option(
        False,
        "--probe",
        help="Try the alternatives of each provisional protocol setting "
        "against connectivity and print the TOML lines that work.",
    ),
    allow_production: bool = typer.Option(
        False, "--allow-production", help="Let --probe call a gateway other than Whalet's test host."
    ),
) -> None:
    """Validate settings, credentials and the policy file; take a Whalet round trip apart step by step; Slack.

    Prints one PASS / FAIL line per item with the fix; exits 0 only if everything passed. --probe
    sends at most 32 read-only calls, one per second.
    """
    from rich.console import Console

    from bot.check import CheckOptions, run_checks

    options = CheckOptions(webhook_url=webhook_url, probe=probe, allow_production=allow_production)
    raise typer.Exit(code=run_checks(None, config, Console(highlight=False), options))


@outbox_app.command("retry-parked")
def outbox_retry_parked(
    row_id: Optional[int] = typer.Option(None, "--id", help="Only this outbox row (default: every parked one)."),
) -> None:
    """Put parked Slack messages back in the queue once their cause is fixed (audited)."""
    from core.clock import SYSTEM_CLOCK
    from core.settings import load_settings
    from core.storage.backend import open_store
    from core.storage.store import DatabaseUnavailable
    from services.slack.parking import retry_parked

    try:
        settings = load_settings()
        store = open_store(settings.database_url, settings.whalet_bot_db)
    except (SettingsError, DatabaseUnavailable) as exc:
        fail(str(exc))
        return
    try:
        ids = retry_parked(store, "cli", SYSTEM_CLOCK.now(), row_id)
    finally:
        store.close()
    if row_id is not None and not ids:
        fail(f"outbox row {row_id} is not parked (nothing changed)")
    typer.echo(
        f"{len(ids)} parked message{'s' if len(ids) != 1 else ''} back in the queue"
        + (f" (rows {', '.join(map(str, ids[:20]))}{'…' if len(ids) > 20 else ''})" if ids else "")
        + "; a running bot sends them within a second."
    )


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
        fail(str(exc))
        return
    typer.echo(text, nl=not text.endswith("\n"))


@functools.cache
def command_line() -> typer.Typer:
    """The whole command line: the commands above plus those other installed packages contribute
    through the ``whalet_bot.cli`` entry point group (the dev kit's demo and console), so this
    module never imports them. Cached: each contribution is added once."""
    for entry in entry_points(group=TOOL_COMMANDS):
        entry.load()(app)
    return app


def main() -> None:
    from whalet.private_files import restrict_umask

    restrict_umask()  # before any command runs: every file it creates is this user's alone
    command_line()(prog_name="whalet-bot")


if __name__ == "__main__":
    main()
