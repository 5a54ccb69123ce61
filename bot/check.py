"""``whalet-bot check``: is this installation ready? One PASS / FAIL line per item, with the fix.

The people who install the bot are finance teams' admins; a failed start says "something is
wrong", this says which thing is wrong and what to do about it. The Whalet round trip is taken
apart step by step in ``bot/check_whalet.py``; ``--probe`` (``bot/probe.py``) finds the recipe. Items run in
dependency order and an item whose inputs failed is SKIPped, not reported as a second, confusing
failure.

How "can the bot post in this channel" is checked: Slack has no dry run for posting, so the
check posts one short message ("whalet-bot check: can post here") and deletes it at once with
``chat.delete`` (allowed by ``chat:write`` for the bot's own messages); a channel sees at most a
fleeting message, once per ``check`` run. Posting is not enough, though: ``chat:write.public``
lets the bot post into public channels it never joined, where the outbox cannot read history to
recover from a crash. So each channel also needs the bot as a member (``conversations.info``'s
``is_member``, with ``channels:read``/``groups:read``), and the FAIL line says how to invite it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console
from rich.text import Text
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_slack_client
from core.storage.backend import open_store, pending_migrations
from core.storage.store import DatabaseUnavailable
from bot.check_whalet import money_switch, webhook_answer, whalet_round_trip
from bot.probe import Probe, ProbeStopped, toml_lines
from core.config import BotConfig, ConfigError, WhaletSection, load_config
from core.settings import Settings, SettingsError, load_settings
from core.transport import build_transport
from whalet.envelope import EnvelopeCodec
from whalet.gateways import is_test_gateway
from whalet.private_files import exposure
from whalet.transport import Transport
from services.slack.membership import Membership, memberships

CHECK_TEXT = "whalet-bot check: can post here"
PARTNER_KEY_BITS = 2048


@dataclass(frozen=True)
class Result:
    item: str
    ok: bool | None  # None: skipped because something it needs failed
    detail: str = ""
    fix: str = ""
    note: bool = False  # information only (the live-money switch, an untested webhook URL): never a failure

    def line(self) -> str:
        if self.note:
            return f"NOTE  {self.item}" + (f": {self.detail}" if self.detail else "")
        if self.ok is None:
            return f"SKIP  {self.item} ({self.detail})"
        if self.ok:
            return f"PASS  {self.item}" + (f": {self.detail}" if self.detail else "")
        return f"FAIL  {self.item}" + (f": {self.detail}" if self.detail else "") + f" → {self.fix}"


class Report:
    def __init__(self, out: Console) -> None:
        self.out = out
        self.results: list[Result] = []

    def add(self, result: Result) -> None:
        self.results.append(result)
        style = "cyan" if result.note else {True: "green", False: "red", None: "yellow"}[result.ok]
        self.out.print(Text(result.line(), style=style))

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.ok or r.note for r in self.results)


# --- items -----------------------------------------------------------------------------------


def _settings(given: Settings | dict[str, Any] | None, report: Report) -> Settings | None:
    try:
        settings = given if isinstance(given, Settings) else load_settings(**(given or {}))
    except SettingsError as exc:
        lines = str(exc).splitlines()
        report.add(
            Result(
                "settings",
                False,
                "; ".join(s.strip() for s in lines[1:]) or lines[0],
                "set the variables named above in the environment or in .env",
            )
        )
        return None
    report.add(Result("settings", True, "every required variable is set and valid"))
    return settings


def _credentials(settings: Settings, whalet: WhaletSection, report: Report) -> Transport | None:
    """The profile's credentials, one item each; the transport when all of them load."""
    if whalet.protocol == "v1":
        try:
            settings.v1_credentials()
        except SettingsError as exc:
            report.add(
                Result(
                    "v1 credentials",
                    False,
                    "; ".join(s.strip() for s in str(exc).splitlines()[1:]),
                    "set the variables Whalet issued with the partner id (README: Connecting to Whalet)",
                )
            )
            return None
        report.add(Result("v1 credentials", True, "client id, secret key, HMAC key and 16-byte AES key set"))
    elif _keys(settings, report) is None:
        return None
    try:
        return build_transport(settings, whalet)
    except SettingsError as exc:
        report.add(Result("Whalet gateway URL", False, str(exc), "correct WHALET_BASE_URL"))
        return None


