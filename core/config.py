"""The policy file (``whalet-bot.toml``): roles, approval tiers, beneficiaries, routing, digests.

It decides who may move how much money, so a wrong file must stop the bot at start with the
exact key and the reason, never a traceback and never a silently ignored typo (``extra="forbid"``
everywhere). Amounts are Decimals written as strings: a TOML float such as ``10000.5`` is
binary floating point and is refused. See ``whalet-bot.example.toml`` for every key.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic import field_validator, model_validator

from core.config_fields import (
    EVENT_GROUPS,
    Amount,
    ChannelId,
    ConfigError,
    Currency,
    CurrencyAmounts,
    GroupId,
    Int,
    NonEmpty,
    Positive,
    Problem,
    UserId,
    _check,
    _event,
    _fits,
    _hh_mm,
    _zone,
    iso_countries,
)
from core.i18n import Locale
from whalet.recipes import LegacyRecipe, V1Recipe

__all__ = ["EVENT_GROUPS", "ConfigError", "Problem", "iso_countries", "BotConfig", "load_config"]

ROLES = ("viewer", "requester", "approver", "admin")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhaletUser(Model):
    id: NonEmpty
    name: NonEmpty


class WhaletSection(Model):
    """Which Whalet user ids the bot acts for; ``api_codes`` overrides provisional apiCodes."""

    default_user_id: NonEmpty | None = None
    default_fund_source: Literal["B2C", "B2B", "Acquiring"] = "B2C"
    users: list[WhaletUser] = []
    api_codes: dict[str, NonEmpty] = {}
    # The protocol profile and its provisional details (protocol spec §10, README "Connecting to Whalet").
    protocol: Literal["legacy", "v1"] = "legacy"
    money_enabled: bool = False  # the live-money switch for gateways other than loopback / Whalet's test host
    amounts: Literal["number", "string"] = "number"  # how request amounts are written
    # How documents travel in eddReplenishSubmit / tradeReplenishSubmit ``materials`` and a
    # binding's ``contract`` (provisional, README "Whalet apiCodes that are provisional"):
    # a list of {name, contentType, size, sha256, content} / an object {file name: content},
    # the content Base64 in both.
    replenish_materials: Literal["base64", "base64_map"] = "base64"
    legacy: LegacyRecipe = LegacyRecipe()
    v1: V1Recipe = V1Recipe()

    @model_validator(mode="after")
    def _default_is_known(self) -> WhaletSection:
        ids = [user.id for user in self.users]
        for index, user_id in enumerate(ids):
            if user_id in ids[:index]:
                raise Problem(f"user id {user_id!r} is listed twice", f".users[{index}].id")
        if self.default_user_id and ids and self.default_user_id not in ids:
            raise Problem(f"{self.default_user_id!r} is not one of users ({', '.join(ids)})", ".default_user_id")
        return self

    @property
    def user_id(self) -> str | None:
        """The user id commands use when none is given: the default, else the first user."""
        return self.default_user_id or (self.users[0].id if self.users else None)


RoleName = Literal["viewer", "requester", "approver", "admin"]


class Roles(Model):
    """Roles are ordered viewer < requester < approver < admin: each holds the rights of those
    below it, so an admin (freeze/unfreeze, digest schedules) may also request and approve, though
    never approve their own request. Unlisted users hold no role (``everyone_else = "none"``): they
    get `help` and who can grant access, never a balance or a name; ``"viewer"`` makes everyone in
    the workspace a viewer, as before."""

    requesters: list[UserId] = []
    approvers: list[UserId] = []
    admins: list[UserId] = []
    viewers: list[UserId] = []
    viewer_groups: list[GroupId] = []
    requester_groups: list[GroupId] = []
    approver_groups: list[GroupId] = []
    admin_groups: list[GroupId] = []
    everyone_else: Literal["none", "viewer"] = "none"
    # The lowest role that may post money into a channel (`balance --share`, `digest now`) and
    # that may export records (`history --csv`, `audit`).
    share_min_role: RoleName = "requester"
    export_min_role: RoleName = "approver"
    # A user group whose members cannot be read keeps its last known members this long, then
    # counts as empty (fail closed) and the alerts channel is told once.
    max_staleness_minutes: Annotated[Int, Field(ge=0, le=1440)] = 10

    def roles_of(self, user_id: str, group_ids: Iterable[str] = ()) -> frozenset[str]:
        """Lookup only (policy lives in commands/): the roles a user holds, or ``{"none"}``."""
        groups = set(group_ids)
        found = {"viewer"} if self.everyone_else == "viewer" else set()
        for role, users, role_groups in (
            ("viewer", self.viewers, self.viewer_groups),
            ("requester", self.requesters, self.requester_groups),
            ("approver", self.approvers, self.approver_groups),
            ("admin", self.admins, self.admin_groups),
        ):
            if user_id in users or groups.intersection(role_groups):
                found.update((role, "viewer"))  # ordered: every role reads what viewers read
        return frozenset(found or {"none"})

    def all_groups(self) -> set[str]:
        return {*self.viewer_groups, *self.requester_groups, *self.approver_groups, *self.admin_groups}


ApproverId = Annotated[str, _check(r"[UWS][A-Z0-9]+", "U0123ABCD or S0123ABCD", "a Slack user or user-group id")]


class Tier(Model):
    """Amounts up to ``up_to`` need ``approvals`` distinct approvers; or, with ``layers``, one
    approval from each layer in order (``[["U0LEAD", "S0LEADS"], ["U0CFO"]]``: a team lead, then
    the CFO), each by a different person who also holds the approver role."""

    currency: Currency
    up_to: Positive
    approvals: Annotated[Int, Field(ge=1, le=5)]
    layers: Annotated[list[Annotated[list[ApproverId], Field(min_length=1)]], Field(max_length=5)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_per_layer(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("layers") and "approvals" not in data:
            return {**data, "approvals": len(data["layers"])}
        return data

    @model_validator(mode="after")
    def _digits(self) -> Tier:
        _fits(self.up_to, self.currency, ".up_to")
        if self.layers is not None and len(self.layers) != self.approvals:
            raise Problem(
                f"a tier with {len(self.layers)} layers needs one approval per layer: leave approvals out "
                f"or set it to {len(self.layers)}",
                ".approvals",
            )
        return self


DEFAULT_DAY_ZONE = "Asia/Shanghai"  # Whalet's zone


class Approvals(Model):
    """Approval policy. A currency with no tiers is refused outright: nothing moves that the
    policy does not name. Amounts above the highest tier and up to the ``ceiling`` need the
    highest tier's approvals; without a ceiling, the highest tier is the limit."""

    channel: ChannelId
    # How long a request waits for its approvals (up to 7 days); Whalet's quote may expire long
    # before: the bot then asks for a new one at release (see max_rate_drift_bps).
    ttl_minutes: Annotated[Int, Field(ge=1, le=10080)] = 1440
    # At release after the quote expired, a new quote is confirmed without new approvals only if
    # its rate, fee and amount received are each within this many basis points (1/100 %) of what
    # was approved; otherwise the card asks for the approvals again.
    max_rate_drift_bps: Annotated[Int, Field(ge=0, le=1000)] = 50
    # A request still waiting this many hours after it was made is raised to the admins (a
    # mention in its thread and a DM to each admin listed by id); unset: never.
    escalate_after_hours: Annotated[Int, Field(ge=1, le=168)] | None = None
    # Each day at this time (in day_zone) every approver gets one DM listing what waits for them;
    # unset: no daily summary.
    summary_time: Annotated[str, BeforeValidator(_hh_mm)] | None = None
    tiers: list[Tier] = []
    ceiling: CurrencyAmounts = {}
    daily_limit: CurrencyAmounts = {}
    # Per person: a requester's own daily limit (replaces ``daily_limit`` for the currencies it
    # names), and the largest request an approver may approve, per currency.
    requester_limits: dict[UserId, CurrencyAmounts] = {}
    approver_limits: dict[UserId, CurrencyAmounts] = {}
    flag_above: CurrencyAmounts = {}
    sweep_seconds: Annotated[Int, Field(ge=1, le=3600)] = 30
    # Confirm calls per request in all (the first included); a re-confirm only ever follows a
    # lookup that found the order still waiting for its confirmation.
    max_confirm_attempts: Annotated[Int, Field(ge=1, le=10)] = 3
    # Anti-splitting: when set, a request's tier is chosen by the sum of the same requester's
    # open and sent requests to the same beneficiary or payee in this many hours, plus this one.
    aggregate_window_hours: Annotated[Int, Field(ge=1, le=720)] | None = None
    # How approvers hear of a new request: "dm" (each person who may approve gets the card in a
    # DM, updated with the channel card), "mention" (the channel card tags the approver user
    # groups, or the approvers), "none" (the channel card only). A reminder DM follows at half
    # the request's lifetime while it still waits ("dm" only).
    notify: Literal["dm", "mention", "none"] = "dm"
    # How the requester hears that their request was approved and sent, paid, failed, rejected
    # or expired: "dm" (a DM linking to the card), "thread" (a reply in the card's thread that
    # mentions them), "none".
    tell_requester: Literal["dm", "thread", "none"] = "dm"
    # The zone whose calendar day the daily limit (and every "today") counts in: Whalet's own
    # zone by default, so the limit resets at midnight in Shanghai, not at 08:00 there (UTC).
    day_zone: Annotated[str, AfterValidator(_zone)] = DEFAULT_DAY_ZONE
    # A confirm whose answer never came may still be running at Whalet: nothing looks the order
    # up (let alone confirms again) until the HTTP timeout plus this many seconds have passed.
    confirm_settle_seconds: Annotated[Int, Field(ge=0, le=3600)] = 30

    @field_validator("tiers")
    @classmethod
    def _tiers_grow(cls, tiers: list[Tier]) -> list[Tier]:
        last: dict[str, Tier] = {}
        for index, tier in enumerate(tiers):
            previous = last.get(tier.currency)
            if previous and tier.up_to <= previous.up_to:
                raise Problem(
                    f"must be larger than the previous {tier.currency} tier's up_to ({previous.up_to})",
                    f"[{index}].up_to",
                )
            if previous and tier.approvals < previous.approvals:
                raise Problem(
                    f"a larger {tier.currency} tier cannot need fewer approvals than the previous one "
                    f"({previous.approvals})",
                    f"[{index}].approvals",
                )
            last[tier.currency] = tier
        return tiers

    @model_validator(mode="after")
    def _ceiling_has_tiers(self) -> Approvals:
        tiered = {tier.currency for tier in self.tiers}
        for currency in self.ceiling:
            if currency not in tiered:
                raise Problem(
                    f"{currency} has a ceiling but no tiers, so it would be refused anyway", f".ceiling.{currency}"
                )
        return self

    def daily_limit_of(self, requester: str, currency: str) -> Decimal | None:
        """The requester's daily limit in ``currency``: their own if ``requester_limits`` names
        one, else the team's ``daily_limit``; None when there is none."""
        own = self.requester_limits.get(requester, {}).get(currency)
        return own if own is not None else self.daily_limit.get(currency)

    def approver_limit_of(self, approver: str, currency: str) -> Decimal | None:
        """The largest ``currency`` amount this person may approve; None: no limit of their own."""
        return self.approver_limits.get(approver, {}).get(currency)

    def ceiling_for(self, currency: str) -> Decimal | None:
        """The largest amount the bot will handle in ``currency`` (the ceiling, else the highest
        tier); None when the currency is not configured at all."""
        tops = [tier.up_to for tier in self.tiers if tier.currency == currency]
        if not tops:
            return None
        ceiling = self.ceiling.get(currency)
        return ceiling if ceiling is not None else max(tops)

    def tier_for(self, currency: str, amount: Decimal) -> Tier | None:
        """The tier ``amount`` falls in; None means refused: above the ceiling, above the highest
        tier, a currency with no tiers, or an amount that is not positive."""
        limit = self.ceiling_for(currency)
        if limit is None or amount <= 0 or amount > limit:
            return None
        tiers = [tier for tier in self.tiers if tier.currency == currency]
        for tier in tiers:
            if amount <= tier.up_to:
                return tier
        return tiers[-1]  # between the highest tier and the ceiling

    def required_approvals(self, currency: str, amount: Decimal) -> int | None:
        """Distinct approvers needed for ``amount``; None means refused (see ``tier_for``)."""
        tier = self.tier_for(currency, amount)
        return tier.approvals if tier is not None else None


