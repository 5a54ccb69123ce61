"""Bind trade order on a B2B collection, end to end: the stand-in's signed clicks and modal, the
real app, the sandbox recording the binding and answering tradeOrderBindNotify after its delay,
threaded under the collection."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from devkit.localstack import LocalStack
from devkit.slack_standin.records import Message

TIMEOUT = 15.0
CONTRACT = b"%PDF-1.4 sales contract 2024-117\n"


def b2b_collection(stack: LocalStack, amount: str = "1200.50", currency: str = "USD") -> Message:
    answer = stack.operator.post(
        "/sandbox/collect",
        json={"userId": "U10001", "currency": currency, "amount": amount, "fundSource": "B2B", "payerName": "Initech"},
    )
    assert answer.status_code == 200, answer.text
    [message] = stack.fake.wait_for(lambda: stack.fake.messages("C0COLLECT"), timeout=TIMEOUT)
    return message


def open_bind(stack: LocalStack, user: str, message: Message) -> dict[str, Any]:
    assert stack.slack_requests.block_action(user, message, action_id="collection_bind_trade_order").status_code == 200
    form = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views(user) if v.callback_id == "trade_order_bind_modal"), None),
        timeout=TIMEOUT,
    )
    return dict(form.view, id=form.id)


def bind(stack: LocalStack, user: str, form: dict[str, Any], **values: Any) -> dict[str, Any]:
    given = {"trade_order_no": "SO-2024-117", "amount": "1200.50", "currency": "USD", "buyer": "Initech"} | values
    answer = stack.slack_requests.view_submission(user, form, given)
    assert answer.status_code == 200, answer.text
    return answer.json() if answer.content else {}


def replies(stack: LocalStack, message: Message) -> list[str]:
    return [m.text for m in stack.fake.thread("C0COLLECT", message.ts) if m.is_reply]


def test_a_trade_order_bound_to_a_b2b_collection_is_answered_in_its_thread(stack: LocalStack) -> None:
    message = b2b_collection(stack)
    assert "Bind trade order" in json.dumps(message.blocks)
    form = open_bind(stack, "U0REQ", message)
    assert "1200.50" in json.dumps(form["blocks"]) and "Initech" in json.dumps(form["blocks"])  # prefilled
    contract = stack.fake.add_user_file("U0REQ", "contract.pdf", CONTRACT, "application/pdf")
    answer = bind(stack, "U0REQ", form, contract=[contract])
    assert answer["response_action"] == "update"

    [record] = stack.fake.wait_for(lambda: stack.operator.get("/sandbox/trade-orders").json()["records"])
    assert (record["tradeOrderNo"], record["amount"], record["currency"], record["buyerName"]) == (
        "SO-2024-117",
        "1200.50",
        "USD",
        "Initech",
    )
    assert record["contract"][0]["sha256"] == hashlib.sha256(CONTRACT).hexdigest()
    thread = stack.fake.wait_for(
        lambda: (t := replies(stack, message)) and any("Trade order binding: PASS" in x for x in t) and t,
        timeout=TIMEOUT,
    )
    assert "<@U0REQ> asked Whalet to bind trade order `SO-2024-117` (1,200.50 USD" in thread[0]
    assert "Whalet received the binding" in thread[1]
    with stack.services.store.read() as db:
        [row] = db.query("SELECT state, result, bind_id, amount FROM trade_order_bindings")
    assert (row["state"], row["result"], row["amount"]) == ("passed", "PASS", "1200.50")
    assert row["bind_id"] == record["bindId"]

    again = bind(stack, "U0APP1", open_bind(stack, "U0APP1", message))  # the same order, bound already
    assert "already bound" in again["errors"]["trade_order_no"]


def test_the_form_checks_money_and_the_role(stack: LocalStack) -> None:
    message = b2b_collection(stack, "5000", "JPY")
    form = open_bind(stack, "U0REQ", message)
    answer = bind(stack, "U0REQ", form, amount="12.5", currency="JPY")
    assert answer["errors"] == {"amount": "JPY takes at most 0 decimal places; '12.5' has more."}
    answer = bind(stack, "U0REQ", form, currency="XYZ")
    assert "not an ISO 4217 currency" in answer["errors"]["currency"]

    assert stack.slack_requests.block_action("U0VIEW", message, action_id="collection_bind_trade_order")
    told = stack.fake.wait_for(
        lambda: [r for r in stack.fake.responses() if "trade order binding" in r.text], timeout=TIMEOUT
    )
    assert "your role is viewer" in told[0].text
    assert stack.operator.get("/sandbox/trade-orders").json()["records"] == []


def test_a_b2c_collection_has_no_bind_button_and_still_folds(stack: LocalStack) -> None:
    answer = stack.operator.post("/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "10"})
    assert answer.status_code == 200
    [message] = stack.fake.wait_for(lambda: stack.fake.messages("C0COLLECT"), timeout=TIMEOUT)
    assert "collection_bind_trade_order" not in json.dumps(message.blocks)
