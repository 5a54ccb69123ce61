"""The digest chart: the last 30 days of available balances per currency, as a PNG.

Drawn from the balance snapshots every digest stores (``balance_snapshots``), so the chart shows
what the channel's digests showed, not a second source of truth. One small panel per currency
(USD and JPY cannot share an axis), a point per digest run: the sum over Whalet users and fund
sources of the available balance, summed exactly (Decimal) and turned into floats only as pixel
positions. Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend state), so
it runs in a worker thread while the event loop goes on.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal


from core.clock import parse_iso

CHART_DAYS = 30
COLUMNS = 3
Series = dict[str, list[tuple[datetime, Decimal]]]  # currency -> (when, total available), oldest first


def series(snapshots: Iterable[tuple[int, str, str, str]]) -> Series:
    """(run id, taken_at, currency, available) rows -> per currency, one exact total per run."""
    per_run: dict[int, tuple[str, dict[str, Decimal]]] = {}
    for run_id, taken_at, currency, available in snapshots:
        _, sums = per_run.setdefault(run_id, (taken_at, {}))
        sums[currency] = sums.get(currency, Decimal(0)) + Decimal(available)
    out: Series = {}
    for taken_at, sums in sorted(per_run.values()):
        for currency, total in sums.items():
            out.setdefault(currency, []).append((parse_iso(taken_at), total))
    return dict(sorted(out.items()))


def _thousands(value: float, _position: object) -> str:
    return f"{value:,.0f}"


def draw(data: Series, title: str) -> bytes:
    """The PNG; a panel per currency, or a single note when there is nothing to draw yet."""
    # Imported here, not at the top: matplotlib costs 0.4 s of start-up, which every process
    # (`whalet-bot run`, `check`, the CLI, each test process) would pay for a chart drawn once a day.
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
    figure.suptitle(title, fontsize=12)
    for index, currency in enumerate(currencies):
        axes = figure.add_subplot(rows, columns, index + 1)
        points = data.get(currency, [])
        if not points:
            axes.text(0.5, 0.5, "no digest balances yet", ha="center", va="center", transform=axes.transAxes)
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
        axes.set_title(f"{currency} available", fontsize=10)
        locator = AutoDateLocator(maxticks=5)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, show_offset=False))
        axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