class Beneficiary(Model):
    id: NonEmpty
    nickname: Annotated[str, _check(r"[a-z0-9]+(-[a-z0-9]+)*", "acme-us", "a lowercase nickname")]
    name: NonEmpty
    country: str
    currency: Currency
    account_tail: Annotated[str, _check(r"[A-Za-z0-9]{4}", "6789", "exactly the last 4 characters of the account")]
    added_on: date | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value not in iso_countries():
            raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code in capitals (like US)")
        return value


class Route(Model):
    events: Annotated[list[Annotated[str, AfterValidator(_event)]], Field(min_length=1)]
    channel: ChannelId
    currencies: list[Currency] = []
    min_amount: Amount = Decimal(0)
    mention: Annotated[GroupId | None, BeforeValidator(lambda v: v or None)] = None


class Notifications(Model):
    default_channel: ChannelId | None = None
    alerts_channel: ChannelId | None = None
    fold_threshold: Annotated[Int, Field(ge=2)] = 5
    max_attempts: Annotated[Int, Field(ge=1, le=100)] = 8
    # Slack failing every call (5xx, timeouts, network) this long raises one alert; such failures
    # never count toward max_attempts, the messages just wait (at most 60 s between tries).
    outage_alert_minutes: Annotated[Int, Field(ge=1, le=1440)] = 5
    pace_per_second: Positive = Decimal(1)
    burst: Annotated[Int, Field(ge=1)] = 3
    reminder_hours: Annotated[Int, Field(ge=1)] = 24
    # Who may press a documents to-do's "I'll handle it": at least this role (guests and
    # unlisted viewers would otherwise own a compliance deadline).
    todo_min_role: RoleName = "requester"


