"""Cells of the CSV files the bot hands people (history exports, batch lines and results).

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a formula, so
such text is written with a leading apostrophe; free text (names, remarks) has its account
numbers masked as on screen, ids stay whole. Amounts are exact decimal strings with the
currency's minor digits, never floats. Every file is encoded by ``encode``, so one setting
(``[export] bom``) decides whether Excel sees the UTF-8 byte-order mark it needs for Chinese names.
"""

from __future__ import annotations

from typing import Any

from whalet.masking import mask_digit_runs
from whalet.money import Money

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any, *, free_text: bool = False) -> str:
    """A text cell; ``free_text`` (names, remarks) has its account numbers masked, ids stay whole."""
    text = "" if value is None else str(value)
    text = mask_digit_runs(text) if free_text else text
    return "'" + text if text.startswith(FORMULA_START) else text


def amount(money: Money | None) -> str:
    """1200.50 (USD), 3500000 (JPY): the currency's digits, no grouping, no symbol (an amount with
    more digits than its currency allows, as Whalet may report one, is written as reported)."""
    if money is None:
        return ""
    return str(money.quantized().amount if money.fits_currency() else money.amount)


def encode(text: str, *, bom: bool) -> bytes:
    """The file's bytes: UTF-8, with a byte-order mark first when ``bom`` (``[export] bom``)."""
    return (("\ufeff" if bom else "") + text).encode("utf-8")
