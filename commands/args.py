"""Parsing of the words people type after `/whalet`: amounts, currencies, countries, --options.

Every function raises ``UsageError`` with a sentence that names the offending word, so the
dispatcher can answer before anything reaches Whalet. Amounts become ``Money`` (Decimal) and are
checked against the currency's minor digits here, not by Whalet's PARAMETER_ERROR.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal

from core.config import iso_countries
from core.i18n import Later, later
from services.slack.subcommands import UsageError
from whalet.models import FundSource
from whalet.money import Money, MoneyError, minor_digits, to_decimal, validate_currency

# ASCII digits only (re.ASCII): Python's \d also matches ١٢٠٠ and １２００, which a finance
# person did not mean to type and a reviewer cannot read back on the card.
_AMOUNT = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d+)?|\.\d+", re.ASCII)
# 15 integer digits (under a quadrillion) is far above any payout and keeps every sum, quantize
# and format comfortably inside Decimal's default 28-digit precision.
MAX_INTEGER_DIGITS = 15


def currency(word: str) -> str:
    try:
        return validate_currency(word)
    except MoneyError as exc:
        raise UsageError(_currency_refusal(word, str(exc))) from None


def _currency_refusal(word: str, english: str) -> Later | str:
    """``validate_currency``'s reason (whalet/ speaks English only) as the catalog's sentence."""
    for sentence in (
        later("'%(word)s' is not a currency code (expected three letters such as USD)", word=word),
        later("'%(code)s' is not an ISO 4217 currency in use", code=str(word).strip().upper()),
    ):
        if str(sentence) == english:
            return sentence
    return english


def country(word: str) -> str:
    code = word.strip().upper()
    if len(code) != 2 or code not in iso_countries():
        raise UsageError("'%(word)s' is not a country code (two letters, ISO 3166, such as US or HK)", word=shown(word))
    return code


def amount(word: str, cur: str) -> Money:
    """'1200.50' or '1,200.50' in ``cur``: positive, at most 15 integer digits, and no more
    decimals than ``cur`` has. The one amount parser of the slash commands and the forms; it
    raises nothing but ``UsageError``, whatever the text (an exception here would come before
    the ack and reach Slack as an error page)."""
    text = word.strip()
    if not _AMOUNT.fullmatch(text):
        raise UsageError(
            "'%(word)s' is not an amount (write it like 1200.50 with the digits 0-9, without the currency sign)",
            word=shown(word),
        )
    plain = text.replace(",", "")
    whole, _, decimals = plain.partition(".")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise UsageError(
            "'%(word)s' is too large: an amount has at most %(digits)s digits before the decimal point",
            word=shown(word),
            digits=MAX_INTEGER_DIGITS,
        )
    digits = minor_digits(cur)
    if len(decimals.rstrip("0")) > digits:
        if digits == 0:
            raise UsageError(
                "%(currency)s amounts have no decimals, but '%(word)s' has more", currency=cur, word=shown(word)
            )
        if digits == 1:
            raise UsageError(
                "%(currency)s amounts have at most %(digits)s decimal, but '%(word)s' has more",
                currency=cur,
                digits=digits,
                word=shown(word),
            )
        raise UsageError(
            "%(currency)s amounts have at most %(digits)s decimals, but '%(word)s' has more",
            currency=cur,
            digits=digits,
            word=shown(word),
        )
    value: Decimal = to_decimal(plain)
    if value <= 0:
        raise UsageError("the amount must be above zero, got '%(word)s'", word=shown(word))
    return Money(value, cur).quantized()


def shown(word: str, limit: int = 40) -> str:
    """A typed word quoted back in an answer: cut, so a 3 000-character word stays one line."""
    return word if len(word) <= limit else word[: limit - 1] + "…"


def fund_source(word: str) -> FundSource:
    for source in FundSource:
        if source.value.lower() == word.lower():
            return source
    raise UsageError(
        "'%(word)s' is not a fund source; use one of %(sources)s",
        word=shown(word),
        sources=", ".join(s.value for s in FundSource),
    )


def positive_int(word: str, what: str, maximum: int) -> int:
    # ASCII only: str.isdigit() is also true of '²' and '١', and int('²') raises ValueError.
    if not (word.isascii() and word.isdigit() and len(word) <= 9) or not 1 <= int(word) <= maximum:
        raise UsageError(
            "%(what)s must be a whole number from 1 to %(maximum)s, got '%(word)s'",
            what=what,
            maximum=maximum,
            word=shown(word),
        )
    return int(word)


@dataclass
class Options:
    """``--name value`` pairs and ``--flag`` switches split from the positional words."""

    positional: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def split_options(
    args: list[str], *, valued: AbstractSet[str] = frozenset(), switches: AbstractSet[str] = frozenset()
) -> Options:
    """Separate options from positional words; unknown or valueless options are usage errors."""
    out = Options()
    i = 0
    while i < len(args):
        word = args[i]
        if word.startswith("--") and len(word) > 2:
            name, eq, inline = word[2:].partition("=")
            name = name.lower()
            if name in switches and not eq:
                out.flags.add(name)
            elif name in valued:
                if eq:
                    out.values[name] = inline
                elif i + 1 < len(args):
                    i += 1
                    out.values[name] = args[i]
                else:
                    raise UsageError("--%(name)s needs a value", name=name)
            else:
                known = sorted({f"--{n}" for n in valued | switches})
                if not known:
                    raise UsageError("unknown option '%(word)s'", word=shown(word))
                raise UsageError(
                    "unknown option '%(word)s' (this command knows %(known)s)", word=shown(word), known=", ".join(known)
                )
        else:
            out.positional.append(word)
        i += 1
    return out