def _keys(settings: Settings, report: Report) -> EnvelopeCodec | None:
    private = public = None
    try:
        private = settings.partner_private_key()
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size != PARTNER_KEY_BITS:
            bits = getattr(private, "key_size", "?")
            report.add(
                Result(
                    "partner private key",
                    False,
                    f"an RSA key of {bits} bits",
                    "Whalet expects RSA-2048: run `whalet-bot keys generate DIR`, send "
                    "partner_public.pem to Whalet and set WHALET_PARTNER_PRIVATE_KEY",
                )
            )
            private = None
        else:
            report.add(Result("partner private key", True, "RSA-2048 loads"))
    except SettingsError as exc:
        report.add(
            Result(
                "partner private key",
                False,
                str(exc),
                "point WHALET_PARTNER_PRIVATE_KEY at the PEM file `whalet-bot keys generate` wrote",
            )
        )
    try:
        public = settings.whalet_public_key()
        report.add(Result("Whalet public key", True, "loads (that it is Whalet's is checked by connectivity)"))
    except SettingsError as exc:
        report.add(
            Result("Whalet public key", False, str(exc), "set WHALET_PUBLIC_KEY to the public key Whalet gave you")
        )
    return EnvelopeCodec(private, public) if private is not None and public is not None else None


def _config(path: Path, report: Report) -> BotConfig | None:
    try:
        config = load_config(path)
    except ConfigError as exc:
        report.add(
            Result(
                f"policy file {path}",
                False,
                " ".join(str(exc).split()),
                "correct the keys named above (see whalet-bot.example.toml)",
            )
        )
        return None
    report.add(
        Result(
            f"policy file {path}",
            True,
            f"{len(config.all_channels())} channel(s), {len(config.beneficiaries)} beneficiary(ies)",
        )
    )
    return config


async def _whalet(
    settings: Settings, config: BotConfig | None, transport: Transport, report: Report, options: CheckOptions
) -> None:
    whalet = config.whalet if config is not None else WhaletSection()
    steps = await whalet_round_trip(settings, config or BotConfig(), transport)
    for step in steps:
        report.add(Result(step.item, step.ok, step.detail, step.fix))
    report.add(Result("live-money switch", True, money_switch(config or BotConfig(), transport), note=True))
    if options.webhook_url:
        step = await webhook_answer(options.webhook_url, transport)
        report.add(Result(step.item, step.ok, step.detail, step.fix))
    else:
        report.add(
            Result("webhook URL", None, "not tested: give --webhook-url https://your-host/whalet/webhook", note=True)
        )
    if options.probe:
        await _probe(transport, whalet, report, options)


def _database(settings: Settings, report: Report) -> None:
    """Which backend and version, and whether the schema is current (nothing is migrated here:
    ``run`` does that; a check must not change the database under a running bot)."""
    item = "database"
    if settings.database_url is None and not settings.whalet_bot_db.exists():
        report.add(
            Result(
                item, True, f"SQLite {sqlite3.sqlite_version}; {settings.whalet_bot_db} is created at the first start"
            )
        )
        return
    try:
        store = open_store(settings.database_url, settings.whalet_bot_db, migrations=())
    except (DatabaseUnavailable, sqlite3.Error) as exc:
        report.add(
            Result(
                item,
                False,
                str(exc),
                "check WHALET_BOT_DATABASE_URL (or WHALET_BOT_DB), that the server runs and that this user may connect",
            )
        )
        return
    try:
        pending = pending_migrations(store)
        where = store.describe()
    finally:
        store.close()
    schema = "schema current" if not pending else f"{len(pending)} migration(s) to apply at the next start"
    report.add(Result(item, True, f"{where}; {schema}"))


