"""`/whalet payout batch` end to end: the modal, the file read from Slack, every row checked, one
card, one approval, each line its own Whalet order confirmed once, results in the thread.

The real app, the Whalet sandbox and the Slack stand-in (tests/fixtures/app.py); the file is
"uploaded" into the stand-in and read back through files.info and the download, as in Slack.
"""

from __future__ import annotations

import json
from typing import Any

from devkit.localstack import DEMO_CONFIG
from tests.commands.batch_helpers import (
    batch_card,
    batch_id_of,
    line_requests,
    lines_of,
    send_batch,
    thread_texts,
)
from tests.commands.helpers import audit_actions, click, row

GOOD = """beneficiary,amount,currency,purpose,reference
acme-us,1200.50,USD,March invoice,INV-1
BEN002,300,USD,,INV-2
acme-hk,"2,000.00",HKD,Rent,R-7
"""


def _settled(stack: Any, batch_id: str, timeout: float = 30) -> dict[str, Any]:
    return stack.fake.wait_for(lambda: (r := row(stack, batch_id)) and r["state"] == "SUCCEEDED" and r, timeout=timeout)


def test_a_three_line_batch_is_approved_once_and_each_line_paid_once(stack: Any) -> None:
    said = send_batch(stack, GOOD, note="Month-end suppliers")
    assert said.startswith("Sent for approval in <#C0APPROVALS>: 3 lines, 2,000.00 HKD + 1,500.50 USD"), said
    batch_id = batch_id_of(said)
    card = batch_card(stack, batch_id)
    shown = json.dumps(card.blocks)
    assert "Pay out the batch batch.csv: 3 lines" in shown and "Month-end suppliers" in shown
    table = stack.fake.wait_for(lambda: (t := "\n".join(thread_texts(stack, batch_id))) and "INV-2" in t and t)
    assert "Hooli Components Inc" in table and "2,000.00 HKD" in table and "INV-2" in table
    assert line_requests(stack, batch_id) == []  # nothing goes to Whalet before the approval

    assert "Sending it to Whalet" in click(stack, "U0APP1", card).text
    settled = _settled(stack, batch_id)
    assert settled["note"] == "3 paid · 0 failed · 0 waiting"
    children = line_requests(stack, batch_id)
    assert [c["line_no"] for c in children] == [1, 2, 3] and {c["state"] for c in children} == {"SUCCEEDED"}
    orders = [c["mer_order_no"] for c in children]
    assert orders == [f"WBB{batch_id[3:]}{n:04d}0" for n in (1, 2, 3)]
    counts = stack.confirm_counts()
    assert [counts[o] for o in orders] == [1, 1, 1]
    results = stack.fake.wait_for(lambda: [t for t in thread_texts(stack, batch_id) if t.startswith("Results")])
    assert all(o in results[0] for o in orders) and results[0].count("SUCCEEDED") == 3
    files = stack.fake.wait_for(
        lambda: (
            (f := {u.name: u.data for u in stack.fake.uploaded_files("C0APPROVALS") if u.thread_ts == card.ts})
            and len(f) == 2
            and f
        )
    )
    lines_csv = files[f"{batch_id}-lines.csv"].decode("utf-8-sig").splitlines()
    assert lines_csv[0].startswith("line,beneficiary_id,beneficiary,amount,currency")
    assert lines_csv[3].startswith("3,BEN001,Acme Trading Ltd,2000.00,HKD,HKD,Rent,R-7")
    results_csv = files[f"{batch_id}-results.csv"].decode("utf-8-sig").splitlines()
    assert results_csv[0] == "line,beneficiary,amount,currency,order,status,whalet_reason"
    assert results_csv[1] == f"1,Hooli Components Inc,1200.50,USD,{orders[0]},SUCCEEDED,"
    dm = stack.fake.wait_for(
        lambda: (
            next((m.text for m in stack.fake.messages("U0REQ") if "is settled" in m.text), None)
            or next((m.text for m in stack.fake.messages() if "is settled" in m.text), None)
        )
    )
    assert "3 paid · 0 failed" in dm


