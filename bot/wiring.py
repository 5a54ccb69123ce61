"""Assemble the process: services, the Bolt app and one Starlette app serving every route.

`whalet-bot run`, the demo, the console and the tests all build the process through
`build_runtime`, so what the tests exercise is what production runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.alerts import Alerts
from bot.app import build_bolt_app, build_slack_client
from bot.clock import Clock
from bot.config import BotConfig
from bot.metrics import CONTENT_TYPE, Metrics
from bot.services import Services
from bot.settings import Settings
from bot.store import Store
from whalet.client import WhaletClient
from whalet.envelope import EnvelopeCodec

log = logging.getLogger("whalet_bot")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class Runtime:
    services: Services
    bolt: AsyncApp
    asgi: Starlette


def build_services(settings: Settings, config: BotConfig, clock: Clock | None = None) -> Services:
    from notifications.outbox import OutboxWorker

    codec = EnvelopeCodec(settings.partner_private_key(), settings.whalet_public_key())
    store = Store(settings.whalet_bot_db)
    metrics = Metrics()
    alerts = Alerts()
    services = Services(
        settings=settings,
        config=config,
        store=store,
        whalet=WhaletClient(
            settings.whalet_base_url, settings.whalet_partner_id, codec, api_codes=config.whalet.api_codes,
            on_call=alerts.whalet_call, timeout=settings.whalet_timeout_seconds,
            max_connections=settings.whalet_max_connections,
        ),
        whalet_codec=codec,
        slack=build_slack_client(settings),
        slack_outbox=build_slack_client(settings, retries=False),
        clock=clock or Clock(),
        metrics=metrics,
    )
    services.outbox = OutboxWorker(services)
    metrics.attach(services)
    alerts.services = services
    return services


def build_runtime(settings: Settings, config: BotConfig, clock: Clock | None = None) -> Runtime:
    import commands
    import notifications

    services = build_services(settings, config, clock)
    bolt = build_bolt_app(services)
    slack_handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        with services.metrics.ack_seconds.time():
            fields, problem = _parse_slack_body(await request.body(), request.headers.get("content-type", ""))
            if problem:  # Bolt parses before it verifies, and answers such a body with a 500
                log.warning("slack request refused: %s", problem, extra={"event": "slack_bad_request"})
                return JSONResponse({"error": problem}, status_code=400)
            response = await slack_handler.handle(request)
        log.info("slack %s answered %s", fields.get("kind"), response.status_code, extra={
            "event": "slack_request", "status": response.status_code, "user": fields.get("user"),
            "correlation_id": fields.get("correlation_id"),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        return response

    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if not services.settings.whalet_bot_metrics_public and client not in LOOPBACK:
            return JSONResponse({"error": "metrics are served to loopback only"}, status_code=403)
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        loops = services.supervisor.running()
        healthy = all(loops.values())
        return JSONResponse({"ok": healthy, "loops": loops}, status_code=200 if healthy else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.scheduler = AsyncIOScheduler(timezone="UTC")
        assert services.outbox is not None
        services.supervisor.add("outbox", services.outbox.run)
        commands.start(services)
        notifications.start(services)
        services.scheduler.start()
        await services.supervisor.start()
        socket_mode = None
        try:  # a failed Socket Mode start still stops what was started above
            socket_mode = await _start_socket_mode(services, bolt)
            log.info("whalet-bot started", extra={"event": "startup"})
            yield
        finally:
            if socket_mode is not None:
                await socket_mode.close_async()
            services.scheduler.shutdown(wait=False)
            await services.supervisor.stop()
            await services.whalet.aclose()
            services.store.close()
            log.info("whalet-bot stopped", extra={"event": "shutdown"})

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *notifications.routes(services),
    ]
    asgi = Starlette(routes=routes, lifespan=lifespan)
    return Runtime(services=services, bolt=bolt, asgi=asgi)


def _parse_slack_body(body: bytes, content_type: str) -> tuple[dict[str, str | None], str | None]:
    """(fields for the request's log event, or why Bolt could not parse this body: it would crash).

    Slack sends form fields, with interactions as a JSON object in ``payload``; events as a JSON
    object. The log event names the kind, the user and a correlation id (the request id an
    approval button carries, else the trigger id); never the typed text.
    """
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            form: dict[str, list[str]] = {}
            parsed = json.loads(text) if text else {}
        else:
            form = parse_qs(text)
            parsed = json.loads(form["payload"][0]) if "payload" in form else {}
    except (UnicodeDecodeError, ValueError):
        return {}, "the body is not UTF-8 form data / JSON"
    if not isinstance(parsed, dict):
        return {}, "the payload is not a JSON object"
    if "command" in form:
        return {"kind": "command", "user": form.get("user_id", [None])[0],
                "correlation_id": form.get("trigger_id", [None])[0]}, None
    actions = parsed.get("actions")
    first: dict[str, Any] = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    user: dict[str, Any] = parsed["user"] if isinstance(parsed.get("user"), dict) else {}
    value = first.get("value") if isinstance(first.get("value"), str) else None
    return {"kind": str(parsed.get("type") or "request"), "user": user.get("id"),
            "correlation_id": value if value and value.startswith(("PO-", "PY-")) else parsed.get("trigger_id")}, None


async def _start_socket_mode(services: Services, bolt: AsyncApp):  # type: ignore[no-untyped-def]
    """With SLACK_APP_TOKEN, Slack's requests arrive over a websocket; HTTP still serves the webhook."""
    token = services.settings.slack_app_token
    if token is None:
        return None
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.errors import SlackApiError

    handler = AsyncSocketModeHandler(bolt, token.get_secret_value())
    try:
        # Ask for the WebSocket URL once ourselves: inside connect_async() slack_sdk retries a
        # refused token every 10 s forever, and start-up would hang without serving HTTP either.
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as error:
        await handler.close_async()
        raise RuntimeError(f"Slack refused SLACK_APP_TOKEN for Socket Mode: {error.response.get('error')}") from None
    await handler.connect_async()
    log.info("connected to Slack in Socket Mode")
    return handler
