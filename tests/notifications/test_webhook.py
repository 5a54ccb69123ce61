"""POST /whalet/webhook over real HTTP: verify, store, then ack; refuse what cannot be trusted."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from concurrent.futures import ThreadPoolExecutor
import threading
from decimal import Decimal
from typing import Any

import pytest

from notifications.webhook import BeforeAuthentication
from tests.notifications.conftest import Harness
from whalet.envelope import loads_exact

COLLECTION = {
    "userId": "U10001",
    "collectionId": "COL0001",
    "virtualAccountNo": "6222020000001234",
    "fundSource": "B2C",
    "currency": "USD",
    "amount": {"amount": Decimal("1200.50"), "cent": 120050, "centFactor": 100, "currency": "USD"},
    "payerName": "Wayne Enterprises",
    "payerAccount": "GB29NWBK60161331926819",
    "receivedTime": "2024-05-01 09:29:00",
    "status": "SUCCESS",
}


def inbox_rows(h: Harness) -> list[dict]:  # type: ignore[type-arg]
    return h.rows("SELECT * FROM inbox ORDER BY id")


def test_valid_notification_is_stored_then_acked_with_a_signed_success(harness: Harness) -> None:
    message = harness.envelope("collectionReceivedNotify", COLLECTION, request_no="WN0000000001")
    response = harness.post(message)
    assert response.status_code == 200
    ack = harness.whalet.decode_response(response.content)  # verifies our signature
    assert ack.head["code"] == "SUCCESS" and ack.head["requestNo"] == "WN0000000001"
    assert ack.head["apiCode"] == "collectionReceivedNotify" and ack.body is None
    [row] = inbox_rows(harness)
    assert row["request_no"] == "WN0000000001"
    assert row["business_id"] == "COL0001" and row["status"] == "SUCCESS" and len(row["content_hash"]) == 64
    assert row["processed_at"] is None and row["received_at"] == "2024-05-01T01:30:00+00:00"
    body = loads_exact(row["body"])
    assert body["amount"]["amount"] == Decimal("1200.50") and isinstance(body["amount"]["amount"], Decimal)


def test_same_request_no_and_same_event_under_new_request_no_are_acked_once_stored(
    harness: Harness, database_url: str | None
) -> None:
    first = harness.envelope("collectionReceivedNotify", COLLECTION, request_no="WN1")
    assert harness.post(first).status_code == 200
    assert harness.post(first).status_code == 200  # Whalet's retry: same bytes
    again = harness.send("collectionReceivedNotify", COLLECTION, request_no="WN2")  # same event, new requestNo
    assert again.status_code == 200
    assert harness.whalet.decode_response(again.content).head["requestNo"] == "WN2"
    reordered = dict(reversed(list(COLLECTION.items())))  # same content, keys in another order
    assert harness.send("collectionReceivedNotify", reordered, request_no="WN2B").status_code == 200
    other_status = harness.send("collectionReceivedNotify", {**COLLECTION, "status": "REVERSED"}, request_no="WN3")
    assert other_status.status_code == 200
    assert [r["request_no"] for r in inbox_rows(harness)] == ["WN1", "WN3"]


def test_new_content_for_a_known_object_is_stored_even_when_the_status_returns(harness: Harness) -> None:
    """Issue 9 item 7: apiCode + business id + status is not the event; the content is."""
    request = {
        "userId": "U10001",
        "replenishId": "RP77",
        "reason": "EDD",
        "requiredMaterials": ["Licence"],
        "deadline": "2024-05-03 09:30:00",
    }
    account = {
        "userId": "U10001",
        "virtualAccountNo": "700001000184001",
        "status": "ACTIVE",
        "updateTime": "2024-05-01 09:00:00",
    }
    sent = [
        ("eddReplenishNotify", request),
        ("eddReplenishNotify", {**request, "requiredMaterials": ["Licence", "Bank statement"]}),
        ("virtualAccountNotify", account),
        ("virtualAccountNotify", {**account, "status": "FROZEN", "updateTime": "2024-05-01 10:00:00"}),
        ("virtualAccountNotify", {**account, "updateTime": "2024-05-01 11:00:00"}),  # ACTIVE again
        ("virtualAccountNotify", {**account, "updateTime": "2024-05-01 11:00:00"}),
    ]  # ...re-sent: a duplicate
    for index, (api_code, body) in enumerate(sent):
        assert harness.send(api_code, body, request_no=f"WNC{index}").status_code == 200
    assert [r["request_no"] for r in inbox_rows(harness)] == ["WNC0", "WNC1", "WNC2", "WNC3", "WNC4"]


async def test_twenty_copies_from_eight_senders_give_one_row_and_one_post(
    harness: Harness, database_url: str | None
) -> None:
    message = harness.envelope("collectionReceivedNotify", COLLECTION, request_no="WNCONCURRENT")
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: harness.post(message).status_code, range(20)))
    assert codes == [200] * 20
    assert len(inbox_rows(harness)) == 1
    await harness.relay()
    await harness.relay()
    posts = [r for r in harness.outbox() if r["op"] == "post"]
    assert [(p["channel"], p["kind"]) for p in posts] == [("C0COLLECT", "collection")]


def _tamper_sign(message: dict) -> dict:  # type: ignore[type-arg]
    raw = bytearray(base64.b64decode(message["head"]["sign"]))
    raw[10] ^= 0x01
    message["head"]["sign"] = base64.b64encode(bytes(raw)).decode()
    return message


def _tamper_body(message: dict) -> dict:  # type: ignore[type-arg]
    raw = bytearray(base64.b64decode(message["body"]["encrypt"]))
    raw[-1] ^= 0x01
    message["body"]["encrypt"] = base64.b64encode(bytes(raw)).decode()
    return message


def _set_head(field: str, value: str):  # type: ignore[no-untyped-def]
    def change(message: dict) -> dict:  # type: ignore[type-arg]
        message["head"][field] = value
        return message

    return change


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_sign,
        _tamper_body,
        _set_head("apiCode", "payoutResultNotify"),
        _set_head("requestNo", "WNOTHER"),
        _set_head("partnerId", "PEVIL"),
        _set_head("version", "1.1"),
    ],
    ids=["sign", "body", "apiCode", "requestNo", "partnerId", "version"],
)
def test_tampered_messages_get_401_and_nothing_is_stored(harness: Harness, tamper) -> None:  # type: ignore[no-untyped-def]
    message = tamper(copy.deepcopy(harness.envelope("collectionReceivedNotify", COLLECTION)))
    response = harness.post(message)
    assert response.status_code == 401
    assert inbox_rows(harness) == []


def test_notification_signed_by_another_key_is_refused(harness: Harness) -> None:
    from whalet.envelope import EnvelopeCodec, generate_key_pair, load_private_key, load_public_key

    private_pem, _ = generate_key_pair()
    impostor = EnvelopeCodec(
        load_private_key(private_pem), load_public_key(harness.services.settings.whalet_public_key_source)
    )
    message = impostor.encode_request("PDEMO0001", "collectionReceivedNotify", "WNFAKE", COLLECTION)
    assert harness.post(message).status_code == 401
    assert inbox_rows(harness) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1,2]",
        b'{"body": {}}',
        b'{"head": "x"}',
        json.dumps({"head": {"partnerId": "PDEMO0001", "apiCode": "x", "version": "1.0", "sign": "AA=="}}).encode(),
    ],
    ids=["text", "array", "no-head", "head-not-object", "no-requestNo"],
)
def test_malformed_bodies_and_missing_head_fields_get_400(harness: Harness, raw: bytes) -> None:
    assert harness.post(raw).status_code == 400
    assert inbox_rows(harness) == []


def test_missing_head_field_on_a_real_envelope_gets_400(harness: Harness) -> None:
    message = harness.envelope("collectionReceivedNotify", COLLECTION)
    del message["head"]["requestNo"]
    assert harness.post(message).status_code == 400
    assert inbox_rows(harness) == []


def test_other_partner_id_validly_signed_is_refused_with_400(harness: Harness) -> None:
    message = harness.envelope("collectionReceivedNotify", COLLECTION, partner_id="PSOMEONEELSE")
    assert harness.post(message).status_code == 400
    assert inbox_rows(harness) == []


def test_an_unsigned_legacy_envelope_over_64_kib_is_refused_unread(harness: Harness) -> None:
    """The legacy signature is inside the JSON, so a body is parsed before its sender is known:
    it is capped near the size of a real notification (before: up to 1 MiB was parsed)."""
    answer = harness.post(harness.envelope("collectionReceivedNotify", {**COLLECTION, "payerName": "x" * 70_000}))
    assert answer.status_code == 413 and "65536" in answer.json()["error"]
    assert inbox_rows(harness) == []


async def test_unsigned_envelopes_from_one_address_are_opened_four_at_a_time_and_the_rest_wait_or_are_sent_back() -> (
    None
):
    gate = BeforeAuthentication()
    release, running = threading.Event(), []

    def work() -> Any:
        running.append(1)
        release.wait(10)
        return "opened"

    first = [asyncio.create_task(gate.run("203.0.113.7", work)) for _ in range(gate.PER_SOURCE + gate.QUEUE)]
    await asyncio.sleep(0.2)
    assert len(running) <= gate.PER_SOURCE  # four at a time (and two threads), the rest wait their turn
    assert await gate.run("203.0.113.7", work) is None  # beyond the queue: come back later
    other = asyncio.create_task(gate.run("198.51.100.1", lambda: "other"))  # another address is not held up
    release.set()
    assert await other == "other"
    assert await asyncio.gather(*first) == ["opened"] * len(first)


def test_body_over_one_mebibyte_gets_413_even_without_content_length(harness: Harness) -> None:
    big = b'{"head": {}, "pad": "' + b"x" * (1 << 20) + b'"}'
    assert harness.post(big).status_code == 413

    def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = harness.http.post("/whalet/webhook", content=chunks())  # chunked: no length
    assert streamed.status_code == 413
    assert inbox_rows(harness) == []


def test_unknown_api_code_is_stored_and_acked(harness: Harness) -> None:
    response = harness.send("walletFrozenNotify", {"userId": "U10001", "cardNo": "4111111111111111"})
    assert response.status_code == 200
    [row] = inbox_rows(harness)
    assert row["api_code"] == "walletFrozenNotify" and row["business_id"] is None and row["content_hash"]


def test_ack_only_after_commit_a_failing_store_means_no_ack(harness: Harness) -> None:
    """If the row cannot be written, Whalet must not get SUCCESS (it will retry)."""
    with harness.services.store.transaction() as db:
        db.execute("CREATE TRIGGER inbox_full BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    response = harness.send("collectionReceivedNotify", COLLECTION)
    assert response.status_code == 500
    with harness.services.store.transaction() as db:
        db.execute("DROP TRIGGER inbox_full")
    assert inbox_rows(harness) == []


def test_a_seen_request_no_with_other_content_is_acked_kept_once_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    assert harness.send("collectionReceivedNotify", COLLECTION, request_no="WNSAME").status_code == 200
    with caplog.at_level("WARNING", logger="whalet_bot.inbox"):
        changed = harness.send(
            "collectionReceivedNotify", {**COLLECTION, "payerName": "Someone Else"}, request_no="WNSAME"
        )
    assert changed.status_code == 200
    [row] = inbox_rows(harness)
    assert "Wayne Enterprises" in row["body"]
    assert [r.__dict__.get("event") for r in caplog.records] == ["webhook_request_no_conflict"]
