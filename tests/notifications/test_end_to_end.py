"""The whole path over real HTTP: sandbox webhook -> our app -> inbox -> outbox -> Slack stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any


from devkit.localstack import DEMO_CONFIG, LocalStack
from tests.fixtures.whalet import BOTH_PROTOCOLS

pytestmark = BOTH_PROTOCOLS  # every notification kind, in both protocol profiles

TIMEOUT = 15.0


def texts(stack: LocalStack, channel: str) -> list[str]:
    return [m.text for m in stack.fake.messages(channel)]


def deliveries(stack: LocalStack) -> list[dict]:  # type: ignore[type-arg]
    return stack.operator.get("/sandbox/deliveries").json()["deliveries"]


def test_money_received_from_the_sandbox_lands_in_the_collections_channel(stack: LocalStack) -> None:
    answer = stack.operator.post(
        "/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "1200.50", "payerName": "Initech"}
    )
    assert answer.status_code == 200, answer.text
    [message] = stack.fake.wait_for(lambda: stack.fake.messages("C0COLLECT"), timeout=TIMEOUT)
    assert message.text.startswith("Money received: 1,200.50 USD from Initech into ••••")
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert "Acme Trading Ltd" in shown and "B2C" in shown and "GB29NWBK60161331926819" not in shown
    [delivery] = deliveries(stack)
    assert delivery["outcome"] == "delivered" and delivery["attempt"] == 1  # our signed ack was accepted


def test_same_notification_twenty_times_from_eight_senders_gives_one_row_and_one_post(stack: LocalStack) -> None:
    body = {
        "userId": "U10002",
        "collectionId": "COLDUP1",
        "virtualAccountNo": "700001000184002",
        "fundSource": "B2B",
        "currency": "EUR",
        "amount": Decimal("99.00"),
        "payerName": "Hooli",
        "receivedTime": "2024-05-01 09:00:00",
        "status": "SUCCESS",
    }
    wire = stack.sandbox.notify_wire  # exactly what the sandbox would send, in the stack's profile
    raw = wire.encode("collectionReceivedNotify", "WNDUPLICATE0001", body)
    headers = wire.headers("collectionReceivedNotify", "WNDUPLICATE0001", raw)
    with ThreadPoolExecutor(max_workers=8) as pool:  # 20 deliveries of one notification at once
        codes = list(
            pool.map(lambda _: stack.http.post("/whalet/webhook", content=raw, headers=headers).status_code, range(20))
        )
    assert codes == [200] * 20
    stack.fake.wait_for(lambda: stack.fake.messages("C0COLLECT"), timeout=TIMEOUT)

    def undelivered() -> int:  # Slack has the post a moment before the worker marks its row done
        with stack.services.store.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state != 'done'").fetchone()[0])

    stack.fake.wait_for(lambda: undelivered() == 0, timeout=TIMEOUT)
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 1
    assert len(stack.fake.calls("chat.postMessage")) == 1


def test_unknown_api_code_is_relayed_generically_with_numbers_masked(stack: LocalStack) -> None:
    answer = stack.operator.post(
        "/sandbox/notify",
        json={
            "apiCode": "cardLimitChangedNotify",
            "body": {"userId": "U10001", "cardNo": "4111111111111111", "newLimit": "5000", "status": "DONE"},
        },
    )
    assert answer.status_code == 200, answer.text
    [message] = stack.fake.wait_for(lambda: stack.fake.messages("C0FINANCE"), timeout=TIMEOUT)
    shown = message.text + json.dumps(message.blocks, ensure_ascii=False)
    assert "cardLimitChangedNotify" in shown and "••••1111" in shown and "4111111111111111" not in shown


def test_replenish_request_is_a_to_do_with_an_owner_and_closes_on_the_result(stack: LocalStack) -> None:
    answer = stack.operator.post("/sandbox/replenish", json={"kind": "edd", "userId": "U10001"})
    assert answer.status_code == 200, answer.text
    replenish_id = answer.json()["replenishId"]
    [card] = stack.fake.wait_for(lambda: stack.fake.messages("C0COMPLIANCE"), timeout=TIMEOUT)
    assert "Business licence" in json.dumps(card.blocks)

    assert stack.slack_requests.block_action("U0APP1", card, action_id="replenish_take").status_code == 200
    stack.fake.wait_for(
        lambda: "<@U0APP1> is handling this" in json.dumps(stack.fake.message("C0COMPLIANCE", card.ts).blocks),
        timeout=TIMEOUT,
    )
    updated = stack.fake.message("C0COMPLIANCE", card.ts)
    assert "replenish_take" not in json.dumps(updated.blocks)

    # a second person clicking the (stale) button is told, privately, who has it
    assert stack.slack_requests.block_action("U0APP2", card, action_id="replenish_take").status_code == 200
    told = stack.fake.wait_for(lambda: [r for r in stack.fake.responses() if "U0APP1" in r.text], timeout=TIMEOUT)
    assert told[0].response_type == "ephemeral"

    result = stack.operator.post(f"/sandbox/replenish/{replenish_id}/result", json={"status": "PASS"})
    assert result.status_code == 200, result.text
    stack.fake.wait_for(lambda: len(stack.fake.thread("C0COMPLIANCE", card.ts)) == 2, timeout=TIMEOUT)
    closed = stack.fake.message("C0COMPLIANCE", card.ts)
    assert "Closed, Whalet's decision: *PASS*" in json.dumps(closed.blocks)
    assert "PASS" in stack.fake.thread("C0COMPLIANCE", card.ts)[1].text


def test_payout_result_lands_in_the_approval_cards_thread_and_updates_the_card(stack: LocalStack) -> None:
    assert stack.slack_requests.command("U0REQ", 'payout 100 USD to acme-us for "May invoice"').status_code == 200
    [card] = stack.fake.wait_for(lambda: stack.fake.messages("C0APPROVALS"), timeout=TIMEOUT)
    assert stack.slack_requests.block_action("U0APP1", card, action_id="approval_approve").status_code == 200
    thread = stack.fake.wait_for(
        lambda: [m for m in stack.fake.thread("C0APPROVALS", card.ts) if m.is_reply and "Payout completed" in m.text],
        timeout=TIMEOUT,
    )
    assert "100.00 USD" in thread[0].text
    stack.fake.wait_for(
        lambda: "Whalet reports it done" in json.dumps(stack.fake.message("C0APPROVALS", card.ts).blocks),
        timeout=TIMEOUT,
    )
    assert not stack.fake.messages("C0FINANCE")  # not posted a second time elsewhere


EVERY_KIND = {
    "collectionReceivedNotify": {
        "userId": "U10001",
        "collectionId": "C1",
        "virtualAccountNo": "700001000184001",
        "fundSource": "B2C",
        "currency": "USD",
        "amount": "12.00",
        "payerName": "Initech",
        "receivedTime": "2024-05-01 09:00:00",
        "status": "SUCCESS",
    },
    "payoutResultNotify": {
        "userId": "U10001",
        "payoutId": "PO9",
        "merOrderNo": "EXT1",
        "status": "SUCCESS",
        "currency": "USD",
        "amount": "5.00",
        "fee": "1.00",
        "toCurrency": "HKD",
        "toAmount": "39.00",
        "finishTime": "2024-05-01 09:00:00",
    },
    "payResultNotify": {
        "userId": "U10001",
        "payId": "PY9",
        "merOrderNo": "EXT2",
        "status": "FAIL",
        "currency": "USD",
        "amount": "5.00",
        "fee": "0.00",
        "failReason": "payee closed",
        "finishTime": "2024-05-01 09:00:00",
    },
    "beneficiaryResultNotify": {
        "userId": "U10001",
        "beneficiaryId": "BEN9",
        "merBeneficiaryNo": "MB9",
        "status": "SUCCESS",
    },
    "eddReplenishNotify": {
        "userId": "U10001",
        "replenishId": "RP9",
        "reason": "annual review",
        "requiredMaterials": ["Business licence"],
        "deadline": "2024-05-08 09:00:00",
    },
    "eddReplenishResultNotify": {"userId": "U10001", "replenishId": "RP8", "status": "PASS"},
    "tradeReplenishNotify": {
        "userId": "U10001",
        "replenishId": "RP7",
        "tradeType": "COLLECTION",
        "tradeId": "T7",
        "reason": "invoice",
        "requiredMaterials": ["Invoice"],
        "deadline": "2024-05-08 09:00:00",
    },
    "tradeReplenishResultNotify": {
        "userId": "U10001",
        "replenishId": "RP6",
        "tradeId": "T6",
        "status": "REJECT",
        "remark": "unreadable",
    },
    "userOnboardingResultNotify": {"userId": "U10002", "status": "PASS"},
    "userHolderResultNotify": {"userId": "U10002", "holderId": "H1", "status": "REJECT", "remark": "blurry"},
    "virtualAccountNotify": {"userId": "U10002", "virtualAccountNo": "700001000184002", "status": "ACTIVE"},
    "cardCancelResultNotify": {"userId": "U10002", "cardNo": "4111111111111111", "status": "SUCCESS"},
    "shopBindResultNotify": {"userId": "U10002", "shopId": "S1", "status": "SUCCESS"},
    "tradeOrderBindNotify": {"userId": "U10002", "tradeId": "T1", "status": "SUCCESS"},
    "connectivityNotify": {"message": "hello", "requestNo": "R1"},
}


def test_every_notification_kind_is_delivered_acknowledged_and_posted(stack: LocalStack) -> None:
    for api_code, body in EVERY_KIND.items():
        answer = stack.operator.post("/sandbox/notify", json={"apiCode": api_code, "body": body})
        assert answer.status_code == 200, answer.text
    done = stack.fake.wait_for(lambda: len(deliveries(stack)) >= len(EVERY_KIND) and deliveries(stack), timeout=TIMEOUT)
    assert {d["apiCode"] for d in done} == set(EVERY_KIND)
    assert all(d["outcome"] == "delivered" and d["attempt"] == 1 for d in done), done  # the profile's ack
    with stack.services.store.read() as db:
        stored = {row[0] for row in db.execute("SELECT api_code FROM inbox")}
    assert stored == set(EVERY_KIND)

    def relayed() -> bool:  # every one turned into Slack work (posts are paced per channel, so not awaited)
        with stack.services.store.read() as db:
            return db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0] == 0

    stack.fake.wait_for(relayed, timeout=TIMEOUT)
    stack.fake.wait_for(
        lambda: stack.fake.messages("C0COMPLIANCE") and stack.fake.messages("C0COLLECT"), timeout=TIMEOUT
    )


def test_a_changed_documents_request_from_the_sandbox_updates_its_card_and_a_resend_changes_nothing(
    stack: LocalStack,
) -> None:
    """Issue 9 item 7 at the real boundary: Whalet's signed deliveries, the real app, the Slack stand-in."""
    request = {
        "userId": "U10001",
        "replenishId": "RPE2E01",
        "reason": "Enhanced due diligence",
        "requiredMaterials": ["Business licence"],
        "deadline": "2030-05-03 09:30:00",
    }
    changed = {**request, "requiredMaterials": ["Business licence", "Bank statement"]}
    for sent, body in enumerate((request, changed, changed), start=1):  # the third: same content, new requestNo
        assert (
            stack.operator.post("/sandbox/notify", json={"apiCode": "eddReplenishNotify", "body": body}).status_code
            == 200
        )
        stack.fake.wait_for(
            lambda sent=sent: len([d for d in deliveries(stack) if d["outcome"] == "delivered"]) == sent,
            timeout=TIMEOUT,
        )  # in order: Whalet does not promise it
    card = stack.fake.wait_for(
        lambda: next(
            (
                m
                for m in stack.fake.messages("C0COMPLIANCE")
                if not m.is_reply and "Bank statement" in json.dumps(m.blocks)
            ),
            None,
        ),
        timeout=TIMEOUT,
    )
    reply = stack.fake.wait_for(
        lambda: next((m for m in stack.fake.messages("C0COMPLIANCE") if m.is_reply), None), timeout=TIMEOUT
    )
    assert card is not None and reply is not None
    assert "changed the documents request `RPE2E01`" in reply.text and "Bank statement" in json.dumps(card.blocks)

    def count(sql: str) -> int:
        with stack.services.store.read() as db:
            return int(db.execute(sql).fetchone()[0])

    assert count("SELECT COUNT(*) FROM inbox WHERE business_id = 'RPE2E01'") == 2
    stack.fake.wait_for(lambda: count("SELECT COUNT(*) FROM outbox WHERE state != 'done'") == 0, timeout=TIMEOUT)
    assert len(stack.fake.messages("C0COMPLIANCE")) == 2  # one card, one thread note; the re-send added nothing


