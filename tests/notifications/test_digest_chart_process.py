"""The digest chart is drawn in a child process: matplotlib never enters the bot's process, the
money crosses as exact decimal strings, and a child that hangs is killed while the digest stays
posted without its chart (logged, recorded on the run)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal

import pytest

from devkit.localstack import LocalStack
from notifications import digest_chart, digest_chart_process
from tests.notifications.test_digest_slack import (
    FINANCE,
    PNG_MAGIC,
    chart_of,
    run_digest,
    run_ids,
    settled_chart,
)

EXACT = "99999999999999999.99"  # 17 digits before the point: a float would print 1e+17


def test_a_digest_with_its_chart_leaves_matplotlib_out_of_the_bot(stack: LocalStack) -> None:
    parent = run_digest(stack, 1)
    chart = chart_of(stack, parent)
    assert chart.data.startswith(PNG_MAGIC) and len(chart.data) > 10_000  # a drawn figure, not a stub
    assert settled_chart(stack, run_ids(stack)[0])["chart_state"] == "done"
    # Nothing in this process draws charts any more (every test's stack draws in a child), so a
    # matplotlib here would be the app's.
    assert not [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]


def test_money_crosses_as_exact_decimal_strings_never_floats() -> None:
    rows = [
        (1, "2031-06-30T01:00:00+00:00", "USD", "0.10"),
        (1, "2031-06-30T01:00:00+00:00", "USD", "0.20"),  # 0.1 + 0.2 is 0.30 here, not 0.30000000000000004
        (2, "2031-07-01T01:00:00+00:00", "USD", EXACT),
        (2, "2031-07-01T01:00:00+00:00", "JPY", "3500000"),
    ]
    sent = json.loads(digest_chart_process.chart_request(digest_chart_process.series(rows), "t"))
    amounts = [amount for points in sent["series"].values() for _, amount in points]
    assert all(isinstance(amount, str) for amount in amounts)
    assert sent["series"]["USD"] == [["2031-06-30T01:00:00+00:00", "0.30"], ["2031-07-01T01:00:00+00:00", EXACT]]
    assert Decimal(sent["series"]["JPY"][0][1]) == Decimal("3500000")


def test_the_drawing_program_refuses_a_float_amount_with_a_clear_reason() -> None:
    request = {"title": "t", "series": {"USD": [["2031-06-30T01:00:00+00:00", 1200.5]]}}
    child = subprocess.run(
        [sys.executable, "-I", str(digest_chart_process.PROGRAM)],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == 2 and child.stdout == b""
    assert b"USD: amounts must be decimal strings, got float" in child.stderr


def test_a_chart_that_outlives_its_timeout_is_killed_and_the_digest_stays_without_it(
    make_stack: Callable[..., LocalStack], caplog: pytest.LogCaptureFixture
) -> None:
    stack = make_stack(settings_overrides={"whalet_bot_chart_timeout_seconds": 0.001})  # no Python starts that fast
    with caplog.at_level(logging.WARNING, logger="whalet_bot.digest"):
        parent = run_digest(stack, 1)
        run_id = run_ids(stack)[0]
        failed = settled_chart(stack, run_id)
    assert failed["chart_state"] == "failed"
    assert (
        failed["chart_error"]
        == "the chart could not be drawn: the chart process took longer than 0.001 s and was killed"
    )
    assert [r for r in caplog.records if getattr(r, "event", None) == "digest_chart_failed"]
    assert stack.fake.uploaded_files(FINANCE) == []
    digest = stack.fake.message(FINANCE, parent.ts)
    assert digest is not None and digest.text.startswith("Whalet digest") and digest.blocks == parent.blocks


def test_the_picture_speaks_chinese_only_where_the_host_has_a_font_for_it() -> None:
    """A zh-Hans channel's chart: Chinese words with a CJK font installed, else the English copy
    (matplotlib would draw Chinese as empty boxes); the money is the same either way."""
    sent = digest_chart_process.chart_request({}, "", "zh-Hans")
    with_font = digest_chart.read_request(sent, fonts={"DejaVu Sans", "WenQuanYi Zen Hei"})[1]
    assert with_font.title == "易鲸余额，最近 30 天（可用，全部用户）"
    assert with_font.available % {"currency": "USD"} == "USD 可用" and with_font.family[0] == "WenQuanYi Zen Hei"
    without = digest_chart.read_request(sent, fonts={"DejaVu Sans"})[1]
    assert without.title == "Whalet balances, last 30 days (available, all users)"
    assert without.available % {"currency": "USD"} == "USD available" and without.empty == "no digest balances yet"
    english = digest_chart.read_request(digest_chart_process.chart_request({}, "", "en"), fonts=set())[1]
    assert english.title == without.title and english.family == ("DejaVu Sans",)
