"""An audit trail to hand an auditor (issue 21, item 6), through signed commands into the real app:
`/whalet audit` as a CSV in the DM, who requested and approved in the history export, and the
policy file's changes recorded at start."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from core.config import load_config
from services.policy_record import record_at_start
from tests.commands.helpers import ask, click, request_payout, row


def _csv_in_dm(stack: Any, user: str, prefix: str) -> list[dict[str, str]]:
    def upload() -> Any:
        dm = stack.fake.dm_channel(user)
        return next((f for f in stack.fake.uploaded_files(dm) if f.name.startswith(prefix)), None) if dm else None

    found = stack.fake.wait_for(upload, timeout=15)
    assert found.data.startswith("\ufeff".encode())  # [export] bom: Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(found.data.decode("utf-8-sig"))))


def _paid(stack: Any, text: str) -> str:
    request_id, card = request_payout(stack, text)
    click(stack, "U0APP1", card)
    stack.fake.wait_for(lambda: row(stack, request_id)["state"] == "SUCCEEDED", timeout=15)
    return request_id


def test_the_audit_log_of_a_paid_payout_arrives_as_a_csv_in_the_day_zone(stack: Any) -> None:
    request_id = _paid(stack, 'payout 300 USD to acme-us for "=cmd|calc"')
    other = _paid(stack, "payout 40 USD to acme-us")
    _, answer = ask(stack, "U0APP2", f"audit --request {request_id.lower()}")
    assert (
        answer.text
        == f"Audit log for request `{request_id}`: the CSV ({answer.text.split('(')[1].split(' ')[0]} rows) is in our DM."
    )
    rows = _csv_in_dm(stack, "U0APP2", "whalet-audit-")
    assert {r["request"] for r in rows} == {request_id}
    actions = [r["action"] for r in rows]
    for expected in ("request.apply", "request", "approve", "confirm.send", "confirm"):
        assert expected in actions, actions
    approve = next(r for r in rows if r["action"] == "approve")
    assert approve["actor"] == "U0APP1" and approve["amount"] == "300.00" and approve["currency"] == "USD"
    assert all(r["time"].endswith("+08:00") for r in rows)  # Asia/Shanghai, the default day_zone
    assert other not in {r["request"] for r in rows}


def test_audit_is_for_the_export_role_and_checks_its_words(stack: Any) -> None:
    _, refused = ask(stack, "U0VIEW", "audit")
    assert refused.text == "`audit` is for approvers and above; your role is viewer."
    http, _ = ask(stack, "U0APP1", "audit --days 0")
    assert "--days" in http.text and "Usage: `/whalet audit [--days N] [--request ID]`" in http.text
    http, _ = ask(stack, "U0APP1", "audit --request <!channel>")
    assert "is not a request id" in http.text and "<!channel>" not in http.text


def test_the_history_export_names_the_request_its_requester_and_approvers(stack: Any) -> None:
    request_id = _paid(stack, "payout 250 USD to acme-us")
    _, answer = ask(stack, "U0APP2", "history payouts --days 2 --csv")
    rows = _csv_in_dm(stack, "U0APP2", "whalet-payouts-")
    mine = [r for r in rows if r["request_id"] == request_id]
    assert len(mine) == 1 and mine[0]["requester"] == "U0REQ" and mine[0]["approvers"] == "U0APP1"
    assert mine[0]["mer_order_no"] == row(stack, request_id)["mer_order_no"]
    others = [r for r in rows if r["request_id"] == ""]
    assert all(r["requester"] == "" and r["approvers"] == "" for r in others)


def test_a_changed_policy_is_recorded_and_alerted_once(stack: Any) -> None:
    record_at_start(stack.services)  # the first start with this database (if the stack's own start did not)
    assert record_at_start(stack.services) is None  # unchanged: nothing recorded
    path = stack.config_path
    path.write_text(path.read_text().replace('approvers = ["U0APP1", "U0APP2"]', 'approvers = ["U0APP1"]'))
    stack.services.config = load_config(path)
    assert record_at_start(stack.services) == ["roles.approvers"]
    assert record_at_start(stack.services) is None
    with stack.services.store.read() as db:
        changes = [
            json.loads(d)
            for (a, d) in db.execute("SELECT action, detail FROM audit_log WHERE subject = 'policy'")
            if a == "policy.changed"
        ]
    assert len(changes) == 1 and changes[0]["changed"] == ["roles.approvers"]
    assert len(changes[0]["file_sha256"]) == 64
    alerts = stack.fake.wait_for(
        lambda: [m for m in stack.fake.messages("C0ALERTS") if "changed policy file" in m.text]
    )
    assert len(alerts) == 1 and "`roles.approvers`" in alerts[0].text and changes[0]["file_sha256"] in alerts[0].text
