"""The legacy profile: every call an RSA-signed, AES-encrypted envelope POSTed to one gateway URL.

Spec §1-2 and §5; the provisional details are the codec's ``LegacyRecipe``. An answer is trusted
only when its signature verifies with Whalet's key and its head echoes our partnerId, apiCode and
requestNo; anything else is OutcomeUnknown, because a forged or mixed-up "SUCCESS" must never be
read as "paid".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from whalet.envelope import (
    EnvelopeCodec,
    EnvelopeError,
    Opened,
    SignatureInvalid,
    dumps_compact,
)
from whalet.errors import OutcomeUnknown, RequestNotSent
from whalet.operations import Operation
from whalet.transport.base import (
    AmountStyle,
    NotificationAnswer,
    Poster,
    Transport,
    accepted,
)

log = logging.getLogger("whalet.client")
JSON = "application/json; charset=utf-8"


class LegacyTransport(Transport):
    profile = "legacy"
    # The signature is inside the JSON, so a webhook body is parsed before its sender is known:
    # capped at 64 KiB, some thirty times the largest notification Whalet sends (a collection
    # with every optional field is under 2 KiB once signed and encrypted).
    unauthenticated_body_limit = 64 * 1024

    def __init__(self, base_url: str, partner_id: str, codec: EnvelopeCodec, *, amounts: AmountStyle = "number"):
        self.base_url = base_url
        self.partner_id = partner_id
        self.codec = codec
        self.amounts = amounts

    def with_codec(self, codec: EnvelopeCodec) -> LegacyTransport:
        return LegacyTransport(self.base_url, self.partner_id, codec, amounts=self.amounts)

    async def exchange(self, post: Poster, op: Operation, api_code: str, request_no: str, body: Any) -> Opened:
        try:
            message = self.codec.encode_request(self.partner_id, api_code, request_no, self.prepare_body(body))
            payload = dumps_compact(message).encode("utf-8")
        except (EnvelopeError, TypeError, ValueError) as exc:
            raise RequestNotSent(
                f"cannot encode {op.name}: {exc}", transient=False, api_code=api_code, request_no=request_no
            ) from exc
        response = await post(self.base_url, payload, {"Content-Type": JSON}, api_code=api_code, request_no=request_no)
        return accepted(self._open(op, response, api_code, request_no), response.status_code, op, api_code)

    def _open(self, op: Operation, response: httpx.Response, api_code: str, request_no: str) -> Opened:
        where: dict[str, Any] = {"api_code": api_code, "request_no": request_no}
        if response.status_code >= 500:
            raise OutcomeUnknown(f"{op.name}: HTTP {response.status_code} from Whalet", lost_in_transit=True, **where)
        try:
            opened = self.codec.decode_response(response.content)
        except EnvelopeError as exc:
            if isinstance(exc, SignatureInvalid):  # forged, corrupted or a key rotation we missed: a person must look
                log.error(
                    "Whalet's answer to %s does not verify with Whalet's public key; outcome unknown",
                    op.name,
                    extra={
                        "event": "whalet_bad_signature",
                        "operation": op.name,
                        "request_no": request_no,
                        "api_code": api_code,
                    },
                )
            raise OutcomeUnknown(
                f"{op.name}: untrustworthy answer (HTTP {response.status_code}): {exc}",
                signature_failed=isinstance(exc, SignatureInvalid),
                **where,
            ) from exc
        expected = {"partnerId": self.partner_id, "apiCode": api_code, "requestNo": request_no}
        wrong = [name for name, value in expected.items() if opened.head.get(name) != value]
        if wrong:
            raise OutcomeUnknown(f"{op.name}: the answer's {', '.join(wrong)} do not match our request", **where)
        return opened

    # --- the webhook ---------------------------------------------------------------------------

    def open_notification(self, headers: Mapping[str, str], raw: bytes, parsed: Any) -> Opened:
        return self.codec.decode_notification(parsed if isinstance(parsed, dict) else raw)

    def answer_notification(self, head: Mapping[str, str]) -> NotificationAnswer:
        style = self.codec.recipe.webhook_answer
        if style == "json":
            return NotificationAnswer(200, b"{}", "application/json")
        if style == "text":
            return NotificationAnswer(200, b"SUCCESS", "text/plain; charset=utf-8")
        return NotificationAnswer(
            200, dumps_compact(self.codec.encode_ack(dict(head))).encode("utf-8"), "application/json"
        )