def _private_files(settings: Settings, report: Report) -> None:
    """The files that hold account numbers or a key, and the lock that keeps a second bot out, must
    be this user's alone: the bot creates them so, but a database from an older version, a key
    copied by hand or a restored backup may not be."""
    item = "private files"
    files = []
    if settings.database_url is None:  # Postgres keeps its data on its server, not in files here
        database = settings.whalet_bot_db
        files += [database, *(database.with_name(database.name + tail) for tail in ("-wal", "-shm", ".lock"))]
    key = settings.whalet_partner_private_key
    key_file = _key_file(key.get_secret_value()) if key is not None else None
    if key_file is not None:
        files.append(key_file)
    exposed = [(path, problem) for path in files if (problem := exposure(path)) is not None]
    if not exposed:
        present = [str(path) for path in files if path.exists()]
        report.add(
            Result(item, True, f"only this user can open {', '.join(present)}" if present else "none exists yet")
        )
        return
    foreign = any("owned by another user" in problem for _, problem in exposed)
    report.add(
        Result(
            item,
            False,
            "; ".join(f"{path} is {problem}" for path, problem in exposed),
            f"run `chmod 600 {' '.join(str(path) for path, _ in exposed)}`"
            + (", and chown them to the user whalet-bot runs as" if foreign else "")
            + " (they hold account numbers, a key or the lock that keeps a second bot out)",
        )
    )


def _key_file(setting: str) -> Path | None:
    """The file WHALET_PARTNER_PRIVATE_KEY names, when it names one rather than holding the key."""
    text = setting.strip()
    if not text or "\n" in text or "-----BEGIN" in text or len(text) >= 512:
        return None
    path = Path(text).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:  # bare Base64 that is no valid path
        return None


async def _probe(transport: Transport, whalet: WhaletSection, report: Report, options: CheckOptions) -> None:
    item = f"probe ({transport.profile} protocol, connectivity only)"
    if not is_test_gateway(transport.base_url) and not options.allow_production:
        report.add(
            Result(
                item,
                False,
                f"{transport.base_url} is not Whalet's test host",
                "probe the test gateway, or add --allow-production (read-only connectivity calls only)",
            )
        )
        return
    probe = Probe(transport, whalet.api_codes, interval=options.probe_interval)
    try:
        found = await probe.run()
    except ProbeStopped as exc:
        report.add(Result(item, False, f"stopped after {probe.calls} call(s)", str(exc)))
        return
    if found is None:
        report.add(
            Result(
                item,
                False,
                f"no alternative made the round trip work ({probe.calls} calls)",
                "ask Whalet for the integration pack's signing and encryption details",
            )
        )
    elif not found:
        report.add(Result(item, True, f"the configured recipe works ({probe.calls} call(s)); nothing to change"))
    else:
        lines = toml_lines(transport.profile, found)
        report.add(
            Result(item, True, f"the round trip works with these lines in the policy file ({probe.calls} calls)")
        )
        for text in lines:
            report.out.print(Text(f"      {text}"))  # Text: "[whalet.legacy]" is not rich markup


SLACK_TOKEN_FIX = "Slack rejected SLACK_BOT_TOKEN: reinstall the app and copy the Bot User OAuth Token"
CHANNEL_FIXES = {
    "not_in_channel": "invite @{bot} to #{name} (type /invite @{bot} in the channel)",
    "channel_not_found": "no channel {channel} that the bot can see: check the id in the policy file; "
    "for a private channel, invite @{bot} to it first",
    "is_archived": "#{name} is archived: unarchive it or use another channel in the policy file",
    "missing_scope": "the app lacks the chat:write scope: add it (app_manifest.yml) and reinstall",
    "restricted_action": "the workspace does not let apps post in #{name}: ask a Slack admin",
}


