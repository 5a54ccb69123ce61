"""`POST /whalet/webhook`: verify, decrypt, store, THEN acknowledge (protocol spec §5, §9).

The profile's transport (``services.whalet.protocol``) verifies and reads the request and writes
the acknowledgement in its own shape (legacy: a signed envelope; v1: HMAC-signed headers, partner
id and a 5-minute timestamp window, then ``{"code": "SUCCESS"}``); the rest is the same for both.

The order is the whole point. Whalet retries anything we do not acknowledge, so the ack is our
promise that the notification is durable: it is written only after the inbox row is committed
(``synchronous=FULL``; concurrent requests share one commit, see ``ingest``). A duplicate is acknowledged too (Whalet must stop retrying) but stored
once. No Slack or Whalet call happens on this path, so Slack being slow never makes Whalet
retry; the relay loop is woken after the commit and does the rest.

Authentication comes first and costs little: v1's HMAC is checked over the raw bytes before any
JSON is parsed; a legacy envelope (its signature is inside the JSON) is capped at 64 KiB and
parsed and verified off the event loop, at most four at a time per source address and 64 more
waiting (``BeforeAuthentication``), so unsigned traffic cannot starve Slack's acks.

Answers: 200 + signed SUCCESS ack; 401 bad signature (logged, nothing stored); 400 not JSON,
missing or over-long head fields, an undecryptable body, or addressed to another partner;
413 body over the profile's limit (v1 1 MiB, legacy 64 KiB; Content-Length checked first, then
counted while reading: core/http_body.py); 503 + Retry-After when one address has 68 legacy
envelopes being opened or waiting already. Anything that does not parse, whatever its nesting, is a 400
(``loads_exact`` bounds the depth).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.faultpoints import fault_point
from core.http_body import TooLarge, read_capped
from notifications.ingest import InboxWriter
from notifications.kinds import looks_like_another
from notifications.routing import operation_name
from whalet.envelope import MalformedEnvelope, NumberOutOfBounds, Opened, SignatureInvalid, loads_exact
from whalet.transport.base import NotificationAnswer

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.webhook")
PATH = "/whalet/webhook"
T = TypeVar("T")


def _claimed_head(request: Request, exc: SignatureInvalid) -> dict[str, Any]:
    """What a refused sender claimed to be, for the log: the legacy head the worker thread read
    (``claimed``), or the v1 headers. Nothing is parsed again on the event loop."""
    claimed = getattr(exc, "claimed", None)
    if isinstance(claimed, dict):
        return claimed
    return {"apiCode": request.headers.get("notifyType"), "requestNo": request.headers.get("requestNo")}


def _refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


class NotJson(ValueError):
    """The body is not a JSON object (the reason is the message)."""


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        message = loads_exact(raw)
    except NumberOutOfBounds:
        raise
    except (ValueError, UnicodeDecodeError):
        raise NotJson("body is not JSON") from None
    if not isinstance(message, dict):
        raise NotJson("body is not a JSON object")
    return message


class BeforeAuthentication:
    """Work a sender makes us do before we know who it is (a profile that signs inside the JSON
    must be parsed and its RSA signature checked first) runs off the event loop, in two threads
    of its own, at most ``PER_SOURCE`` requests at a time per source address while the next
    ``QUEUE`` wait their turn (Whalet sends bursts; they wait, not fail); beyond that the source
    is told to come back. A flood of unsigned notifications can neither hold up Slack's
    3-second acks nor take every thread."""

    PER_SOURCE = 4
    QUEUE = 64

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="webhook-unverified")
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._waiting: Counter[str] = Counter()

    async def run(self, source: str, work: Callable[[], T]) -> T | None:
        """``work``'s result, or None when this source already has its fill in flight and queued."""
        if self._waiting[source] >= self.PER_SOURCE + self.QUEUE:
            return None
        self._waiting[source] += 1
        slots = self._slots.setdefault(source, asyncio.Semaphore(self.PER_SOURCE))
        try:
            async with slots:
                return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            self._waiting[source] -= 1
            if not self._waiting[source]:
                del self._waiting[source], self._slots[source]


def webhook_endpoint(services: Services, writer: InboxWriter, wake: Callable[[], None]) -> Callable[[Request], object]:
    transport = services.whalet.protocol
    partner_id = services.settings.whalet_partner_id
    gate = BeforeAuthentication()

    def open_unsigned(headers: Mapping[str, str], raw: bytes) -> tuple[Opened, NotificationAnswer]:
        """Opened and its signed ack, in one trip to the worker thread: the ack's RSA signature
        (a quarter of a millisecond) then never holds the event loop, and runs beside the next
        request's parsing. The ack is only *made* here; it is sent after the commit, as ever."""
        message = _parse(raw)
        try:
            opened = transport.open_notification(headers, raw, message)
        except SignatureInvalid as exc:
            head = message.get("head")
            exc.claimed = head if isinstance(head, dict) else {}  # type: ignore[attr-defined]
            raise
        return opened, transport.answer_notification(opened.head)

    async def receive(request: Request) -> Response:
        limit = transport.unauthenticated_body_limit
        try:
            raw = await read_capped(request, limit)
        except TooLarge:
            return _refuse(413, f"body larger than {limit} bytes")
        except ClientDisconnect:
            return _refuse(400, "client went away")
        try:
            if transport.signs_raw_body:  # v1: the HMAC over the bytes, before any parsing
                transport.authenticate(request.headers, raw)
                opened = transport.open_notification(request.headers, raw, _parse(raw))
                answer = transport.answer_notification(opened.head)  # no RSA in v1: cheap
            else:  # legacy: the signature is inside the JSON
                source = request.client.host if request.client else "?"
                found = await gate.run(source, functools.partial(open_unsigned, request.headers, raw))
                if found is None:
                    services.metrics.webhook_receipts.labels("unverified", "busy").inc()
                    return _refuse(503, "too many notifications at once from this address", {"Retry-After": "1"})
                opened, answer = found
        except (NumberOutOfBounds, NotJson) as exc:
            return _refuse(400, str(exc))
        except SignatureInvalid as exc:
            head = _claimed_head(request, exc)
            log.warning(
                "webhook refused: bad signature",
                extra={
                    "event": "webhook_bad_signature",
                    "client": request.client.host if request.client else "?",
                    "api_code": str(head.get("apiCode"))[:30],
                    "request_no": str(head.get("requestNo"))[:30],
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
        if not transport.signs_notification_type and (other := looks_like_another(operation, opened.body)):
            # v1 as Whalet documents it signs the body but not notifyType: a body that plainly is
            # another kind (a collection relabelled as a trade-order binding) is refused, not posted.
            log.warning("webhook refused: a %s body sent as %s", other, head["apiCode"][:30])
            services.metrics.webhook_receipts.labels("unverified", "malformed").inc()
            return _refuse(400, f"the body is not a {head['apiCode']} notification")
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
        return Response(answer.content, status_code=answer.status, media_type=answer.media_type)

    return receive
