"""Reading request bodies strictly and writing answers the way Whalet does.

A real gateway refuses a missing field, a wrong type or an amount with too many decimals with
``PARAMETER_ERROR`` and a detail naming the field; the sandbox does the same so the client's
validation bugs show up in tests, not in production.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from whalet.money import Money, MoneyError, minor_digits, validate_currency

from .clock import parse_wire_time

FUND_SOURCES = ("B2C", "B2B", "Acquiring")


class GatewayError(Exception):
    """An answer other than SUCCESS: ``code`` and ``detail`` go into the response head."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def parameter_error(detail: str) -> GatewayError:
    return GatewayError("PARAMETER_ERROR", detail)


def failure(detail: str) -> GatewayError:
    return GatewayError("FAILURE", detail)


def money_obj(amount: Decimal, currency: str) -> dict[str, Any]:
    """Whalet's money object: ``cent`` is exact, ``centFactor`` = 10^minor digits (spec §3)."""
    digits = minor_digits(currency)
    exact = Money(amount, currency).quantized().amount
    return {"amount": exact, "cent": int(exact.scaleb(digits)), "centFactor": 10**digits, "currency": currency}


class Body:
    """Typed, strict access to a decrypted request body."""

    def __init__(self, data: Any, supported_currencies: frozenset[str]) -> None:
        if not isinstance(data, dict):
            raise parameter_error("the body must be a JSON object")
        self.data = data
        self._supported = supported_currencies

    def text(self, name: str, *, required: bool = True, max_len: int = 64, pattern: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise parameter_error(f"{name} is required")
            return None
        if not isinstance(value, str):
            raise parameter_error(f"{name} must be a string")
        if len(value) > max_len:
            raise parameter_error(f"{name} is longer than {max_len} characters")
        if pattern and not re.fullmatch(pattern, value):
            raise parameter_error(f"{name} does not match {pattern}")  # never the value: it may be a secret
        return value

    def req(self, name: str, max_len: int = 64) -> str:
        value = self.text(name, max_len=max_len)
        assert value is not None
        return value

    def choice(self, name: str, options: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self.text(name, required=required)
        if value is not None and value not in options:
            raise parameter_error(f"{name} must be one of {', '.join(options)}, got '{value}'")
        return value

    def fund_source(self, *, required: bool = True, default: str | None = None) -> str:
        value = self.choice("fundSource", FUND_SOURCES, required=required)
        result = value or default
        assert result is not None
        return result

    def currency(self, name: str, *, required: bool = True) -> str | None:
        value = self.text(name, required=required, max_len=3)
        if value is None:
            return None
        try:
            code = validate_currency(value)
        except MoneyError as exc:
            raise parameter_error(f"{name}: {exc}") from None
        if code != value:
            raise parameter_error(f"{name} must be an upper-case ISO 4217 code, got '{value}'")
        if code not in self._supported:
            raise parameter_error(f"{name} {code} is not supported (supported: {', '.join(sorted(self._supported))})")
        return code

    def amount(self, name: str, currency: str) -> Decimal:
        value = self.data.get(name)
        if value is None:
            raise parameter_error(f"{name} is required")
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise parameter_error(f"{name} must be a JSON number")
        amount = Decimal(value)
        if not amount.is_finite() or amount <= 0:
            raise parameter_error(f"{name} must be greater than zero")
        if not Money(amount, currency).fits_currency():
            raise parameter_error(
                f"{name} {amount} has more decimals than {currency} allows ({minor_digits(currency)})"
            )
        return Money(amount, currency).quantized().amount

    def time(self, name: str, *, required: bool = True) -> datetime | None:
        value = self.text(name, required=required, max_len=19)
        if value is None:
            return None
        try:
            return parse_wire_time(value)
        except ValueError:
            raise parameter_error(f"{name} must look like 2025-01-31 23:59:59, got '{value}'") from None

    def page(self, name: str, default: int, low: int, high: int) -> int:
        value = self.data.get(name, default)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise parameter_error(f"{name} must be an integer from {low} to {high}, got {value!r}")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise parameter_error(f"{name} must be an object")
        return value