def test_a_file_with_errors_on_several_rows_creates_nothing(stack: Any) -> None:
    bad = """beneficiary,amount,currency,reference
acme-us,12.345,USD,A
nobody,10,USD,B
acme-us,10,XYZ,C
acme-us,10,USD,D
acme-us,10,JPY,E
"""
    said = send_batch(stack, bad)
    assert said.startswith("*batch.csv was not sent* (4 problems); nothing was created:"), said
    assert "Row 2: '12.345' has more decimals than USD allows" in said or "Row 2:" in said
    for row_no in (2, 3, 4, 6):
        assert f"Row {row_no}:" in said
    assert "Row 5" not in said
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM approval_requests").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM batch_lines").fetchone()[0] == 0
    assert stack.confirm_counts() == {}


def test_the_header_the_format_and_the_size_are_checked(stack: Any) -> None:
    assert "lacks currency" in send_batch(stack, "beneficiary,amount\nacme-us,10\n")
    assert "not UTF-8" in send_batch(
        stack, "beneficiary,amount,currency\nacme-us,10,USD\n".encode("utf-16").decode("latin-1")
    )
    semicolons = (
        "\ufeffbeneficiary;amount;currency\nacme-us;10.00;USD\n"  # Excel's "CSV UTF-8", a European list separator
    )
    assert send_batch(stack, semicolons).startswith("Sent for approval"), "BOM and semicolons are read"
    many = "beneficiary,amount,currency\n" + "acme-us,1,USD\n" * 501
    assert "The file has 501 payments; a batch takes at most 500" in send_batch(stack, many)


def test_a_batch_over_the_tier_needs_two_approvers_and_never_the_requester(stack: Any) -> None:
    said = send_batch(stack, "beneficiary,amount,currency\nacme-us,7500,USD\nacme-us,7500,USD,\n".replace(",\n", "\n"))
    batch_id = batch_id_of(said)
    assert "needs 2 approvals" in said
    card = batch_card(stack, batch_id)
    assert "duplicate line" in json.dumps(card.blocks)  # same beneficiary, amount and reference: flagged
    assert click(stack, "U0REQ", card).text == "You requested this payout, so someone else has to approve it."
    assert row(stack, batch_id)["state"] == "PENDING" and "approve.refused" in audit_actions(stack, batch_id)
    assert "1 of 2" in click(stack, "U0APP1", card).text
    assert line_requests(stack, batch_id) == []
    click(stack, "U0APP2", card)
    _settled(stack, batch_id)
    assert [stack.confirm_counts()[c["mer_order_no"]] for c in line_requests(stack, batch_id)] == [1, 1]


def test_a_line_whalet_refuses_fails_alone(make_stack: Any) -> None:
    stack = make_stack(DEMO_CONFIG + "\n[batch]\nconcurrency = 1\n")  # the first line applied meets the fault
    said = send_batch(stack, GOOD)
    batch_id = batch_id_of(said)
    stack.operator.post(
        "/sandbox/faults",
        json={"rules": [{"apiCode": "payoutApply", "kind": "refuse", "code": "BENEFICIARY_INVALID", "times": 1}]},
    ).raise_for_status()
    click(stack, "U0APP1", batch_card(stack, batch_id))
    settled = _settled(stack, batch_id)
    assert settled["note"] == "2 paid · 1 failed · 0 waiting"
    failed = [line for line in lines_of(stack, batch_id) if line["outcome"] == "failed"]
    assert len(failed) == 1 and failed[0]["line_no"] == 1
    results = stack.fake.wait_for(lambda: [t for t in thread_texts(stack, batch_id) if t.startswith("Results")])
    assert "FAILED" in results[0] and results[0].count("SUCCEEDED") == 2
    assert sum(stack.confirm_counts().values()) == 2


def test_a_freeze_stops_the_lines_not_yet_confirmed(stack: Any) -> None:
    said = send_batch(stack, GOOD)
    batch_id = batch_id_of(said)
    admin = stack.slack_requests.command("U0ADM", "freeze")
    assert admin.status_code == 200
    stack.fake.wait_for(lambda: stack.services.store.get_flag("payouts_frozen"))
    refused = click(stack, "U0APP1", batch_card(stack, batch_id))
    assert "frozen" in refused.text.lower()
    assert line_requests(stack, batch_id) == [] and stack.confirm_counts() == {}
