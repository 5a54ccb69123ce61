"""Answers to a command's ``response_url`` over one pooled HTTP session.

Bolt's ``respond`` opens a new session (and, against Slack, a new TLS connection) for every
answer. Under a burst of commands that handshake is most of the cost of answering, so command
answers share one keep-alive session instead; the request body is the same WebhookClient one.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger("whalet_bot.respond")
TIMEOUT_SECONDS = 10


class Responder:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def bound(self, response_url: str) -> Any:
        """A ``respond(text=..., blocks=..., response_type=..., replace_original=...)`` for one URL."""

        async def respond(**body: Any) -> Any:
            return await self.send(response_url, **body)

        return respond

    async def send(self, response_url: str, **body: Any) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        response = await AsyncWebhookClient(url=response_url, session=self._session).send(**body)
        if response.status_code != 200:  # an expired URL (30 min / 5 uses) is the usual reason
            log.warning(
                "response_url answered %s: %s",
                response.status_code,
                response.body[:200],
                extra={"event": "respond_failed"},
            )
        return response

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
