"""Everything a handler, a background loop or a scheduled job needs, built once per process.

Handlers receive this container instead of importing globals, so tests build a real one against
the sandbox and the Slack stand-in and nothing has to be patched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.responder import Responder
from bot.supervisor import Supervisor

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.alerts import Alerts
    from bot.config import BotConfig
    from bot.metrics import Metrics
    from bot.settings import Settings
    from bot.store import Store
    from notifications.outbox import OutboxWorker
    from whalet.client import WhaletClient
    from whalet.envelope import EnvelopeCodec


@dataclass
class Services:
    settings: Settings
    config: BotConfig
    store: Store
    whalet: WhaletClient
    whalet_codec: EnvelopeCodec | None  # the legacy profile's codec; None under v1 (whalet.protocol has both)
    slack: AsyncWebClient  # for handlers: retries 429 and connection errors itself
    slack_outbox: AsyncWebClient  # for the outbox: no hidden retries, the outbox decides
    metrics: Metrics
    clock: Clock = field(default_factory=Clock)
    supervisor: Supervisor = field(default_factory=Supervisor)
    responder: Responder = field(default_factory=Responder)  # answers to response_urls, one pooled session
    outbox: OutboxWorker | None = None
    alerts: Alerts | None = None  # operator alerts in Slack (bot.alerts), set by wiring
    scheduler: AsyncIOScheduler | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # per-package caches (e.g. user groups)

    def wake_outbox(self) -> None:
        """Call after a transaction that enqueued Slack messages, so they go out at once."""
        if self.outbox is not None:
            self.outbox.wake()