def _todo_card(stack: LocalStack) -> Any:
    answer = stack.operator.post("/sandbox/replenish", json={"kind": "edd", "userId": "U10001"})
    assert answer.status_code == 200, answer.text
    return stack.fake.wait_for(lambda: stack.fake.messages("C0COMPLIANCE"), timeout=TIMEOUT)[0]


def test_a_viewer_cannot_take_a_to_do(stack: LocalStack) -> None:
    card = _todo_card(stack)
    assert stack.slack_requests.block_action("U0VIEW", card, action_id="replenish_take").status_code == 200
    told = stack.fake.wait_for(
        lambda: [r for r in stack.fake.responses() if "Taking a documents request" in r.text], timeout=TIMEOUT
    )
    assert "for requesters and above; your role is viewer" in told[0].text and told[0].response_type == "ephemeral"
    assert "replenish_take" in json.dumps(stack.fake.message("C0COMPLIANCE", card.ts).blocks)  # still open
    assert stack.slack_requests.block_action("U0REQ", card, action_id="replenish_take").status_code == 200
    stack.fake.wait_for(
        lambda: "<@U0REQ> is handling this" in json.dumps(stack.fake.message("C0COMPLIANCE", card.ts).blocks),
        timeout=TIMEOUT,
    )


def test_the_least_role_for_to_dos_is_configurable(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(
        DEMO_CONFIG.replace('alerts_channel = "C0ALERTS"', 'alerts_channel = "C0ALERTS"\ntodo_min_role = "approver"')
    )
    card = _todo_card(stack)
    stack.slack_requests.block_action("U0REQ", card, action_id="replenish_take")
    told = stack.fake.wait_for(
        lambda: [r for r in stack.fake.responses() if "Taking a documents request" in r.text], timeout=TIMEOUT
    )
    assert "for approvers and above; your role is requester" in told[0].text
