"""Field types and validators of the policy file, so ``core.config`` reads as the file's shape.

Each validator turns a bad value into a sentence naming what was expected; ``Problem`` carries
the sub-key (``[1].up_to``) so the error names the exact key. Amounts are Decimals from strings or
integers: a TOML float is binary floating point and refused.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from core.i18n import Later, later
from whalet.money import Money, MoneyError, to_decimal, validate_currency
from whalet.operations import NOTIFICATION_GROUPS

EVENT_GROUPS = tuple(NOTIFICATION_GROUPS)  # the names a route's ``events`` may use besides apiCodes


class ConfigError(ValueError):
    """The policy file cannot be used; the message names the file, each key and the reason."""


class Problem(ValueError):
    """A validator's complaint about a sub-key (``at`` such as ``[1].up_to``), for exact paths."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.at = at


def _check(pattern: str, example: str, what: str) -> Any:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what} (like {example})")
        return value

    return AfterValidator(check)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError(f'write amounts as strings, e.g. "{value:.2f}" (TOML floats are not exact)')
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise ValueError(f"{value!r} is not an amount")
    try:
        return to_decimal(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _currency(value: Any) -> str:
    try:
        return validate_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _fits(amount: Decimal, currency: str, at: str = "") -> None:
    if not Money(amount, currency).fits_currency():
        raise Problem(f"{amount} has more decimals than {currency} allows ({Money(amount, currency).digits})", at)


Int = Annotated[int, Strict()]
Amount = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_non_negative)]
Positive = Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0)]
Currency = Annotated[str, BeforeValidator(_currency)]
UserId = Annotated[str, _check(r"[UW][A-Z0-9]+", "U0123ABCD", "a Slack user id")]
GroupId = Annotated[str, _check(r"S[A-Z0-9]+", "S0123ABCD", "a Slack user-group id")]
ChannelId = Annotated[str, _check(r"[CGD][A-Z0-9]+", "C0123ABCD", "a Slack channel id")]
NonEmpty = Annotated[str, Field(min_length=1)]


def _amounts_by_currency(value: dict[str, Decimal]) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for key, amount in value.items():
        try:
            currency = validate_currency(key)
        except MoneyError as exc:
            raise Problem(str(exc), f".{key}") from None
        _fits(amount, currency, f".{key}")
        if amount <= 0:
            raise Problem("must be greater than 0", f".{key}")
        result[currency] = amount
    return result


CurrencyAmounts = Annotated[dict[str, Amount], AfterValidator(_amounts_by_currency)]


@lru_cache(maxsize=1)
def iso_countries() -> frozenset[str]:
    from babel import Locale

    names = Locale("en").territories
    codes = {str(k) for k in names if isinstance(k, str) and len(k) == 2 and k.isalpha()}
    return frozenset(codes - {"EU", "EZ", "QO", "UN", "ZZ"})  # regions, not countries


def _event(value: str) -> str:
    if value in EVENT_GROUPS or re.fullmatch(r"[a-z][A-Za-z0-9]*Notify", value):
        return value
    raise ValueError(f"{value!r} is neither a group ({', '.join(EVENT_GROUPS)}) nor an apiCode ending in Notify")


class FieldError(ValueError):
    """A setting's value refused with a sentence a person may also read in Slack (a digest
    scheduled with `/whalet digest schedule`): ``reason`` in any language, ``str()`` English."""

    def __init__(self, reason: Later) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _hh_mm(value: Any) -> str:
    if isinstance(value, time):  # an unquoted TOML local time, 09:00:00
        value = value.strftime("%H:%M")
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise FieldError(later('%(value)s is not a time of day as "HH:MM" (like "09:00")', value=repr(value)))
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(
            later('%(value)s is not an IANA time zone (like "Asia/Shanghai")', value=repr(value))
        ) from None
    return value
