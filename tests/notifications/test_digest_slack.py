"""The digest in Slack, end to end: signed `/whalet digest now` on the real app, the sandbox, the
strict stand-in. Many balances keep the closing sections (table in the thread), totals in the
reporting currency with the rates shown, the change since the last digest, and the chart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from core.clock import FrozenClock
from devkit.localstack import DEMO_CONFIG, LocalStack
from devkit.slack_standin import Message
from services.slack.blocks import MAX_BLOCKS
from tests.commands.helpers import ask

TIMEOUT = 20.0
FINANCE = "C0FINANCE"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEMO_USERS_LINE = 'users = [{ id = "U10001", name = "Acme Trading Ltd" }, { id = "U10002", name = "Globex Export Co" }]'
SOURCES = ("B2C", "B2B", "Acquiring")
CURRENCIES = ("USD", "EUR", "GBP", "HKD", "CNY", "JPY", "SGD", "AUD")  # every currency the sandbox knows


def with_users(users: list[tuple[str, str]]) -> str:
    listed = ", ".join(f'{{ id = "{uid}", name = "{name}" }}' for uid, name in users)
    return DEMO_CONFIG.replace(DEMO_USERS_LINE, f"users = [{listed}]").replace(
        'default_user_id = "U10001"', f'default_user_id = "{users[0][0]}"'
    )


def run_digest(stack: LocalStack, count: int) -> Message:
    """`/whalet digest now` in #finance; returns the ``count``-th digest message (1-based)."""
    assert stack.slack_requests.command("U0REQ", "digest now", channel_id=FINANCE).status_code == 200
    return stack.fake.wait_for(
        lambda: (found := digest_messages(stack)) and len(found) >= count and found[count - 1], timeout=TIMEOUT
    )


def digest_messages(stack: LocalStack) -> list[Message]:
    return [m for m in stack.fake.messages(FINANCE) if not m.is_reply and m.text.startswith("Whalet digest")]


def chart_of(stack: LocalStack, parent: Message) -> Any:
    """The chart file shared in ``parent``'s thread, once it is there."""
    return stack.fake.wait_for(
        lambda: next((f for f in stack.fake.uploaded_files(FINANCE) if f.thread_ts == parent.ts), None), timeout=TIMEOUT
    )


def chart_state(stack: LocalStack, run_id: int) -> dict[str, Any]:
    with stack.services.store.read() as db:
        return dict(
            next(db.query("SELECT chart_state, chart_file_id, chart_error FROM digest_runs WHERE id = ?", [run_id]))
        )


def settled_chart(stack: LocalStack, run_id: int) -> dict[str, Any]:
    return stack.fake.wait_for(
        lambda: (row := chart_state(stack, run_id))["chart_state"] in ("done", "failed") and row, timeout=TIMEOUT
    )


def run_ids(stack: LocalStack) -> list[int]:
    with stack.services.store.read() as db:
        return [int(r[0]) for r in db.execute("SELECT id FROM digest_runs ORDER BY id")]


