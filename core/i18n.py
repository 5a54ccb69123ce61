"""Two languages, one catalog: every sentence a person reads goes through ``translator(locale)``.

The catalogs are gettext ``.po`` files in ``core/locales/`` (``en`` and ``zh_Hans``), shipped as
package data and compiled in memory the first time a locale is asked for (Babel's ``read_po`` and
``write_mo``): a fresh ``pip install -e .`` needs no build step and there are no ``.mo`` files to
forget to rebuild. English is the source language: the msgids are the English text, so a missing
English entry still reads right; ``tests/i18n/test_catalogs.py`` checks that every message has
both translations with the same placeholders, and that the catalogs match the code.

Placeholders are named (``%(amount)s``) and filled by ``gettext(msgid, **values)``; plurals use
``ngettext(singular, plural, n, **values)`` with ``n`` always available as ``%(n)s``. Never
build a sentence by concatenating translated pieces: word order differs between the languages.
To add a string: see README "Translations".
"""

from __future__ import annotations

import gettext as _gettext
import io
from functools import lru_cache
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["LOCALES", "LOCALES_DIR", "N_", "Locale", "Translator", "catalog_path", "translator"]

Locale = Literal["en", "zh-Hans"]
LOCALES: tuple[Locale, ...] = ("en", "zh-Hans")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks text for the catalog where it is defined (a sub-command's summary, a role's name);
    it is translated where it is shown, with ``Translator.gettext``."""
    return message


def catalog_path(locale: str) -> Path:
    """``zh-Hans`` (BCP 47, as Slack and the config write it) lives in gettext's ``zh_Hans``."""
    return LOCALES_DIR / locale.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"


class Translator:
    """gettext and ngettext for one locale, with the named placeholders filled in."""

    def __init__(self, locale: str, catalog: _gettext.NullTranslations) -> None:
        self.locale = locale
        self._catalog = catalog

    def gettext(self, message: str, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self._catalog.ngettext(singular, plural, n) % {"n": n, **values}


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


def translator(locale: str | None) -> Translator:
    """The translator for ``locale``; anything but a known locale gets English."""
    known = locale if locale in LOCALES else "en"
    return Translator(known, _compiled(known))
