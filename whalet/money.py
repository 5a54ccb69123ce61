"""Money as exact decimals, never floats.

Whalet sends amounts three ways (a money object with ``cent``/``centFactor``, a JSON number, a
numeric string: see the protocol spec §3), and refuses request amounts with more decimals than
the currency has. Everything that touches an amount goes through this module so those rules
live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

# ISO 4217 minor units that are not 2. Babel/CLDR disagrees with ISO for a few codes (IQD,
# LAK, ...), and Whalet follows ISO (centFactor = 10^minor digits), so the table is ours.
_ZERO_DIGITS = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
_THREE_DIGITS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_FOUR_DIGITS = frozenset("CLF UYW".split())


# Codes outside ISO 4217 that Whalet's market uses: CNH is offshore renminbi (2 minor digits).
EXTRA_CURRENCIES = frozenset({"CNH"})


# Digits before the decimal point that any amount may have (Whalet's or typed). Typed amounts
# are held to fewer (commands/args.py); this bound is what keeps Decimal arithmetic exact.
MAX_INTEGER_DIGITS = 20


class MoneyError(ValueError):
    """An amount or currency that cannot be money: the message says why, in plain words."""


@lru_cache(maxsize=1)
def _active_currencies() -> frozenset[str]:
    """Currencies that are legal tender somewhere today, as CLDR (shipped with babel) knows."""
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    territories = get_global("territory_currencies").keys()
    codes: set[str] = set()
    for territory in territories:
        codes.update(get_territory_currencies(territory, tender=True))
    return frozenset(codes | EXTRA_CURRENCIES)


def is_currency(code: str) -> bool:
    return isinstance(code, str) and len(code) == 3 and code.upper() == code and code in _active_currencies()


def validate_currency(code: str) -> str:
    """Normalise and check an ISO 4217 code; raises MoneyError with a readable reason."""
    if not isinstance(code, str):
        raise MoneyError(f"currency must be a three-letter code, got {code!r}")
    normalised = code.strip().upper()
    if len(normalised) != 3 or not (code.isascii() and normalised.isalpha()):  # 'uſd'.upper() == 'USD'
        raise MoneyError(f"'{code}' is not a currency code (expected three letters such as USD)")
    if not is_currency(normalised):
        raise MoneyError(f"'{normalised}' is not an ISO 4217 currency in use")
    return normalised


def minor_digits(currency: str) -> int:
    if currency in _ZERO_DIGITS:
        return 0
    if currency in _THREE_DIGITS:
        return 3
    if currency in _FOUR_DIGITS:
        return 4
    return 2


def to_decimal(value: Any) -> Decimal:
    """A JSON number (already a Decimal/int when parsed with parse_float=Decimal) or a numeric string."""
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} is not an amount")
    if isinstance(value, float):
        # Only reachable when a caller parsed JSON without parse_float=Decimal; repr() is the
        # shortest string that round-trips, which is what the sender wrote.
        value = repr(value)
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise MoneyError(f"'{value}' is not a number") from None
    if not result.is_finite():
        raise MoneyError(f"'{value}' is not a finite amount")
    if result and result.adjusted() >= MAX_INTEGER_DIGITS:
        # Beyond this, quantize() and sums leave Decimal's 28-digit precision and raise
        # InvalidOperation far from here; no real amount comes close.
        raise MoneyError(f"'{str(value)[:40]}' is too large to be an amount")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Any, currency: str) -> Money:
        return cls(to_decimal(amount), validate_currency(currency))

    @classmethod
    def parse(cls, value: Any, currency: str | None = None) -> Money:
        """Parse Whalet's money object, a JSON number or a numeric string.

        ``currency`` is required for bare numbers; for money objects it is the fallback when the
        object itself names none.
        """
        if isinstance(value, Money):
            return value
        if isinstance(value, dict):
            code = value.get("currency") or currency
            if not code:
                raise MoneyError("money object without a currency")
            code = validate_currency(code)
            if value.get("cent") is not None and value.get("centFactor") is not None:
                cent = to_decimal(value["cent"])
                factor = to_decimal(value["centFactor"])
                if cent != cent.to_integral_value() or factor <= 0:
                    raise MoneyError(f"bad cent/centFactor in {value!r}")
                return cls(cent / factor, code)
            if value.get("amount") is None:
                raise MoneyError(f"money object without an amount: {value!r}")
            return cls(to_decimal(value["amount"]), code)
        if currency is None:
            raise MoneyError(f"cannot tell the currency of {value!r}")
        return cls(to_decimal(value), validate_currency(currency))

    @property
    def digits(self) -> int:
        return minor_digits(self.currency)

    def fits_currency(self) -> bool:
        """True when the amount has no more decimals than the currency allows."""
        return self.amount == self.quantized().amount

    def quantized(self) -> Money:
        exponent = Decimal(1).scaleb(-self.digits)
        return Money(self.amount.quantize(exponent, rounding=ROUND_HALF_EVEN), self.currency)

    def wire_amount(self) -> Decimal:
        """The request amount with exactly the currency's minor digits; refuses extra decimals."""
        if not self.fits_currency():
            raise MoneyError(f"{self.amount} has more decimals than {self.currency} allows ({self.digits})")
        return self.quantized().amount

    @property
    def minor_units(self) -> int:
        return int(self.wire_amount().scaleb(self.digits))

    def format(self) -> str:
        """'1,200.50 USD', '1,200 JPY', '1.250 KWD': grouping plus the currency's own digits."""
        return f"{self.quantized().amount:,.{self.digits}f} {self.currency}"

    def __str__(self) -> str:
        return self.format()

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {getattr(other, 'currency', other)}")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Money:
            try:
                return cls.parse(value)
            except MoneyError as exc:
                raise ValueError(str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda m: {"amount": str(m.amount), "currency": m.currency}
            ),
        )


def format_amount(amount: Decimal, currency: str) -> str:
    return Money(amount, currency).format()
