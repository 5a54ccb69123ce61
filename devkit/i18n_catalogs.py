"""Bring the message catalogs up to date with the code: ``python -m devkit.i18n_catalogs``.

Extracts every ``gettext`` / ``ngettext`` / ``N_`` text from the product packages (``babel.cfg``
says which files), writes ``core/locales/messages.pot``, and merges it into each locale's ``.po``:
new messages appear (English filled with the msgid, Chinese left empty for a translator),
messages no longer in the code are dropped. ``--check`` changes nothing and exits 1 when the
catalogs are not what the code says (``tests/i18n/test_catalogs.py`` runs the same check).
This is Babel's ``pybabel extract`` + ``update`` in one step, so nobody forgets half of it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from core.i18n import LOCALES, LOCALES_DIR, catalog_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "commands", "core", "notifications", "services")
# later(): a sentence translated where it is shown; UsageError(): a refusal made before the
# reader is known (both take the msgid first).
KEYWORDS = {
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "_": None,
    "later": None,
    "UsageError": None,
    "FileRefused": None,
}


def extract(skipped: list[str] | None = None) -> Catalog:
    """The template: every message the product code marks, in file order. A marked call whose
    text is an f-string cannot be a msgid (Babel skips it with a warning on stderr): each such
    place is added to ``skipped`` as ``file:line``, so ``--check`` can refuse it."""
    template = Catalog(project="whalet-bot", fuzzy=False)
    warnings = io.StringIO()
    with contextlib.redirect_stderr(warnings):
        _extract_into(template)
    for line in warnings.getvalue().splitlines():
        if "Skipping f-string" in line and skipped is not None:
            skipped.append(str(Path(line.split(": warning")[0]).relative_to(ROOT)))
        elif line.strip():
            print(line, file=sys.stderr)
    return template


def _extract_into(template: Catalog) -> None:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    for package in PACKAGES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / package,
            method_map=method_map,
            options_map=options_map,
            keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",),
        ):
            template.add(message, None, [(f"{package}/{filename}", lineno)], auto_comments=comments, context=context)


def _text(catalog: Catalog) -> str:
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=True, sort_output=True, ignore_obsolete=True, width=0, include_lineno=False)
    return buffer.getvalue().decode("utf-8")


def merged(template: Catalog, locale: str) -> Catalog:
    template = copy.deepcopy(template)  # Catalog.update shares the template's messages
    path = catalog_path(locale)
    if path.exists():
        with path.open("rb") as source:
            catalog = read_po(source, locale=locale.replace("-", "_"))
    else:
        catalog = Catalog(locale=locale.replace("-", "_"), project="whalet-bot")
    catalog.update(template, no_fuzzy_matching=True)
    if locale == "en":  # the source language: the msgid is the English text
        for message in catalog:
            empty = not any(message.string) if isinstance(message.string, tuple) else not message.string
            if message.id and empty:
                message.string = message.id
    return catalog


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    skipped: list[str] = []
    template = extract(skipped)
    for place in skipped:
        print(f"{place}: an f-string where a catalog message belongs; write %(name)s placeholders")
    wanted = {LOCALES_DIR / "messages.pot": _text(template)}
    wanted |= {catalog_path(locale): _text(merged(template, locale)) for locale in LOCALES}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text("utf-8") != text]
    if check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is not up to date: run python -m devkit.i18n_catalogs")
        return 1 if stale or skipped else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], "utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
