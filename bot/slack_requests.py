"""What every Slack request leaves behind, whichever way it came (HTTP or Socket Mode).

One log event (``slack_request``: kind, user, status, duration and a correlation id: the request
id an approval button carries, else the trigger id; never the typed text) and one observation of
the time to the ack. Also the guard for bodies Bolt cannot parse: Bolt parses before it verifies
the signature and answers such a body with a 500, so the HTTP route refuses them with a 400.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response

if TYPE_CHECKING:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest

    from services.container import Services

log = logging.getLogger("whalet_bot")


def parse_http_body(body: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    """(the request as Bolt will see it, or why Bolt could not parse it)."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            parsed = json.loads(text) if text else {}
        else:
            form = parse_qs(text)
            if "payload" in form:
                parsed = json.loads(form["payload"][0])
            else:
                parsed = {key: values[0] for key, values in form.items()}
    except (UnicodeDecodeError, ValueError):
        return {}, "the body is not UTF-8 form data / JSON"
    if not isinstance(parsed, dict):
        return {}, "the payload is not a JSON object"
    return parsed, None


def describe(request: dict[str, Any]) -> dict[str, Any]:
    """kind, user and correlation id of a slash command or an interaction payload."""
    if "command" in request:
        return {"kind": "command", "user": request.get("user_id"), "correlation_id": request.get("trigger_id")}
    actions = request.get("actions")
    first: dict[str, Any] = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    user: dict[str, Any] = request["user"] if isinstance(request.get("user"), dict) else {}
    value = first.get("value") if isinstance(first.get("value"), str) else None
    return {"kind": str(request.get("type") or "request"), "user": user.get("id"),
            "correlation_id": value if value and value.startswith(("PO-", "PY-")) else request.get("trigger_id")}


def record(services: Services, request: dict[str, Any], status: int, started: float, transport: str) -> None:
    elapsed = time.perf_counter() - started
    services.metrics.ack_seconds.observe(elapsed)
    fields = describe(request)
    log.info("slack %s answered %s", fields["kind"], status, extra={
        "event": "slack_request", "status": status, "user": fields["user"], "transport": transport,
        "correlation_id": fields["correlation_id"], "duration_ms": round(elapsed * 1000, 1)})


class ObservedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, plus the same log event and ack timing as the HTTP route."""

    services: Services
    connecting: asyncio.Task[None]

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        response = await run_async_bolt_app(self.app, req)
        await send_async_response(client, req, response, time.time())
        payload = req.payload if isinstance(req.payload, dict) else {}
        record(self.services, payload, response.status, started, "socket_mode")
