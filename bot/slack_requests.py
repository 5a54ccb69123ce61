"""What every Slack request leaves behind, whichever way it came (HTTP or Socket Mode).

One log event (``slack_request``: kind, user, status, duration and a correlation id: the request
id an approval button carries, else the trigger id; never the typed text) and one observation of
the time to the ack. Also the guard for bodies Bolt cannot parse: Bolt parses before it verifies
the signature and answers such a body with a 500, so the HTTP route screens every request first
(``screen_http_request``: a capped read, the signature, then a depth-bounded parse).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect, Request

from core.clock import SYSTEM_CLOCK
from core.http_body import MAX_BODY_BYTES, TooLarge, read_capped
from whalet.envelope import loads_exact

if TYPE_CHECKING:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest

    from services.container import Services

log = logging.getLogger("whalet_bot")


def parse_http_body(body: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    """(the request, or why it cannot be read). The ONE parse of a Slack request: the door
    decides on it and Bolt is handed the same dict (``bolt_request``), so no word a user types
    (Bolt's own parser treats any body containing "payload" as an interaction) changes routing."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            parsed = loads_exact(text) if text else {}
        elif text.lstrip().startswith("{"):  # Bolt would read JSON here whatever the header says
            return {}, "the body is JSON but its Content-Type says form data"
        else:
            form = parse_qs(text)
            if "payload" in form:
                parsed = loads_exact(form["payload"][0])
            else:
                parsed = {key: values[0] for key, values in form.items()}
    except (UnicodeDecodeError, ValueError):  # loads_exact: any nesting gives ValueError, never RecursionError
        return {}, "the body is not UTF-8 form data / JSON"
    if not isinstance(parsed, dict):
        return {}, "the payload is not a JSON object"
    return parsed, None


@dataclass(frozen=True)
class Screened:
    """A Slack HTTP request that passed the door: its raw body and what it says."""

    raw: bytes
    parsed: dict[str, Any]


def bolt_request(request: Any, screened: Screened) -> Any:
    """Bolt's request for a screened HTTP request, with the door's parse as its body (Bolt's
    signature check still reads the raw bytes)."""
    bolt = to_async_bolt_request(request, screened.raw)
    bolt.body = screened.parsed
    bolt.context = build_async_context(AsyncBoltContext({}), screened.parsed)
    return bolt


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


async def screen_http_request(request: Request, verifier: SignatureVerifier) -> Screened | Refusal:
    """Read at most 1 MiB, check Slack's signature, THEN parse: nobody without the signing
    secret gets more than a bounded read and an HMAC out of us. (Bolt checks the signature
    too, but only after reading the whole body and parsing it.)"""
    try:
        raw = await read_capped(request)
    except TooLarge:
        return Refusal(413, f"body larger than {MAX_BODY_BYTES} bytes")
    except ClientDisconnect:
        return Refusal(400, "client went away")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "the body is not UTF-8")
    headers = request.headers
    try:  # a non-numeric timestamp or a non-ASCII signature raises inside slack_sdk
        signed = verifier.is_valid(text, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature"))
    except (ValueError, TypeError):
        signed = False
    if not signed:
        return Refusal(401, "invalid request")
    parsed, problem = parse_http_body(raw, headers.get("content-type", ""))
    if problem:  # Bolt would answer such a body with a 500
        return Refusal(400, problem)
    return Screened(raw, parsed)


def describe(request: dict[str, Any]) -> dict[str, Any]:
    """kind, user and correlation id of a slash command, an interaction payload or an event."""
    if "command" in request:
        return {"kind": "command", "user": request.get("user_id"), "correlation_id": _trace(request.get("trigger_id"))}
    event = request.get("event")
    if request.get("type") == "event_callback" and isinstance(event, dict):  # e.g. app_home_opened
        who = event.get("user")
        return {
            "kind": f"event {event.get('type')}",
            "user": who if isinstance(who, str) else None,
            "correlation_id": request.get("event_id"),
        }
    actions = request.get("actions")
    first: dict[str, Any] = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    user: dict[str, Any] = request["user"] if isinstance(request.get("user"), dict) else {}
    value = first.get("value") if isinstance(first.get("value"), str) else None
    return {
        "kind": str(request.get("type") or "request"),
        "user": user.get("id"),
        "correlation_id": value if value and value.startswith(("PO-", "PY-")) else _trace(request.get("trigger_id")),
    }


def _trace(trigger_id: Any) -> str | None:
    """A correlation id for one Slack request that is not its trigger_id: a trigger_id opens a
    modal as the user for a few seconds, so it never goes into a log."""
    if not isinstance(trigger_id, str) or not trigger_id:
        return None
    return "t-" + hashlib.sha256(trigger_id.encode()).hexdigest()[:16]


def record(services: Services, request: dict[str, Any], status: int, started: float, transport: str) -> None:
    elapsed = time.perf_counter() - started
    services.metrics.ack_seconds.observe(elapsed)
    fields = describe(request)
    log.info(
        "slack %s answered %s",
        fields["kind"],
        status,
        extra={
            "event": "slack_request",
            "status": status,
            "user": fields["user"],
            "transport": transport,
            "correlation_id": fields["correlation_id"],
            "duration_ms": round(elapsed * 1000, 1),
        },
    )


class ObservedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, plus the same log event and ack timing as the HTTP route."""

    services: Services
    connecting: asyncio.Task[None]

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        response = await run_async_bolt_app(self.app, req)
        await send_async_response(client, req, response, SYSTEM_CLOCK.now().timestamp())
        payload = req.payload if isinstance(req.payload, dict) else {}
        record(self.services, payload, response.status, started, "socket_mode")
