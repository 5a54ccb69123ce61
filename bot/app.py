"""The Slack side of the process: the Web API clients, their one HTTP session, and the Bolt app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from services.container import Services
from core.settings import Settings


class Feature(Protocol):
    """A feature package as the process wires it: Slack listeners, HTTP routes, background work."""

    def register(self, app: AsyncApp) -> None: ...

    def routes(self) -> list[Route]: ...

    def start(self) -> None: ...


def build_slack_client(settings: Settings, *, retries: bool = True) -> AsyncWebClient:
    """A Web API client aimed at ``SLACK_API_BASE_URL`` (Slack itself, or the local stand-in).

    ``retries=False`` is for the outbox, which must see every 429 and every reset itself: a hidden
    retry after a reset could post the same message twice.
    """
    handlers = (
        [AsyncRateLimitErrorRetryHandler(max_retry_count=2), AsyncConnectionErrorRetryHandler(max_retry_count=2)]
        if retries
        else []
    )
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base_url,
        timeout=settings.slack_timeout_seconds,  # type: ignore[arg-type]  # without a session; aiohttp takes a float
        retry_handlers=handlers,
    )


def share_slack_session(settings: Settings, *clients: AsyncWebClient) -> aiohttp.ClientSession:
    """One keep-alive aiohttp session for every Web API client of the process; call it inside the
    running event loop (a session belongs to the loop it was made in) and close it at shutdown.

    Without a session slack_sdk opens a new one, so a new TCP and TLS connection, for every call:
    against Slack that handshake costs more than most calls themselves. Bolt builds a client per
    request from the app's client and copies its session, so handlers share it too. TLS stays as
    it was: the connector's default, aiohttp's verified context (the clients pass no ``ssl``).
    With a running session slack_sdk applies the session's timeout, not the client's
    (``client.timeout`` no longer counts): ``SLACK_TIMEOUT_SECONDS``, for every client.
    """
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.slack_timeout_seconds))
    for client in clients:
        client.session = session
    return session


async def close_slack_session(session: aiohttp.ClientSession, *clients: AsyncWebClient) -> None:
    """After the last Slack call (the outbox has stopped): the clients forget it, its sockets close."""
    for client in clients:
        if client.session is session:
            client.session = None
    await session.close()


def build_bolt_app(services: Services, features: Sequence[Feature]) -> AsyncApp:
    """Bolt verifies every request's signature; listeners register explicitly, feature by feature."""
    app = AsyncApp(
        name="whalet-bot",  # also spares Bolt an inspect.stack() per app built (50 ms; tests build hundreds)
        client=services.slack,
        signing_secret=services.settings.slack_signing_secret.get_secret_value(),
        request_verification_enabled=True,
    )
    for feature in features:
        feature.register(app)
    return app