async def _slack(settings: Settings, config: BotConfig | None, report: Report) -> None:
    client = build_slack_client(settings, retries=False)
    item = f"Slack auth.test ({settings.slack_api_base_url})"
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "")
        fix = (
            SLACK_TOKEN_FIX
            if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired")
            else f"Slack answered {error}: reinstall the app"
        )
        report.add(Result(item, False, error, fix))
        return
    except Exception as exc:  # network: aiohttp/OSError, not a Slack answer
        report.add(
            Result(
                item,
                False,
                type(exc).__name__,
                f"could not reach Slack: check SLACK_API_BASE_URL and outgoing HTTPS ({exc})",
            )
        )
        return
    bot = str(auth.get("user") or "whalet-bot")
    report.add(Result(item, True, f"@{bot} ({auth.get('user_id')}) in {auth.get('team')}"))
    channels = sorted(config.all_channels()) if config is not None else []
    for member in await memberships(client, channels):
        report.add(await _can_post(client, member, bot))


async def _can_post(client: AsyncWebClient, member: Membership, bot: str) -> Result:
    channel, name = member.channel, member.name
    item = f"can post in #{name} ({channel})" if name != channel else f"can post in {channel}"
    try:
        posted = await client.chat_postMessage(channel=channel, text=CHECK_TEXT)
    except SlackApiError as exc:
        error = exc.response.get("error", "")
        template = CHANNEL_FIXES.get(error, "Slack answered {error} for {channel}; see its documentation")
        return Result(item, False, error, template.format(bot=bot, name=name, channel=channel, error=error))
    note = ""
    try:
        await client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    except SlackApiError as exc:
        note = f" (could not delete the test message: {exc.response.get('error')})"
    if member.problem is not None:
        return Result(item, False, f"posting works, but {member.problem}{note}", member.fix(f"@{bot}"))
    return Result(item, True, "test message posted and deleted; the bot is a member" + note)


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOptions:
    webhook_url: str | None = None  # our public webhook URL, to see what it answers
    probe: bool = False  # try the recipe alternatives (bot/probe.py)
    allow_production: bool = False  # let the probe call a gateway other than the test host
    probe_interval: float = 1.0  # seconds between probe calls


def run_checks(
    settings: Settings | dict[str, Any] | None = None,
    config_path: Path | None = None,
    out: Console | None = None,
    options: CheckOptions | None = None,
) -> int:
    """Check everything; 0 only when every item passed.

    ``settings``: ready Settings, or overrides for ``load_settings`` (None: environment / .env).
    ``config_path``: the policy file (None: ``WHALET_BOT_CONFIG`` from the settings).
    """
    report = Report(out or Console(highlight=False))
    loaded = _settings(settings, report)
    path = config_path or (loaded.whalet_bot_config if loaded is not None else Path("whalet-bot.toml"))
    config = _config(Path(path), report)
    if loaded is not None:
        _database(loaded, report)
        _private_files(loaded, report)
    else:
        report.add(Result("database", None, "needs valid settings"))
        report.add(Result("private files", None, "needs valid settings"))
    whalet = config.whalet if config is not None else WhaletSection()
    transport = _credentials(loaded, whalet, report) if loaded is not None else None
    if loaded is None:
        report.add(Result("Whalet connectivity", None, "needs valid settings"))
        report.add(Result("Slack auth.test and channels", None, "needs valid settings"))
    else:
        if transport is None:
            report.add(Result("Whalet connectivity", None, f"needs the {whalet.protocol} protocol's credentials"))
        asyncio.run(_remote(loaded, transport, config, report, options or CheckOptions()))
    return 0 if report.passed else 1


async def _remote(
    settings: Settings, transport: Transport | None, config: BotConfig | None, report: Report, options: CheckOptions
) -> None:
    if transport is not None:
        await _whalet(settings, config, transport, report, options)
    await _slack(settings, config, report)
    if config is None:
        report.add(Result("channels", None, "the policy file did not load"))
