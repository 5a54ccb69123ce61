"""The catalogs: up to date with the code, complete in both languages, same placeholders, Whalet's terms."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from core.i18n import LOCALES, LOCALES_DIR, catalog_path, translator
from devkit import i18n_catalogs

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def load(locale: str) -> Catalog:
    with catalog_path(locale).open("rb") as source:
        return read_po(source, locale=locale.replace("-", "_"))


def pairs(catalog: Catalog) -> Iterator[tuple[str, str, str]]:
    """(English msgid of this form, translation, msgid as listed) for every form of every message."""
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            singular, plural = message.id
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            for index, text in enumerate(forms):
                yield (singular if index == 0 and len(forms) > 1 else plural), text or "", singular
        else:
            yield message.id, message.string or "", message.id


def placeholder_problems(catalog: Catalog) -> list[str]:
    problems = []
    for english, text, msgid in pairs(catalog):
        if not text.strip():
            problems.append(f"not translated: {msgid!r}")
            continue
        wanted, got = set(PLACEHOLDER.findall(english)), set(PLACEHOLDER.findall(text))
        if isinstance(msgid, str) and english != msgid:  # a plural form may leave %(n)s out
            wanted.discard("n"), got.discard("n")
        if wanted != got:
            problems.append(f"{msgid!r}: placeholders {sorted(got)} instead of {sorted(wanted)}")
    return problems


def test_the_catalogs_are_what_the_code_marks() -> None:
    """A new _("...") in the code without `python -m devkit.i18n_catalogs` fails here."""
    assert i18n_catalogs.main(["--check"]) == 0


def test_a_marked_f_string_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An f-string inside gettext()/UsageError()/later() cannot be a msgid (it would stay English
    for everyone): extraction names its place and ``--check`` fails."""
    package = tmp_path / "commands"
    package.mkdir()
    (tmp_path / "babel.cfg").write_text("[python: **.py]\n", encoding="utf-8")
    (package / "x.py").write_text('def f(n):\n    raise UsageError(f"bad {n}")\n', encoding="utf-8")
    monkeypatch.setattr(i18n_catalogs, "ROOT", tmp_path)
    monkeypatch.setattr(i18n_catalogs, "PACKAGES", ("commands",))
    skipped: list[str] = []
    i18n_catalogs.extract(skipped)
    assert skipped == ["commands/x.py:2"]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    catalog = load(locale)
    assert len([m for m in catalog if m.id]) > 40
    assert placeholder_problems(catalog) == []


def test_a_missing_or_extra_placeholder_or_an_empty_translation_is_caught() -> None:
    catalog = Catalog(locale="zh_Hans")
    catalog.add("Balances of %(user)s (%(source)s)", "%(user)s 的余额")
    catalog.add("valid until %(time)s", "有效期至 %(time)s %(extra)s")
    catalog.add("this list", "")
    catalog.add(("%(n)s line", "%(n)s lines"), ("%(count)s 行",))
    problems = placeholder_problems(catalog)
    assert len(problems) == 4, problems


def glossary() -> list[tuple[list[str], str]]:
    with (LOCALES_DIR / "glossary.csv").open(encoding="utf-8") as source:
        return [(row["english"].split("|"), row["chinese"]) for row in csv.DictReader(source)]


def test_the_glossary_lists_each_term_once() -> None:
    terms = glossary()
    english = [word.lower() for words, _ in terms for word in words]
    assert len(english) == len(set(english)) and len({zh for _, zh in terms}) == len(terms)
    assert {
        "余额",
        "可用",
        "冻结",
        "未上账金额",
        "订单总额度",
        "提现",
        "支付",
        "收款",
        "受益人",
        "汇率",
        "补充资料",
    } <= {zh for _, zh in terms}


def test_the_chinese_catalog_uses_whalets_terms() -> None:
    problems = []
    for english, text, msgid in pairs(load("zh-Hans")):
        english = re.sub(r"\b(p)ay out\b", r"\1ayout", english, flags=re.IGNORECASE)  # the verb of a payout
        english = re.sub(r"`[^`]*`", "", english)  # `rate USD HKD` is a command as typed, not a word
        for words, chinese in glossary():
            if any(re.search(rf"(?<![/\w]){re.escape(word)}\b(?!-)", english, re.IGNORECASE) for word in words):
                if chinese not in text:
                    problems.append(f"{msgid!r} has {words[0]!r} but its translation lacks {chinese}")
    assert problems == []


def test_translators_compile_from_the_po_and_fall_back_to_english() -> None:
    zh = translator("zh-Hans")
    assert zh.gettext("Balances of %(user)s (%(source)s)", user="U1", source="B2C") == "U1 的余额（B2C）"
    assert translator("en").gettext("Balances of %(user)s (%(source)s)", user="U1", source="B2C") == (
        "Balances of U1 (B2C)"
    )
    assert translator("fr").locale == "en" and translator(None).gettext("expired") == "expired"
    many = "…and %(n)s more currencies not shown; ask for one with `/whalet balance CUR`."
    one = "…and %(n)s more currency not shown; ask for one with `/whalet balance CUR`."
    assert translator("en").ngettext(one, many, 1).startswith("…and 1 more currency not")
    assert translator("en").ngettext(one, many, 3).startswith("…and 3 more currencies")
    assert translator("zh-Hans").ngettext(one, many, 3).startswith("…另有 3 种币种")
