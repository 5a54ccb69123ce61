"""The Slack side of the process: the Web API clients and the Bolt app with its listeners."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from services.container import Services
from core.settings import Settings

SLACK_TIMEOUT_SECONDS = 10


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
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=handlers,
    )


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
