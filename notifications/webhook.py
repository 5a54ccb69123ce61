"""`POST /whalet/webhook`: verify, decrypt, store, THEN acknowledge (protocol spec §5, §9).

The profile's transport (``services.whalet.protocol``) verifies and reads the request and writes
the acknowledgement in its own shape (legacy: a signed envelope; v1: HMAC-signed headers, partner
id and a 5-minute timestamp window, then ``{"code": "SUCCESS"}``); the rest is the same for both.

The order is the whole point. Whalet retries anything we do not acknowledge, so the ack is our
promise that the notification is durable: it is written only after the inbox row is committed
(``synchronous=FULL``; concurrent requests share one commit, see ``ingest``). A duplicate is acknowledged too (Whalet must stop retrying) but stored
once. No Slack or Whalet call happens on this path, so Slack being slow never makes Whalet
retry; the relay loop is woken after the commit and does the rest.

Answers: 200 + signed SUCCESS ack; 401 bad signature (logged, nothing stored); 400 not JSON,
missing or over-long head fields, an undecryptable body, or addressed to another partner;
413 body over 1 MiB (Content-Length checked first, then counted while reading: core/http_body.py).
Anything that does not parse, whatever its nesting, is a 400 (``loads_exact`` bounds the depth).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.faultpoints import fault_point
from core.http_body import MAX_BODY_BYTES, TooLarge, read_capped
from notifications.ingest import InboxWriter
from notifications.routing import operation_name
from whalet.envelope import MalformedEnvelope, NumberOutOfBounds, SignatureInvalid, loads_exact

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.webhook")
PATH = "/whalet/webhook"


def _refuse(status: int, reason: str) -> Response:
    return JSONResponse({"error": reason}, status_code=status)


def webhook_endpoint(services: Services, writer: InboxWriter, wake: Callable[[], None]) -> Callable[[Request], object]:
    transport = services.whalet.protocol
    partner_id = services.settings.whalet_partner_id

    async def receive(request: Request) -> Response:
        try:
            raw = await read_capped(request)
        except TooLarge:
            return _refuse(413, f"body larger than {MAX_BODY_BYTES} bytes")
        except ClientDisconnect:
            return _refuse(400, "client went away")
        try:
            message = loads_exact(raw)
        except NumberOutOfBounds as exc:
            return _refuse(400, str(exc))
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "body is not JSON")
        if not isinstance(message, dict):
            return _refuse(400, "body is not a JSON object")
        try:
            opened = transport.open_notification(request.headers, raw, message)
        except SignatureInvalid:
            head = (
                message.get("head")
                if "head" in message
                else {"apiCode": request.headers.get("notifyType"), "requestNo": request.headers.get("requestNo")}
            )
            log.warning(
                "webhook refused: bad signature",
                extra={
                    "event": "webhook_bad_signature",
                    "client": request.client.host if request.client else "?",
                    "api_code": str(head.get("apiCode"))[:30] if isinstance(head, dict) else None,
                    "request_no": str(head.get("requestNo"))[:30] if isinstance(head, dict) else None,
                },
            )
            services.metrics.webhook_receipts.labels("unverified", "bad_signature").inc()
            return _refuse(401, "signature does not verify")
        except MalformedEnvelope as exc:
            # One answer for every way a message fails to open: telling a sender *which* step of
            # unwrapping keyEnc or the body failed would be a decryption oracle. Details go to the log.
            log.warning("webhook refused: %s", exc, extra={"event": "webhook_malformed"})
            services.metrics.webhook_receipts.labels("unverified", "malformed").inc()
            return _refuse(400, "malformed notification envelope")
        head = opened.head
        if head["partnerId"] != partner_id:
            log.warning("webhook refused: addressed to partner %s", head["partnerId"][:30])
            return _refuse(400, "notification is addressed to another partner")
        operation = operation_name(services.config, head["apiCode"])
        stored = await writer.store(head, opened.body, operation)  # returns after the commit
        # committed: only now may Whalet hear that we have it
        fault_point("webhook.stored")
        if stored.new:
            wake()
        log.info(
            "webhook stored" if stored.new else "webhook duplicate acked",
            extra={
                "event": "webhook_stored" if stored.new else "webhook_duplicate",
                "api_code": head["apiCode"],
                "request_no": head["requestNo"],
                "correlation_id": stored.correlation_id,
            },
        )
        # Label by the spec's operation name: a bounded set, whatever apiCodes arrive.
        services.metrics.webhook_receipts.labels(operation or "other", "stored" if stored.new else "duplicate").inc()
        answer = transport.answer_notification(head)
        return Response(answer.content, status_code=answer.status, media_type=answer.media_type)

    return receive