class DigestSchedule(Model):
    channel: ChannelId
    time: Annotated[str, BeforeValidator(_hh_mm)]
    timezone: Annotated[str, AfterValidator(_zone)]

    @property
    def hour(self) -> int:
        return int(self.time[:2])

    @property
    def minute(self) -> int:
        return int(self.time[3:])


class Digest(Model):
    schedules: list[DigestSchedule] = []
    reconcile_after_hours: Annotated[Int, Field(ge=1)] = 6
    misfire_grace_seconds: Annotated[Int, Field(ge=1)] = 3600
    concurrency: Annotated[Int, Field(ge=1, le=32)] = 4
    # Each Whalet user's balances are totalled in this currency, at Whalet's own rates (queryRate).
    report_currency: Currency = "USD"

    @field_validator("schedules")
    @classmethod
    def _unique(cls, schedules: list[DigestSchedule]) -> list[DigestSchedule]:
        for index, item in enumerate(schedules):
            if item in schedules[:index]:
                raise Problem("the same schedule is listed twice", f"[{index}]")
        return schedules


class Batch(Model):
    """``/whalet payout batch``: how long a file may be, and how many of its lines are applied and
    confirmed at Whalet at once when it is released."""

    max_lines: Annotated[Int, Field(ge=1, le=5000)] = 500
    concurrency: Annotated[Int, Field(ge=1, le=32)] = 4


