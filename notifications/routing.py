"""Which channel(s) a notification goes to, from the config file's ``[[routes]]``.

Pure: the relay calls ``route`` inside its transaction, and tests call it with hand-built
configs. A route names apiCodes or groups (``collections``, ``payouts``, ...); it may narrow by
currency and minimum amount, and may mention a user group. Every matching route gets the
message (once per channel); when none matches, the default channel does, so nothing Whalet
tells us is dropped silently.

Route events are written with the spec's apiCode names; when ``[whalet.api_codes]`` corrects an
apiCode, a route naming the spec's name still matches the corrected code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal
from typing import Any

from core.config import BotConfig, Route
from whalet.money import Money, MoneyError
from whalet.operations import NOTIFICATION_GROUPS, operation_for, resolve_api_codes


@dataclass(frozen=True, slots=True)
class Destination:
    channel: str
    mention: str | None = None  # a Slack user-group id (S…), rendered as <!subteam^S…>


@lru_cache(maxsize=32)
def _resolved(overrides: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return resolve_api_codes(dict(overrides))


def api_codes_of(config: BotConfig) -> dict[str, str]:
    """Operation name -> apiCode after the config file's corrections (cached: every webhook asks)."""
    return _resolved(tuple(sorted(config.whalet.api_codes.items())))


def operation_name(config: BotConfig, api_code: str) -> str | None:
    """The spec's name of a received apiCode (None when unknown)."""
    return operation_for(api_code, api_codes_of(config))


def _money(body: Mapping[str, Any]) -> Money | None:
    currency, amount = body.get("currency"), body.get("amount")
    if amount is None:
        return None
    try:
        return Money.parse(amount, currency if isinstance(currency, str) else None)
    except MoneyError:
        return None


def _currency(body: Mapping[str, Any]) -> str | None:
    value = body.get("currency")
    if isinstance(value, str) and value:
        return value.upper()
    money = _money(body)
    return money.currency if money else None


def matches(rule: Route, api_code: str, operation: str | None, body: Mapping[str, Any]) -> bool:
    """Does this one route take this notification? (events, then currency, then amount)"""
    wanted = set(rule.events)
    named = api_code in wanted or (operation is not None and operation in wanted)
    in_group = operation is not None and any(operation in NOTIFICATION_GROUPS.get(g, ()) for g in wanted)
    if not (named or in_group):
        return False
    if rule.currencies and _currency(body) not in rule.currencies:
        return False
    if rule.min_amount > Decimal(0):
        money = _money(body)
        if money is None or money.amount < rule.min_amount:
            return False
    return True


def explicit_routes(config: BotConfig, api_code: str, body: Any) -> list[Destination]:
    """The routes that match, one destination per channel (the first route's mention wins,
    a later route may add one when the first had none)."""
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    operation = operation_name(config, api_code)
    found: dict[str, Destination] = {}
    for rule in config.routes:
        if not matches(rule, api_code, operation, fields):
            continue
        current = found.get(rule.channel)
        if current is None or (current.mention is None and rule.mention):
            found[rule.channel] = Destination(rule.channel, rule.mention)
    return list(found.values())


def route(config: BotConfig, api_code: str, body: Any) -> list[Destination]:
    """Where to post: matching routes, else the default channel, else nowhere (logged by caller).
    Connectivity echoes (answers to our own checks) go only where a route names them."""
    found = explicit_routes(config, api_code, body)
    if found:
        return found
    if operation_name(config, api_code) in NOTIFICATION_GROUPS["connectivity"]:
        return []  # the echo of our own health checks: only where a route asks for it, never as noise
    default = config.notifications.default_channel
    return [Destination(default)] if default else []
