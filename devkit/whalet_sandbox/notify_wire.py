"""How a notification travels in each profile, and which webhook answer counts as "delivered".

Legacy (spec §5): a request-shaped envelope signed by Whalet; the answer Whalet waits for is, by
default, a response envelope signed by the partner that echoes the ``requestNo`` and says SUCCESS
(or HTTP 200 ``{}`` / the text ``SUCCESS``, by setting). REST v1 (spec §9): the business JSON itself
with HMAC-signed headers, a fresh ``timestamp`` (and so a fresh signature) on every attempt, the
same ``requestNo``; delivered on HTTP 200 and the configured answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from whalet.envelope import EnvelopeCodec, EnvelopeError, dumps_compact, loads_exact

from .v1_gateway import plain_money
from .v1_recipe import SandboxV1Recipe, V1Credentials

JSON = "application/json; charset=utf-8"


class NotifyWire(Protocol):
    def encode(self, api_code: str, request_no: str, body: dict[str, Any]) -> bytes: ...

    def headers(self, api_code: str, request_no: str, payload: bytes) -> dict[str, str]: ...

    def judge(self, request_no: str, response: httpx.Response) -> tuple[str, str]: ...


def _simple_answer(style: str, response: httpx.Response) -> tuple[str, str]:
    if style == "text":
        ok = response.text.strip() == "SUCCESS"
        return ("delivered", "") if ok else ("not_acked", f"answer {response.text[:60]!r} is not SUCCESS")
    try:
        answer = loads_exact(response.content)
    except (ValueError, UnicodeDecodeError):
        return "bad_ack", "the answer is not JSON"
    if style == "empty_json":
        return ("delivered", "") if answer == {} else ("not_acked", "the answer is not {}")
    if not isinstance(answer, dict) or answer.get("code") != "SUCCESS":
        return "not_acked", f"code {answer.get('code') if isinstance(answer, dict) else answer!r}"
    return "delivered", ""


class LegacyNotifyWire:
    def __init__(self, codec: EnvelopeCodec, partner_id: str, answer: str = "envelope") -> None:
        self.codec = codec
        self.partner_id = partner_id
        self.answer = answer

    def encode(self, api_code: str, request_no: str, body: dict[str, Any]) -> bytes:
        return dumps_compact(self.codec.encode_request(self.partner_id, api_code, request_no, body)).encode()

    def headers(self, api_code: str, request_no: str, payload: bytes) -> dict[str, str]:
        return {"Content-Type": JSON}

    def judge(self, request_no: str, response: httpx.Response) -> tuple[str, str]:
        if response.status_code != 200:
            return "http_error", response.text[:200]
        if self.answer != "envelope":
            return _simple_answer("empty_json" if self.answer == "json" else "text", response)
        try:
            ack = self.codec.decode_response(response.content)
        except EnvelopeError as exc:
            return "bad_ack", str(exc)
        if ack.head.get("requestNo") != request_no:
            return "bad_ack", f"ack echoes requestNo {ack.head.get('requestNo')!r}"
        if ack.head.get("code") != "SUCCESS":
            return "not_acked", f"code {ack.head.get('code')}: {ack.head.get('detail', '')}"
        return "delivered", ""


class V1NotifyWire:
    def __init__(
        self, recipe: SandboxV1Recipe, credentials: V1Credentials, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.recipe = recipe
        self.credentials = credentials
        self.wall_clock = wall_clock

    def encode(self, api_code: str, request_no: str, body: dict[str, Any]) -> bytes:
        return dumps_compact(plain_money(body)).encode()

    def headers(self, api_code: str, request_no: str, payload: bytes) -> dict[str, str]:
        stamp = self.recipe.stamp(self.wall_clock())
        values = {
            "partnerId": self.credentials.partner_id,
            "requestNo": request_no,
            "timestamp": stamp,
            "notifyType": api_code,
            "body": payload.decode(),
        }
        sign = self.recipe.signature(self.credentials.hmac_key, self.recipe.webhook_sign_template, values)
        return {
            "Content-Type": JSON,
            "partnerId": self.credentials.partner_id,
            "requestNo": request_no,
            "timestamp": stamp,
            "notifyType": api_code,
            self.recipe.webhook_sign_header: sign,
        }

    def judge(self, request_no: str, response: httpx.Response) -> tuple[str, str]:
        if response.status_code != 200:
            return "http_error", response.text[:200]
        return _simple_answer(self.recipe.webhook_answer, response)
