"""The digest chart's drawing program, run as a short-lived child process, never imported by the bot.

matplotlib raised the bot's resident memory by about 40 MiB for good and held the GIL for about
0.4 s per chart, so commands arriving meanwhile waited for their ack. Drawn here, in a process of
its own (``notifications/digest_chart_process.py`` starts it), the memory is returned when it
exits and the bot's event loop never waits. It reads the chart's data as JSON on stdin and writes
the PNG to stdout:

    {"title": "...", "series": {"USD": [["2026-05-01T01:00:00+00:00", "125000.50"], ...], ...},
     "words": {"available": "%(currency)s 可用", "empty": "…"}, "english": {"title": "…", …}}

The words come in the channel's language with an English copy: matplotlib draws with the host's
fonts, so Chinese words are drawn only when the host has a CJK font (``CJK_FONTS``), otherwise
the English copy is (never a row of empty boxes).

Amounts arrive as decimal strings, exact; they become floats here only as pixel positions. This
file imports nothing of the project (it is run by path, so starting it costs Python and
matplotlib, not the bot's packages): one small panel per currency (USD and JPY cannot share an
axis), a point per digest run, drawn on matplotlib's Agg canvas directly (no pyplot, no global
backend state).
"""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

COLUMNS = 3
Series = dict[str, list[tuple[datetime, Decimal]]]  # currency -> (when, total available), oldest first
ENGLISH = {"available": "%(currency)s available", "empty": "no digest balances yet"}
# Fonts that draw Simplified Chinese, by the names fontconfig and matplotlib give them, in the
# order they are preferred (Linux packages first, then macOS and Windows).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "AR PL UMing CN",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "SimHei",
)


@dataclass(frozen=True)
class Words:
    """What the picture says, and the font family that can draw it."""

    title: str
    available: str  # with %(currency)s
    empty: str
    family: tuple[str, ...] = ("DejaVu Sans",)


class BadRequest(ValueError):
    """The parent sent something this program does not draw (a float amount, a missing field)."""


def read_request(raw: bytes, fonts: Iterable[str] | None = None) -> tuple[Series, Words]:
    """The JSON on stdin -> (series, words); amounts must be decimal strings, never JSON numbers.
    ``fonts``: the host's font names (default: matplotlib's list), to choose the words' language."""
    try:
        request = json.loads(raw)
        title, wire = request["title"], request["series"]
        words, english = request.get("words") or {}, request.get("english") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"not a chart request: {exc}") from None
    if not isinstance(title, str) or not isinstance(wire, dict) or not isinstance(words, dict):
        raise BadRequest("not a chart request: title must be text and series an object")
    data: Series = {}
    for currency, points in wire.items():
        parsed: list[tuple[datetime, Decimal]] = []
        for when, amount in points:
            if not isinstance(amount, str):  # a float would already have lost cents on the way
                raise BadRequest(f"{currency}: amounts must be decimal strings, got {type(amount).__name__}")
            parsed.append((datetime.fromisoformat(when), Decimal(amount)))
        data[str(currency)] = parsed
    return data, choose_words(title, words, english, fonts)


def choose_words(
    title: str, words: dict[str, Any], english: dict[str, Any], fonts: Iterable[str] | None = None
) -> Words:
    """The channel's words when the host can draw them, else the English copy."""
    wanted = Words(title, str(words.get("available", ENGLISH["available"])), str(words.get("empty", ENGLISH["empty"])))
    if all(text.isascii() for text in (wanted.title, wanted.available, wanted.empty)):
        return wanted
    installed = set(fonts if fonts is not None else _installed_fonts())
    cjk = next((name for name in CJK_FONTS if name in installed), None)
    if cjk is not None:
        return Words(wanted.title, wanted.available, wanted.empty, (cjk, "DejaVu Sans"))
    return Words(
        str(english.get("title", title if title.isascii() else "")),
        str(english.get("available", ENGLISH["available"])),
        str(english.get("empty", ENGLISH["empty"])),
    )


def _installed_fonts() -> set[str]:
    from matplotlib import font_manager

    return {entry.name for entry in font_manager.fontManager.ttflist}


def _thousands(value: float, _position: object) -> str:
    return f"{value:,.0f}"


def draw(data: Series, words: Words) -> bytes:
    """The PNG; a panel per currency, or a single note when there is nothing to draw yet."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    currencies = list(data) or ["—"]
    columns = min(COLUMNS, len(currencies))
    rows = math.ceil(len(currencies) / columns)
    height = 2.6 * rows + 0.6
    figure = Figure(figsize=(4.2 * columns, height), dpi=100)
    FigureCanvasAgg(figure)
    # fixed margins in inches (a constrained layout costs a third more time than the drawing)
    figure.subplots_adjust(
        left=0.85 / (4.2 * columns), right=0.98, top=1 - 0.6 / height, bottom=0.4 / height, hspace=0.5, wspace=0.3
    )
    family = list(words.family)
    figure.suptitle(words.title, fontsize=12, family=family)
    for index, currency in enumerate(currencies):
        axes = figure.add_subplot(rows, columns, index + 1)
        points = data.get(currency, [])
        if not points:
            axes.text(0.5, 0.5, words.empty, ha="center", va="center", transform=axes.transAxes, family=family)
            axes.set_axis_off()
            continue
        axes.plot(
            date2num([when for when, _ in points]),
            [float(total) for _, total in points],  # pixels only
            marker="o",
            markersize=3,
            linewidth=1.5,
        )
        axes.xaxis_date()
        if len(points) == 1:  # one digest so far: a day either side, so the axis has a range
            axes.set_xlim(date2num(points[0][0] - timedelta(days=1)), date2num(points[0][0] + timedelta(days=1)))
        axes.set_title(words.available % {"currency": currency}, fontsize=10, family=family)
        locator = AutoDateLocator(maxticks=5)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, show_offset=False))
        axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def main(stdin: Any = None, stdout: Any = None) -> int:
    """Exit 0 with the PNG on stdout; 2 with one line on stderr for a request it cannot draw."""
    raw = (stdin or sys.stdin.buffer).read()
    try:
        data, words = read_request(raw)
    except BadRequest as exc:
        print(f"digest chart: {exc}", file=sys.stderr)
        return 2
    (stdout or sys.stdout.buffer).write(draw(data, words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
