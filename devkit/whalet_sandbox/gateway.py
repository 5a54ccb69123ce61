"""``POST /api``: Whalet's one legacy gateway URL (protocol spec §1, §2, §4).

Order of checks, like a real gateway: JSON -> partnerId -> signature -> decrypt -> version ->
injected faults -> requestNo de-duplication -> the operation. Every answer is a response
envelope signed by Whalet, even refusals (an empty body when there is nothing to say).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from whalet.envelope import (
    PROTOCOL_VERSION,
    EnvelopeCodec,
    MalformedEnvelope,
    SignatureInvalid,
    dumps_compact,
    loads_exact,
)

from .dispatch import Dispatcher, Outcome, as_faulted, fault_after, fault_before, read_amounts
from .wire import GatewayError


class Gateway:
    def __init__(
        self, dispatcher: Dispatcher, codec: EnvelopeCodec, partner_id: str, latency_ms: int, amounts: str = "number"
    ) -> None:
        self.dispatcher = dispatcher
        self.amounts = amounts
        self.codec = codec
        self.partner_id = partner_id
        self.latency_s = latency_ms / 1000
        self._sealed: dict[str, tuple[Outcome, dict[str, Any]]] = {}  # requestNo -> the answer as first sealed

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
            return self._refuse(head, "PARTNER_NOT_EXIST", f"partner {head['partnerId']} does not exist")
        try:
            opened = self.codec.decode_request(message)
        except SignatureInvalid:
            return self._refuse(head, "UNAUTHENTICATED_ERROR", "signature verification failed")
        except MalformedEnvelope as exc:
            return self._refuse(head, "PARAMETER_ERROR", str(exc))
        if opened.head["version"] != PROTOCOL_VERSION:
            return self._refuse(head, "PARAMETER_ERROR", f"version must be {PROTOCOL_VERSION}")
        head = opened.head
        span = self.dispatcher.confirm_started(head["apiCode"], opened.body)
        try:
            return await self._operate(head, opened.body)
        finally:
            self.dispatcher.confirm_finished(span)

    async def _operate(self, head: dict[str, Any], raw_body: Any) -> Response:
        fault = self.dispatcher.faults.pick(head["apiCode"], head["requestNo"])
        early = await fault_before(fault, lambda code, detail: self._refuse(head, code, detail))
        if early is not None:
            return early
        try:
            body = read_amounts(raw_body, self.amounts)
        except GatewayError as exc:
            return self._refuse(head, exc.code, exc.detail)
        outcome = as_faulted(fault, self.dispatcher.process(head["apiCode"], head["requestNo"], body, head))
        sealed = self._sealed.get(head["requestNo"])
        if sealed is not None and sealed[0] is outcome:  # a replay: the very same bytes as the first time
            answer = sealed[1]
        else:
            answer = self.codec.encode_response(head, outcome.code, outcome.detail, outcome.result)
            self._sealed[head["requestNo"]] = (outcome, answer)
        return await fault_after(fault, lambda corrupt: self._send(_corrupted(answer) if corrupt else answer))

    def _refuse(self, head: dict[str, Any], code: str, detail: str) -> Response:
        return self._send(self.codec.encode_response(head, code, detail, None))

    @staticmethod
    def _send(answer: dict[str, Any], status: int = 200) -> Response:
        return Response(dumps_compact(answer), status_code=status, media_type="application/json; charset=utf-8")


def _corrupted(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with one character of ``sign`` changed (the ``bad_signature`` fault)."""
    sign = answer["head"]["sign"]
    flipped = ("B" if sign[0] == "A" else "A") + sign[1:]
    return {"head": {**answer["head"], "sign": flipped}, "body": answer["body"]}