class Export(Model):
    """Files the bot hands people (history and audit CSVs, a batch's lines and results).

    ``bom``: the file starts with a UTF-8 byte-order mark. Excel on Windows opens a CSV without
    one in the ANSI code page, so a payer such as 上海某某进出口有限公司 turns into mojibake; with
    it, Excel reads UTF-8. Off only for tools that choke on the mark."""

    bom: bool = True


class Ui(Model):
    """Which language people and channels are spoken to in (``en`` or ``zh-Hans``).

    A person gets their Slack language (``users.info``; ``zh-CN`` is ``zh-Hans``), or
    ``default_locale`` when Slack does not say; a channel post (cards, notifications, digests) is
    read by many, so it follows ``channel_locale`` or the channel's own entry in ``channels``."""

    default_locale: Locale = "en"
    channel_locale: Locale = "en"
    channels: dict[ChannelId, Locale] = {}

    def for_channel(self, channel: str | None) -> Locale:
        return self.channels.get(channel or "", self.channel_locale)


class BotConfig(Model):
    # SHA-256 of the file's bytes as read by load_config (what `sha256sum whalet-bot.toml` prints),
    # for the audit log; None for a policy not read from a file.
    _source_sha256: str | None = PrivateAttr(default=None)

    whalet: WhaletSection = WhaletSection()
    roles: Roles = Roles()
    approvals: Approvals | None = None
    beneficiaries: list[Beneficiary] = []
    routes: list[Route] = []
    notifications: Notifications = Notifications()
    digest: Digest = Digest()
    batch: Batch = Batch()
    export: Export = Export()
    ui: Ui = Ui()

    @field_validator("beneficiaries")
    @classmethod
    def _unique(cls, items: list[Beneficiary]) -> list[Beneficiary]:
        for field in ("id", "nickname"):
            seen: set[str] = set()
            for index, item in enumerate(items):
                value = getattr(item, field)
                if value in seen:
                    raise Problem(f"{value!r} is used by another beneficiary", f"[{index}].{field}")
                seen.add(value)
        return items

    def required_approvals(self, currency: str, amount: Decimal) -> int | None:
        """None (refused) when there is no [approvals] section: payouts need a policy."""
        return self.approvals.required_approvals(currency, amount) if self.approvals else None

    def beneficiary(self, ref: str) -> Beneficiary | None:
        """By nickname (case-insensitive) or id."""
        for item in self.beneficiaries:
            if item.nickname == ref.lower() or item.id == ref:
                return item
        return None

    def all_channels(self) -> set[str]:
        """Every channel id the file mentions, for `whalet-bot check` to test access."""
        found = {route.channel for route in self.routes} | {s.channel for s in self.digest.schedules}
        found |= {c for c in (self.notifications.default_channel, self.notifications.alerts_channel) if c}
        if self.approvals:
            found.add(self.approvals.channel)
        return found


