"""``POST /api``: Whalet's one gateway URL (protocol spec §1, §2, §4).

Order of checks, like a real gateway: JSON -> partnerId -> signature -> decrypt -> version ->
injected faults -> requestNo de-duplication -> the operation. Every answer is a response
envelope signed by Whalet, even refusals (an empty body when there is nothing to say).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from whalet.envelope import PROTOCOL_VERSION, EnvelopeCodec, MalformedEnvelope, SignatureInvalid, dumps_compact, loads_exact

from .faults import Faults, FaultRule
from .operations import CONFIRMS, OPERATIONS
from .state import State
from .wire import GatewayError

log = logging.getLogger(__name__)
SUCCESS_DETAIL = "成功"


class Gateway:
    def __init__(self, state: State, codec: EnvelopeCodec, partner_id: str, faults: Faults, latency_ms: int) -> None:
        self.state = state
        self.codec = codec
        self.partner_id = partner_id
        self.faults = faults
        self.latency_s = latency_ms / 1000

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        try:
            message = loads_exact(raw)
        except (ValueError, UnicodeDecodeError):
            message = None
        head = message.get("head") if isinstance(message, dict) else None
        if not isinstance(head, dict):  # nothing to echo, so no envelope either
            return PlainTextResponse("the message is not a JSON envelope with a head", status_code=400)
        if isinstance(head.get("partnerId"), str) and head["partnerId"] and head["partnerId"] != self.partner_id:
            return self._send(self._refuse(head, "PARTNER_NOT_EXIST", f"partner {head['partnerId']} does not exist"))
        try:
            opened = self.codec.decode_request(message)
        except SignatureInvalid:
            return self._send(self._refuse(head, "UNAUTHENTICATED_ERROR", "signature verification failed"))
        except MalformedEnvelope as exc:
            return self._send(self._refuse(head, "PARAMETER_ERROR", str(exc)))
        if opened.head["version"] != PROTOCOL_VERSION:
            return self._send(self._refuse(head, "PARAMETER_ERROR", f"version must be {PROTOCOL_VERSION}"))
        fault = self.faults.pick(opened.head["apiCode"], opened.head["requestNo"])
        early = await self._fault_before(fault, opened.head)
        if early is not None:
            return early
        answer = self.process(opened.head, opened.body)
        return await self._fault_after(fault, answer)

    def process(self, head: dict[str, str], body: Any) -> dict[str, Any]:
        """Synchronous, hence atomic within the loop: de-duplicate, run, remember the answer."""
        api_code, request_no = head["apiCode"], head["requestNo"]
        stored = self.state.answers.get(request_no)
        if stored is not None:
            if stored[0] == api_code and stored[1] == body:
                if api_code in CONFIRMS and isinstance(body, dict):
                    self.state.orders.count_replayed_confirm(str(body.get(CONFIRMS[api_code])))
                return stored[2]
            return self._refuse(head, "REQUEST_NO_NOT_UNIQUE", f"requestNo {request_no} was already used with other content")
        handler = OPERATIONS.get(api_code)
        try:
            if handler is None:
                raise GatewayError("INTERFACE_UNAUTHORIZED", f"apiCode {api_code} is not open to this partner")
            result = handler(self.state, self.state.body(body), head)
            answer = self.codec.encode_response(head, "SUCCESS", SUCCESS_DETAIL, result)
        except GatewayError as exc:
            answer = self._refuse(head, exc.code, exc.detail)
        except Exception:  # a sandbox bug must still look like Whalet: INTERNAL_ERROR, not a traceback
            log.exception("sandbox handler %s failed", api_code)
            return self._refuse(head, "INTERNAL_ERROR", "internal error")
        self.state.answers[request_no] = (api_code, body, answer)
        return answer

    def _refuse(self, head: dict[str, Any], code: str, detail: str) -> dict[str, Any]:
        return self.codec.encode_response(head, code, detail, None)

    @staticmethod
    def _send(answer: dict[str, Any], status: int = 200) -> Response:
        return Response(dumps_compact(answer), status_code=status, media_type="application/json; charset=utf-8")

    async def _fault_before(self, fault: FaultRule | None, head: dict[str, str]) -> Response | None:
        if fault is None:
            return None
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
        elif fault.kind == "timeout_before_apply":
            await asyncio.sleep(fault.seconds)
            return PlainTextResponse("gateway timeout (sandbox fault, nothing done)", status_code=504)
        elif fault.kind == "http_500":
            return PlainTextResponse("internal server error (sandbox fault, nothing done)", status_code=500)
        elif fault.kind == "too_many_requests":
            return self._send(self._refuse(head, "TOO_MANY_REQUESTS", "too many requests, slow down"))
        return None

    async def _fault_after(self, fault: FaultRule | None, answer: dict[str, Any]) -> Response:
        if fault is None:
            return self._send(answer)
        if fault.kind == "timeout_after_apply":
            await asyncio.sleep(fault.seconds)
        elif fault.kind == "http_500_after_apply":
            return PlainTextResponse("internal server error (sandbox fault, operation done)", status_code=500)
        elif fault.kind == "bad_signature":
            sign = bytearray(base64.b64decode(answer["head"]["sign"]))
            sign[0] ^= 0xFF
            answer = {"head": {**answer["head"], "sign": base64.b64encode(bytes(sign)).decode()}, "body": answer["body"]}
        return self._send(answer)
