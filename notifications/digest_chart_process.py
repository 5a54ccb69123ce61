"""The bot's side of the digest chart: the data, exact, and a child process that draws it.

matplotlib is never imported in the bot's process (it cost ~40 MiB of resident memory for good
and ~0.4 s of GIL per chart, which delayed acks): ``draw_in_child`` starts
``notifications/digest_chart.py`` with the current interpreter, hands it the chart's data as JSON
on stdin and reads the PNG from stdout. Amounts cross as decimal strings (summed here exactly,
with Decimal), never as floats. A child that fails, or outlives its timeout (it is killed), raises
``ChartFailed`` with a reason meant for the log and for ``/whalet status``; the digest, already
posted, is left as it is.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from core.clock import parse_iso
from core.i18n import translator

CHART_DAYS = 30
PROGRAM = Path(__file__).with_name("digest_chart.py")  # run by path: it imports none of the bot's packages
Series = dict[str, list[tuple[datetime, Decimal]]]  # currency -> (when, total available), oldest first


class ChartFailed(Exception):
    """The chart could not be drawn; the message says why, for the log and the run's record."""


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


def chart_words(locale: str | None) -> dict[str, str]:
    """What the picture says in ``locale`` (the drawing program falls back to the English copy
    when the host has no font for it)."""
    t = translator(locale)
    return {
        "title": t.gettext("Whalet balances, last %(days)s days (available, all users)", days=CHART_DAYS),
        "available": t.gettext("%(currency)s available", currency="%(currency)s"),
        "empty": t.gettext("no digest balances yet"),
    }


def chart_request(data: Series, title: str, locale: str | None = None) -> bytes:
    """What the drawing program reads on stdin: every amount as its exact decimal string; the
    words in ``locale`` with an English copy (``title`` is used when no locale is given)."""
    wire = {currency: [[when.isoformat(), str(total)] for when, total in points] for currency, points in data.items()}
    words, english = chart_words(locale), chart_words("en")
    if locale is None:
        words["title"] = english["title"] = title
    return json.dumps({"title": words["title"], "series": wire, "words": words, "english": english}).encode()


async def draw_in_child(data: Series, title: str, timeout: float, locale: str | None = None) -> bytes:
    """The PNG, drawn by a child process that is killed if it takes longer than ``timeout`` s."""
    request = chart_request(data, title, locale)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",  # isolated: no user site, no PYTHON* variables, not the program's folder on the path
        str(PROGRAM),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            png, errors = await child.communicate(request)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise ChartFailed(f"the chart process took longer than {timeout:g} s and was killed") from None
    finally:
        if child.returncode is None:  # cancelled (the process is stopping): no orphan left drawing
            child.kill()
            await child.wait()
    if child.returncode != 0:
        last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise ChartFailed(f"the chart process exited with {child.returncode}: {last[0][:200]}")
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ChartFailed(f"the chart process wrote {len(png)} bytes that are not a PNG")
    return png
