"""Two languages, one catalog: every sentence a person reads goes through ``translator(locale)``.

The catalogs are gettext ``.po`` files in ``core/locales/`` (``en`` and ``zh_Hans``), shipped as
package data and compiled in memory the first time a locale is asked for (Babel's ``read_po`` and
``write_mo``): a fresh ``pip install -e .`` needs no build step and there are no ``.mo`` files to
forget to rebuild. English is the source language: the msgids are the English text, so a missing
English entry still reads right; ``tests/i18n/test_catalogs.py`` checks that every message has
both translations with the same placeholders, and that the catalogs match the code.

Numbers and dates are the reader's too: ``Translator.amount`` groups an amount by the locale's
CLDR rules (Babel) with the currency's own minor digits (ISO 4217, as Whalet counts them, never
CLDR's), ``Translator.date`` writes 2026-12-05 in English and 2026年12月5日 in Chinese, and
``Translator.moment`` writes a time in the person's Slack time zone where Slack cannot render a
date token itself (a modal's plain text, a CSV, a fallback).

A sentence made where the reader is not yet known (a parser's refusal, a policy's reason) is a
``Later``: the msgid and its values, translated where it is shown (``Translator.text``);
``str(later)`` is the English, for logs and callers that only speak English.

Placeholders are named (``%(amount)s``) and filled by ``gettext(msgid, **values)``; plurals use
``ngettext(singular, plural, n, **values)`` with ``n`` always available as ``%(n)s``. Never
build a sentence by concatenating translated pieces: word order differs between the languages.
To add a string: see README "Translations".
"""

from __future__ import annotations

import gettext as _gettext
import io
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from whalet.money import Money

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "LOCALES",
    "LOCALES_DIR",
    "N_",
    "Later",
    "Locale",
    "Translator",
    "catalog_path",
    "later",
    "translator",
]

Locale = Literal["en", "zh-Hans"]
LOCALES: tuple[Locale, ...] = ("en", "zh-Hans")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks text for the catalog where it is defined (a sub-command's summary, a role's name);
    it is translated where it is shown, with ``Translator.gettext``."""
    return message


class Later:
    """A catalog sentence kept untranslated until its reader is known: ``later(msgid, **values)``.

    Values may be ``Later`` themselves (a reason inside a refusal); each is translated into the
    same language as the sentence that holds it."""

    __slots__ = ("message", "values")

    def __init__(self, message: str, values: dict[str, object]) -> None:
        self.message = message
        self.values = values

    def __str__(self) -> str:
        return translator("en").text(self)

    def __repr__(self) -> str:
        return f"Later({self.message!r}, {self.values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Later) and (self.message, self.values) == (other.message, other.values)

    def __hash__(self) -> int:
        return hash(self.message)


def later(message: str, **values: object) -> Later:
    """Mark ``message`` for the catalog and keep it, with its values, for the reader's language."""
    return Later(message, values)


# How a date and a time read in each language (Babel/CLDR patterns). English keeps the ISO date
# finance people sort by; Chinese writes 2026年12月5日 as Whalet's own pages do.
_DATE_PATTERNS = {"en": "yyyy-MM-dd", "zh-Hans": "y年M月d日"}
_MOMENT_PATTERNS = {"en": "yyyy-MM-dd HH:mm", "zh-Hans": "y年M月d日 HH:mm"}


def zone(name: str | None, fallback: tzinfo) -> tzinfo:
    """An IANA zone by name (a person's Slack ``tz``); ``fallback`` when there is none or it is unknown."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def catalog_path(locale: str) -> Path:
    """``zh-Hans`` (BCP 47, as Slack and the config write it) lives in gettext's ``zh_Hans``."""
    return LOCALES_DIR / locale.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"


class Translator:
    """gettext and ngettext for one locale, with the named placeholders filled in, plus the
    locale's way of writing amounts, dates and times (``tz``: the reader's Slack zone, if known)."""

    def __init__(self, locale: str, catalog: _gettext.NullTranslations, tz: str | None = None) -> None:
        self.locale = locale
        self.tz = tz
        self._catalog = catalog
        self._babel = locale.replace("-", "_")

    def text(self, message: Later | str) -> str:
        """A ``Later`` in this language (its ``Later`` values too); plain text as it is."""
        if not isinstance(message, Later):
            return message
        return self.gettext(message.message, **message.values)

    def number(self, value: Decimal | int, digits: int = 0) -> str:
        """A number grouped the locale's way with exactly ``digits`` decimals."""
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return format_decimal(value, format=pattern, locale=self._babel, decimal_quantization=True)

    def amount(self, value: Money | None) -> str:
        """'1,200.50 USD' (the currency's minor digits, ISO's count); '—' for no amount."""
        if value is None:
            return "—"
        exact = value.quantized()
        return f"{self.number(exact.amount, exact.digits)} {exact.currency}"

    def date(self, day: date) -> str:
        return format_date(day, _DATE_PATTERNS.get(self.locale, "yyyy-MM-dd"), locale=self._babel)

    def moment(self, when: datetime, fallback_zone: tzinfo) -> str:
        """A time as the reader's clock shows it: in their Slack zone (``fallback_zone`` when
        Slack did not say), with the zone's abbreviation or offset so nobody guesses."""
        local = when.astimezone(zone(self.tz, fallback_zone))
        pattern = _MOMENT_PATTERNS.get(self.locale, "yyyy-MM-dd HH:mm")
        return f"{format_datetime(local, pattern, locale=self._babel)} {_offset(local)}"

    def gettext(self, message: str, **values: object) -> str:
        """The message in this language; a ``Later`` among ``values`` is translated with it and a
        ``Money`` written the locale's way (so a sentence made before its reader is known can
        carry the amount itself)."""
        text = self._catalog.gettext(message)
        return text % self._values(values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self._catalog.ngettext(singular, plural, n) % {"n": n, **self._values(values)}

    def _values(self, values: dict[str, object]) -> dict[str, object]:
        """A ``Later`` value in this language, a ``Money`` value written this locale's way."""
        return {key: self._value(value) for key, value in values.items()}

    def _value(self, value: object) -> object:
        if isinstance(value, Later):
            return self.text(value)
        if isinstance(value, Money):
            return self.amount(value)
        return value


@lru_cache(maxsize=None)
def _compiled(locale: str) -> _gettext.NullTranslations:
    path = catalog_path(locale)
    if not path.exists():
        return _gettext.NullTranslations()  # the msgids themselves (English)
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale.replace("-", "_"))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def _offset(local: datetime) -> str:
    """'UTC+8', 'UTC-3:30', 'UTC': a zone's offset the same way in both languages."""
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def translator(locale: str | None, tz: str | None = None) -> Translator:
    """The translator for ``locale``; anything but a known locale gets English."""
    known = locale if locale in LOCALES else "en"
    return Translator(known, _compiled(known), tz)
