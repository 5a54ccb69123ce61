"""The v1 webhook: HMAC signature, partner id and the 5-minute window are checked before anything is stored."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from devkit.localstack import LocalStack

BODY = {
    "userId": "U10001",
    "collectionId": "CV1",
    "virtualAccountNo": "700001000184001",
    "fundSource": "B2C",
    "currency": "USD",
    "amount": "10.00",
    "payerName": "Initech",
    "receivedTime": "2024-05-01 09:00:00",
    "status": "SUCCESS",
}


@pytest.fixture
def whalet_protocol() -> str:
    return "v1"


def signed(stack: LocalStack, request_no: str, **changes: Any) -> tuple[bytes, dict[str, str]]:
    wire = stack.sandbox.notify_wire
    raw = wire.encode("collectionReceivedNotify", request_no, BODY)
    return raw, {**wire.headers("collectionReceivedNotify", request_no, raw), **changes}


def post(stack: LocalStack, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    return stack.http.post("/whalet/webhook", content=raw, headers=headers)


def stored(stack: LocalStack) -> int:
    with stack.services.store.read() as db:
        return int(db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])


def test_the_hmac_is_checked_before_a_byte_of_json_is_parsed(stack: LocalStack) -> None:
    """An unsigned body is never parsed: a megabyte of nested JSON or plain garbage without the
    right signature is a 401, not the 400 (or the quarter second of parsing) it used to cost."""
    raw, headers = signed(stack, "WNV1P")
    for body in (b"not json at all", b"[" * 500_000 + b"]" * 500_000):
        assert post(stack, body, headers).status_code == 401
    assert stored(stack) == 0


def test_refusals_store_nothing_and_a_good_one_is_stored_then_acknowledged(stack: LocalStack) -> None:
    raw, headers = signed(stack, "WNV1A")
    without = {k: v for k, v in headers.items() if k != "sign"}
    assert post(stack, raw, without).status_code == 401
    assert post(stack, raw, {**headers, "sign": "0" * 64}).status_code == 401
    assert post(stack, raw.replace(b"10.00", b"99.00"), headers).status_code == 401  # body changed after signing
    other_raw, other = signed(stack, "WNV1B")
    other_sign = stack.sandbox.notify_wire.recipe.signature(
        stack.sandbox.v1_credentials.hmac_key,
        "{partnerId}{requestNo}{timestamp}{body}",
        {"partnerId": "POTHER", "requestNo": "WNV1B", "timestamp": other["timestamp"], "body": other_raw.decode()},
    )
    assert post(stack, other_raw, {**other, "partnerId": "POTHER", "sign": other_sign}).status_code == 400
    stale_stamp = str(int((time.time() - 301) * 1000))
    stale_sign = stack.sandbox.notify_wire.recipe.signature(
        stack.sandbox.v1_credentials.hmac_key,
        "{partnerId}{requestNo}{timestamp}{body}",
        {"partnerId": "PDEMO0001", "requestNo": "WNV1C", "timestamp": stale_stamp, "body": raw.decode()},
    )
    assert (
        post(stack, raw, {**headers, "requestNo": "WNV1C", "timestamp": stale_stamp, "sign": stale_sign}).status_code
        == 400
    )
    assert stored(stack) == 0

    answer = post(stack, raw, headers)
    assert answer.status_code == 200 and json.loads(answer.content) == {"code": "SUCCESS", "message": "成功"}
    assert stored(stack) == 1
    assert post(stack, raw, headers).status_code == 200 and stored(stack) == 1  # a retry: acked, stored once


def test_a_character_moved_between_signed_parts_or_a_relabelled_type_is_refused(stack: LocalStack) -> None:
    """The signed string joins partnerId, requestNo, timestamp and body without separators, and
    notifyType is not signed: moving the trailing 0 of requestNo to the front of the timestamp
    kept the signature valid, and relabelling the collection posted a trade-order binding."""
    raw, headers = signed(stack, "WNV1S0")
    moved = {**headers, "requestNo": "WNV1S", "timestamp": "0" + headers["timestamp"]}
    assert post(stack, raw, moved).status_code == 400
    assert post(stack, raw, {**moved, "notifyType": "tradeOrderBindNotify"}).status_code == 400
    relabelled = {**headers, "notifyType": "tradeOrderBindNotify"}
    answer = post(stack, raw, relabelled)
    assert answer.status_code == 400 and "not a tradeOrderBindNotify" in answer.json()["error"]
    assert stored(stack) == 0
    assert post(stack, raw, headers).status_code == 200 and stored(stack) == 1


def test_the_same_notification_signed_again_under_a_new_request_no_is_stored_once(stack: LocalStack) -> None:
    first_raw, first = signed(stack, "WNV1R1")
    again_raw, again = signed(stack, "WNV1R2")
    assert post(stack, first_raw, first).status_code == 200
    assert post(stack, again_raw, again).status_code == 200  # acknowledged, so Whalet stops
    assert stored(stack) == 1
