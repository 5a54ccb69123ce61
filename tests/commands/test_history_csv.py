"""`/whalet history KIND --days N --csv`: every page, exact amounts, ISO times, in the person's DM."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from commands.history import HistoryArgs, parse_history
from devkit.localstack import LocalStack
from services.slack.subcommands import UsageError
from tests.commands.helpers import ask, responses_since
from whalet.models import WHALET_TZ

AMOUNTS = ("1234.5", "0.01", "99999.99", "250000", "17.30")


def test_csv_export_has_every_page_exact_amounts_and_iso_times_and_lands_in_the_dm(stack: LocalStack) -> None:
    stack.operator.post("/sandbox/config", json={"webhook_url": None}).raise_for_status()  # no relay traffic
    for n in range(230):  # three pages of 100
        payer = {0: '=HYPERLINK("http://x")', 1: "Acct 6222020200112233445 Ltd", 2: "上海某某进出口有限公司"}.get(
            n, f"Payer {n}"
        )
        stack.operator.post(
            "/sandbox/collect",
            json={
                "userId": "U10001",
                "currency": "USD" if n % 3 else "JPY",
                "amount": AMOUNTS[n % 5] if n % 3 else str(1000 + n),
                "payerName": payer,
            },
        ).raise_for_status()
    sandbox = {r["collectionId"]: r for r in stack.sandbox.state.collections.records if r["userId"] == "U10001"}
    assert len(sandbox) == 230

    before = len(stack.fake.responses())
    _, first = ask(stack, "U0APP2", "history collections --days 2 --csv")
    assert first.text == "Working on it: 230 collections over 3 pages; the CSV will arrive in our DM."
    done = responses_since(stack, before, n=2, timeout=20)[1]
    assert done.text == "Collections of the last 2 days: the CSV (230 records) is in our DM."

    dm = stack.fake.dm_channel("U0APP2")  # opened by the bot (conversations.open)
    assert dm is not None and dm.startswith("D")
    [upload] = stack.fake.uploaded_files(dm)
    assert upload.name.startswith("whalet-collections-") and upload.name.endswith("-last-2d.csv")
    assert upload.data.startswith("\ufeff".encode())  # [export] bom = true by default: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(upload.data.decode("utf-8-sig"))))
    assert len(rows) == 230 and {row["record_id"] for row in rows} == set(sandbox)
    for row in rows:
        record = sandbox[row["record_id"]]
        digits = 0 if record["currency"] == "JPY" else 2
        assert row["amount"] == f"{record['amount']:.{digits}f}" and Decimal(row["amount"]) == record["amount"]
        assert row["currency"] == record["currency"] and row["status"] == "SUCCESS"
        assert row["created_at"] == record["created"].astimezone(WHALET_TZ).replace(microsecond=0).isoformat()
        assert row["created_at"].endswith("+08:00")
    payers = {row["counterparty"] for row in rows}
    assert '\'=HYPERLINK("http://x")' in payers  # a spreadsheet shows it, never runs it
    assert not any("6222020200112233445" in p for p in payers)  # the account number is masked
    assert "上海某某进出口有限公司" in payers
    [share] = [m for m in stack.fake.messages(dm) if m.files]
    assert share.text == "Collections of the last 2 days: 230 records."


def test_a_refused_upload_or_a_whalet_error_is_answered_with_a_sentence(stack: LocalStack) -> None:
    _, answer = ask(stack, "U0APP2", "history payments --days 1 --csv")
    assert answer.text == "Payments of the last 1 day: none, so there is no CSV to send."
    stack.fake.scopes.discard("im:write")
    stack.operator.post("/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "5.00"})
    _, answer = ask(stack, "U0APP2", "history collections --days 1 --csv")
    assert answer.text == "I could not send the CSV to your DM: Slack answered `missing_scope`."
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "queryPayRecords", "kind": "bad_signature", "times": None}]}
    ).raise_for_status()
    _, answer = ask(stack, "U0APP2", "history pays --days 1 --csv")
    assert "trustworthy answer" in answer.text
    assert stack.fake.uploaded_files() == []


def test_csv_parsing_keeps_the_old_syntax() -> None:
    assert parse_history(["payouts", "--days", "3", "--page", "2"]) == HistoryArgs("payouts", 3, 2)
    assert parse_history(["pays", "--csv", "--days", "30"]) == HistoryArgs("pays", 30, 1, csv=True)
    with pytest.raises(UsageError, match="leave out --page"):
        parse_history(["payments", "--csv", "--page", "2"])
    with pytest.raises(UsageError, match="from 1 to 90"):
        parse_history(["collections", "--days", "91", "--csv"])


def test_export_bom_off_writes_plain_utf8_for_every_csv() -> None:
    """``[export] bom = false``: the same files without the byte-order mark (tools that choke on it)."""
    from commands.audit import to_csv as audit_csv
    from commands.history_csv import to_csv as history_csv
    from core.config import BotConfig
    from services.approvals.batch_create import lines_csv

    assert BotConfig().export.bom is True and BotConfig.model_validate({"export": {"bom": False}}).export.bom is False
    row = {
        "line_no": 1,
        "beneficiary_id": "BEN1",
        "beneficiary_name": "上海某某进出口有限公司",
        "amount": "10.00",
        "currency": "USD",
        "to_currency": "USD",
        "purpose": "货款",
        "reference": "",
        "flags": "[]",
    }
    assert lines_csv([row], bom=True).startswith(b"\xef\xbb\xbf")
    plain = lines_csv([row], bom=False)
    assert not plain.startswith(b"\xef\xbb\xbf") and "上海某某进出口有限公司" in plain.decode("utf-8")
    assert history_csv([], bom=True).startswith(b"\xef\xbb\xbf") and not history_csv([], bom=False).startswith(b"\xef")
    assert audit_csv([], "Asia/Shanghai", bom=True).startswith(b"\xef\xbb\xbf")
    assert not audit_csv([], "Asia/Shanghai", bom=False).startswith(b"\xef")
