"""Assemble the process: services, the Bolt app and one Starlette app serving every route.

`whalet-bot run`, the demo, the console and the tests all build the process through
`build_runtime`, so what the tests exercise is what production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import Feature, build_bolt_app, build_slack_client, close_slack_session, share_slack_session
from bot.slack_requests import ObservedSocketModeHandler, Refusal, bolt_request, record, screen_http_request
from commands import Commands
from core.clock import Clock
from core.config import BotConfig
from core.metrics import CONTENT_TYPE, Metrics
from core.settings import Settings
from core.storage.backend import open_store
from core.transport import build_transport
from notifications import Notifications
from services.container import Services
from services.slack.alerts import Alerts
from services.slack.membership import report_at_startup
from services.policy_record import record_at_start
from services.approvals.outcomes import WORKSPACE_FLAG
from services.slack.outbox import OutboxWorker
from whalet.client import WhaletClient
from whalet.envelope import EnvelopeCodec
from whalet.transport import LegacyTransport

log = logging.getLogger("whalet_bot")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class Runtime:
    services: Services
    bolt: AsyncApp
    asgi: Starlette


def build_services(
    settings: Settings,
    config: BotConfig,
    clock: Clock | None = None,
    whalet_transport: httpx.AsyncBaseTransport | None = None,
    codec: EnvelopeCodec | None = None,
) -> Services:
    """``whalet_transport``: an httpx transport for the Whalet client (tests run the sandbox's ASGI
    app in process through ``httpx.ASGITransport``); None is real HTTP. ``codec``: the legacy
    envelope codec when one was already built from the same keys (loading an RSA key takes ~60 ms);
    the policy file's ``[whalet.legacy]`` recipe is applied to it."""
    transport = build_transport(settings, config.whalet, codec)
    store = open_store(settings.database_url, settings.whalet_bot_db)
    metrics = Metrics()
    metrics.watch(store)
    slack_outbox = build_slack_client(settings, retries=False)
    outbox = OutboxWorker(store, slack_outbox, config.notifications, settings.whalet_bot_claim_lease_seconds)
    alerts = Alerts(store, config.notifications, metrics, outbox)
    services = Services(
        settings=settings,
        config=config,
        store=store,
        whalet=WhaletClient(
            transport.base_url,
            transport.partner_id,
            transport,
            api_codes=config.whalet.api_codes,
            on_call=alerts.whalet_call,
            timeout=settings.whalet_timeout_seconds,
            max_connections=settings.whalet_max_connections,
            transport=whalet_transport,
            backoff_base=settings.whalet_retry_backoff_seconds,
            money_enabled=config.whalet.money_enabled,
        ),
        whalet_codec=transport.codec if isinstance(transport, LegacyTransport) else None,
        slack=build_slack_client(settings),
        slack_outbox=slack_outbox,
        clock=clock or Clock(),
        metrics=metrics,
        outbox=outbox,
        alerts=alerts,
    )
    return services


def build_runtime(
    settings: Settings,
    config: BotConfig,
    clock: Clock | None = None,
    whalet_transport: httpx.AsyncBaseTransport | None = None,
    codec: EnvelopeCodec | None = None,
) -> Runtime:
    services = build_services(settings, config, clock, whalet_transport, codec)
    features: list[Feature] = [Commands(services), Notifications(services)]
    bolt = build_bolt_app(services, features)
    verifier = SignatureVerifier(settings.slack_signing_secret.get_secret_value())

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        screened = await screen_http_request(request, verifier)
        if isinstance(screened, Refusal):
            log.warning("slack request refused: %s", screened.reason, extra={"event": "slack_bad_request"})
            return JSONResponse({"error": screened.reason}, status_code=screened.status)
        response = to_starlette_response(await bolt.async_dispatch(bolt_request(request, screened)))
        record(services, screened.parsed, response.status_code, started, "http")
        return response

    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if not services.settings.whalet_bot_metrics_public and client not in LOOPBACK:
            return JSONResponse({"error": "metrics are served to loopback only"}, status_code=403)
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        loops = services.supervisor.running()
        failing = services.supervisor.failing()  # running, but crashing again and again
        paused = services.outbox.paused  # Slack refused us for good (uninstalled, token revoked)
        healthy = all(loops.values()) and not failing and paused is None
        answer: dict[str, object] = {"ok": healthy, "loops": loops}
        if failing:
            answer["failing"] = failing
        if paused is not None:
            answer["slack"] = f"paused: {paused}"
        elif services.outbox.outage_since is not None:  # the same for every replica: not a reason to pull this one
            answer["slack"] = f"unreachable since {services.outbox.outage_since.isoformat(timespec='seconds')}"
        return JSONResponse(answer, status_code=200 if healthy else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        clients = (services.slack, services.slack_outbox)
        session = share_slack_session(services.settings, *clients)  # here: inside the loop that serves the process
        try:
            services.scheduler = AsyncIOScheduler(timezone="UTC")
            services.supervisor.add("outbox", services.outbox.run)
            for feature in features:
                feature.start()
            services.scheduler.start()
            await services.supervisor.start()
            record_at_start(services)
            await report_at_startup(
                services.slack,
                services.config.all_channels(),
                services.alerts,
                on_workspace=_remember_workspace(services),
                locale=services.locales.channel(
                    services.config.notifications.alerts_channel or services.config.notifications.default_channel
                ),
            )
            socket_mode = None
            try:  # a failed Socket Mode start still stops what was started above
                socket_mode = await _start_socket_mode(services, bolt)
                log.info("whalet-bot started", extra={"event": "startup"})
                yield
            finally:
                if socket_mode is not None:
                    socket_mode.connecting.cancel()
                    await socket_mode.close_async()
                services.scheduler.shutdown(wait=False)
                await services.supervisor.stop()
                await services.whalet.aclose()
                await services.responder.close()
                services.store.close()
                log.info("whalet-bot stopped", extra={"event": "shutdown"})
        finally:
            await close_slack_session(session, *clients)  # after the outbox's and handlers' last call

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *(route for feature in features for route in feature.routes()),
    ]
    asgi = Starlette(routes=routes, lifespan=lifespan)
    return Runtime(services=services, bolt=bolt, asgi=asgi)


async def _start_socket_mode(services: Services, bolt: AsyncApp):  # type: ignore[no-untyped-def]
    """With SLACK_APP_TOKEN, Slack's requests arrive over a websocket; HTTP still serves the webhook."""
    token = services.settings.slack_app_token
    if token is None:
        return None
    from slack_sdk.errors import SlackApiError

    handler = ObservedSocketModeHandler(bolt, token.get_secret_value())
    handler.services = services
    try:
        # Ask for the WebSocket URL once ourselves: inside connect_async() slack_sdk retries a
        # refused token every 10 s forever, and start-up would hang without serving HTTP either.
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as error:
        await handler.close_async()
        raise RuntimeError(f"Slack refused SLACK_APP_TOKEN for Socket Mode: {error.response.get('error')}") from None

    async def connect() -> None:
        # In the background: a websocket that keeps failing must not keep the webhook, health
        # and metrics from being served (slack_sdk retries the connection itself).
        await handler.connect_async()
        log.info("connected to Slack in Socket Mode")

    handler.connecting = asyncio.create_task(connect(), name="socket-mode-connect")
    return handler


def _remember_workspace(services: Services) -> Callable[[str], None]:
    """Keep the workspace's address, so messages can link to a card (services.approvals.outcomes)."""

    def remember(url: str) -> None:
        with services.store.transaction() as db:
            services.store.set_flag(db, WORKSPACE_FLAG, url)

    return remember
