"""``whalet-bot check``: is this installation ready? One PASS / FAIL line per item, with the fix.

The people who install the bot are finance teams' admins; a failed start says "something is
wrong", this says which of the six things is wrong and what to do about it. Items run in
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console
from rich.text import Text
from slack_sdk.errors import SlackApiError

from bot.app import build_slack_client
from core.config import BotConfig, ConfigError, load_config
from core.settings import Settings, SettingsError, load_settings
from whalet.envelope import EnvelopeCodec, SignatureInvalid
from whalet.errors import AuthenticationFailed, OutcomeUnknown, RequestNotSent, WhaletError, WhaletRejected
from services.slack.membership import Membership, memberships
from whalet.client import WhaletClient

CHECK_TEXT = "whalet-bot check: can post here"
PARTNER_KEY_BITS = 2048


@dataclass(frozen=True)
class Result:
    item: str
    ok: bool | None  # None: skipped because something it needs failed
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
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
        style = {True: "green", False: "red", None: "yellow"}[result.ok]
        self.out.print(Text(result.line(), style=style))

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)


# --- items -----------------------------------------------------------------------------------

def _settings(given: Settings | dict[str, Any] | None, report: Report) -> Settings | None:
    try:
        settings = given if isinstance(given, Settings) else load_settings(**(given or {}))
    except SettingsError as exc:
        lines = str(exc).splitlines()
        report.add(Result("settings", False, "; ".join(s.strip() for s in lines[1:]) or lines[0],
                          "set the variables named above in the environment or in .env"))
        return None
    report.add(Result("settings", True, "every required variable is set and valid"))
    return settings


def _keys(settings: Settings, report: Report) -> EnvelopeCodec | None:
    private = public = None
    try:
        private = settings.partner_private_key()
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size != PARTNER_KEY_BITS:
            bits = getattr(private, "key_size", "?")
            report.add(Result("partner private key", False, f"an RSA key of {bits} bits",
                              "Whalet expects RSA-2048: run `whalet-bot keys generate DIR`, send "
                              "partner_public.pem to Whalet and set WHALET_PARTNER_PRIVATE_KEY"))
            private = None
        else:
            report.add(Result("partner private key", True, "RSA-2048 loads"))
    except SettingsError as exc:
        report.add(Result("partner private key", False, str(exc),
                          "point WHALET_PARTNER_PRIVATE_KEY at the PEM file `whalet-bot keys generate` wrote"))
    try:
        public = settings.whalet_public_key()
        report.add(Result("Whalet public key", True, "loads (that it is Whalet's is checked by connectivity)"))
    except SettingsError as exc:
        report.add(Result("Whalet public key", False, str(exc),
                          "set WHALET_PUBLIC_KEY to the public key Whalet gave you"))
    return EnvelopeCodec(private, public) if private is not None and public is not None else None


def _config(path: Path, report: Report) -> BotConfig | None:
    try:
        config = load_config(path)
    except ConfigError as exc:
        report.add(Result(f"policy file {path}", False, " ".join(str(exc).split()),
                          "correct the keys named above (see whalet-bot.example.toml)"))
        return None
    report.add(Result(f"policy file {path}", True, f"{len(config.all_channels())} channel(s), "
                                                  f"{len(config.beneficiaries)} beneficiary(ies)"))
    return config


def whalet_fix(exc: WhaletError, settings: Settings) -> str:
    """The fix for a failed connectivity call, by what the failure says about our setup."""
    code = getattr(exc, "code", "")
    if isinstance(exc, AuthenticationFailed) and code == "PARTNER_NOT_EXIST":
        return f"Whalet does not know partner id {settings.whalet_partner_id}: check WHALET_PARTNER_ID"
    if isinstance(exc, AuthenticationFailed) and code == "UNAUTHENTICATED_ERROR":
        return ("Whalet could not verify our signature: check WHALET_PARTNER_PRIVATE_KEY and that "
                "Whalet has partner_public.pem")
    if isinstance(exc, AuthenticationFailed):
        return f"Whalet refused this partner ({code}): ask Whalet to enable the API for this partner id"
    if isinstance(exc, OutcomeUnknown) and isinstance(exc.__cause__, SignatureInvalid):
        return "Whalet's answer did not verify: check WHALET_PUBLIC_KEY"
    if isinstance(exc, RequestNotSent):
        return (f"could not reach Whalet at {settings.whalet_base_url}: check WHALET_BASE_URL, DNS, "
                "proxies and firewall rules for outgoing HTTPS")
    if isinstance(exc, WhaletRejected):
        return f"Whalet answered {code}: {exc.detail or 'no detail'}; contact Whalet support with this code"
    return f"Whalet gave no trustworthy answer ({exc}); check WHALET_BASE_URL and try again"


async def _connectivity(settings: Settings, codec: EnvelopeCodec, config: BotConfig | None,
                        report: Report) -> None:
    api_codes = config.whalet.api_codes if config is not None else None
    item = f"Whalet connectivity ({settings.whalet_base_url})"
    async with WhaletClient(settings.whalet_base_url, settings.whalet_partner_id, codec,
                            api_codes=api_codes, read_retries=0, timeout=15) as whalet:
        try:
            echoed = await whalet.connectivity("whalet-bot check")
        except WhaletError as exc:
            report.add(Result(item, False, getattr(exc, "code", None) or type(exc).__name__,
                              whalet_fix(exc, settings)))
            return
    report.add(Result(item, True, f"partner {settings.whalet_partner_id} accepted, answer verified"
                                  + (f" ({echoed!r})" if echoed else "")))


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
        fix = SLACK_TOKEN_FIX if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive",
                                           "token_expired") else f"Slack answered {error}: reinstall the app"
        report.add(Result(item, False, error, fix))
        return
    except Exception as exc:  # network: aiohttp/OSError, not a Slack answer
        report.add(Result(item, False, type(exc).__name__,
                          f"could not reach Slack: check SLACK_API_BASE_URL and outgoing HTTPS ({exc})"))
        return
    bot = str(auth.get("user") or "whalet-bot")
    report.add(Result(item, True, f"@{bot} ({auth.get('user_id')}) in {auth.get('team')}"))
    channels = sorted(config.all_channels()) if config is not None else []
    for member in await memberships(client, channels):
        report.add(await _can_post(client, member, bot))


async def _can_post(client: Any, member: Membership, bot: str) -> Result:
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

def run_checks(settings: Settings | dict[str, Any] | None = None, config_path: Path | None = None,
               out: Console | None = None) -> int:
    """Check everything; 0 only when every item passed.

    ``settings``: ready Settings, or overrides for ``load_settings`` (None: environment / .env).
    ``config_path``: the policy file (None: ``WHALET_BOT_CONFIG`` from the settings).
    """
    report = Report(out or Console(highlight=False))
    loaded = _settings(settings, report)
    codec = _keys(loaded, report) if loaded is not None else None
    path = config_path or (loaded.whalet_bot_config if loaded is not None else Path("whalet-bot.toml"))
    config = _config(Path(path), report)
    if loaded is None:
        report.add(Result("Whalet connectivity", None, "needs valid settings"))
        report.add(Result("Slack auth.test and channels", None, "needs valid settings"))
    else:
        if codec is None:
            report.add(Result("Whalet connectivity", None, "needs both keys"))
        asyncio.run(_remote(loaded, codec, config, report))
    return 0 if report.passed else 1


async def _remote(settings: Settings, codec: EnvelopeCodec | None, config: BotConfig | None,
                  report: Report) -> None:
    if codec is not None:
        await _connectivity(settings, codec, config, report)
    await _slack(settings, config, report)
    if config is None:
        report.add(Result("channels", None, "the policy file did not load"))