def texts(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def test_many_balances_keep_the_closing_sections_and_the_full_table_goes_into_the_thread(
    make_stack: Callable[..., LocalStack],
) -> None:
    users = [(f"U3{n:04d}", f"Importer {n:02d} Ltd") for n in range(12)]
    stack = make_stack(with_users(users))
    for index, (uid, name) in enumerate(users):
        balances = [
            {
                "fundSource": source,
                "currency": currency,
                "available": str(1000 + index),
                "pending": "1.00" if currency != "JPY" else "1",
            }
            for source in SOURCES
            for currency in CURRENCIES
        ]
        stack.operator.post(
            "/sandbox/users", json={"userId": uid, "name": name, "balances": balances}
        ).raise_for_status()

    parent = run_digest(stack, 1)
    shown = texts(parent)
    assert len(parent.blocks) <= MAX_BLOCKS
    assert "Waiting for approval or confirmation:*" in shown and "Open document requests:*" in shown
    assert "Every payout confirmed more than" in shown  # the reconciliation line
    assert "The full table (288 balances) is in the thread below." in shown
    for uid, name in users:  # the per-user summary stays in the message
        assert f"*{name}* (`{uid}`): total ≈ *" in shown and "· 24 balances" in shown

    def table() -> list[str]:
        return [
            line
            for reply in stack.fake.thread(FINANCE, parent.ts)
            if reply.is_reply
            for block in reply.blocks
            for line in block.get("text", {}).get("text", "").split("\n")
            if line.startswith("• ")
        ]

    cells = stack.fake.wait_for(lambda: len(table()) == 288 and table(), timeout=TIMEOUT)
    assert all(len(m.blocks) <= MAX_BLOCKS for m in stack.fake.thread(FINANCE, parent.ts))
    assert sum(cell.startswith("• SGD Acquiring: *") for cell in cells) == 12
    assert "• USD B2C: *1,011.00* available · pending 1.00" in cells  # zeros and "first digest" left out
    assert "288 balances had no earlier digest to compare with." in json.dumps(parent.blocks)
    chart = chart_of(stack, parent)
    assert chart.data.startswith(PNG_MAGIC) and chart.name == f"whalet-digest-{run_ids(stack)[0]}.png"


def test_totals_in_the_report_currency_with_the_rates_and_the_change_since_the_last_digest(
    make_stack: Callable[..., LocalStack],
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(clock=clock)
    first = run_digest(stack, 1)
    shown = texts(first)
    rates = {cur: Decimal(rate) for cur, rate in re.findall(r"1 ([A-Z]{3}) = ([0-9.]+) USD \(R", shown)}
    assert set(rates) == {"EUR", "HKD", "JPY", "CNY"}  # every non-USD currency the demo users hold
    sandbox = stack.operator.get("/sandbox/balances", params={"userId": "U10001"}).json()["balances"]
    sums: dict[str, Decimal] = {}
    for row in sandbox:
        sums[row["currency"]] = sums.get(row["currency"], Decimal(0)) + Decimal(row["available"])
    expected = sum(
        (
            (amount * rates.get(cur, Decimal(1))).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            for cur, amount in sums.items()
        ),
        Decimal(0),
    )
    assert f"*Acme Trading Ltd* (`U10001`) · total ≈ *{expected:,.2f} USD*" in shown
    assert "Totals: available balances in USD at Whalet's rates: 1 CNY = " in shown
    first_chart = chart_of(stack, first)

    stack.operator.post(
        "/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "1000.25"}
    ).raise_for_status()
    clock.advance(timedelta(days=1))
    second = texts(run_digest(stack, 2))
    assert f"total ≈ *{expected + Decimal('1000.25'):,.2f} USD* (▲ +1,000.25 USD since the last digest)" in second
    assert "▲ +1,000.25 USD since the last digest" in second.split("USD · B2C")[1]  # the row changed too
    assert "Globex Export Co* (`U10002`) · total ≈ *" in second and "(no change)" in second
    second_chart = chart_of(stack, digest_messages(stack)[1])
    assert second_chart.data.startswith(PNG_MAGIC) and second_chart.id != first_chart.id
    assert len(stack.fake.uploaded_files()) == 2


def test_a_refused_chart_upload_never_stops_the_digest_and_a_restart_uploads_it_once(
    make_stack: Callable[..., LocalStack], database_url: str | None
) -> None:
    stack = make_stack()
    stack.fake.scopes.discard("files:write")  # Slack refuses the upload: missing_scope
    parent = run_digest(stack, 1)
    [run_id] = run_ids(stack)
    assert "Waiting for approval or confirmation" in texts(parent)
    failed = settled_chart(stack, run_id)
    assert failed["chart_state"] == "failed" and "missing_scope" in failed["chart_error"]
    assert stack.fake.uploaded_files() == []
    _, status = ask(stack, "U0ADM", "status")  # an operator sees why
    assert "its chart was not uploaded: Slack answered missing_scope" in json.dumps(status.blocks)

    # A process that died mid-upload (lease long gone): the chart is looked for in the thread,
    # not found, uploaded once.
    stack.fake.scopes.add("files:write")
    with stack.services.store.transaction() as db:
        db.execute(
            "UPDATE digest_runs SET chart_state = 'uploading', chart_owner = 'bot@gone', "
            "chart_lease_until = '2000-01-01T00:00:00.000+00:00' WHERE id = ?",
            [run_id],
        )
    assert settled_chart(stack, run_id)["chart_state"] == "done"
    [chart] = stack.fake.uploaded_files()
    assert chart.thread_ts == parent.ts and chart.data.startswith(PNG_MAGIC)

    # Died after Slack shared it but before recording it: found in the thread, not uploaded again.
    with stack.services.store.transaction() as db:
        db.execute(
            "UPDATE digest_runs SET chart_state = 'uploading', chart_owner = 'bot@gone', "
            "chart_lease_until = '2000-01-01T00:00:00.000+00:00', chart_file_id = NULL WHERE id = ?",
            [run_id],
        )
    done = settled_chart(stack, run_id)
    assert done["chart_state"] == "done" and done["chart_file_id"] == chart.id
    assert len(stack.fake.uploaded_files()) == 1


def test_a_currency_whalet_gives_no_rate_for_is_named_and_left_out_of_the_total(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack()
    stack.operator.post(
        "/sandbox/faults",
        json={"rules": [{"apiCode": "queryRate", "kind": "refuse", "code": "PARAMETER_ERROR", "times": None}]},
    ).raise_for_status()
    shown = texts(run_digest(stack, 1))
    usd = sum(
        (
            Decimal(row["available"])
            for row in stack.operator.get("/sandbox/balances", params={"userId": "U10001"}).json()["balances"]
            if row["currency"] == "USD"
        ),
        Decimal(0),
    )
    assert f"*Acme Trading Ltd* (`U10001`) · total ≈ *{usd:,.2f} USD* without CNY, EUR, HKD, JPY (no rate)" in shown
    assert "Totals: available balances in USD at Whalet's rates: no CNY rate (" in shown