def load_config(path: str | Path) -> BotConfig:
    """Read and validate the policy file; any problem becomes one readable ConfigError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file. Copy whalet-bot.example.toml to {path} and edit it "
            "(or point WHALET_BOT_CONFIG at your file)."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_position(str(exc))}") from None
    try:
        config = BotConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from None
    config._source_sha256 = hashlib.sha256(raw).hexdigest()
    return config


def _toml_position(message: str) -> str:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if not match:
        return f"TOML syntax error: {message}"
    return f"line {match[1]}, column {match[2]}: TOML syntax error: {message[: match.start()]}"


def describe_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if part != "[key]"]
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, Problem):
            key += cause.at
        reason = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            reason = "required key is missing"
        elif item["type"] == "extra_forbidden":
            reason = _unknown_key(loc)
        lines.append(f"  {key.lstrip('.') or '(top level)'}: {reason}")
    return "\n".join(lines)


def _unknown_key(loc: list[Any]) -> str:
    """Name the keys that are allowed where the unknown one was written."""
    model: Any = BotConfig
    for part in loc[:-1]:
        if isinstance(part, str) and isinstance(model, type) and issubclass(model, BaseModel):
            model = model.model_fields[part].annotation if part in model.model_fields else None
            while get_origin(model) is not None:  # list[X], X | None, Annotated[X, ...]
                model = next((a for a in get_args(model) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return f"unknown key; allowed here: {', '.join(model.model_fields)}"
    return "unknown key"
