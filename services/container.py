"""Everything a handler, a background loop or a scheduled job needs, built once per process.

Handlers receive this container instead of importing globals, so tests build a real one against
the sandbox and the Slack stand-in and nothing has to be patched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient

from core.clock import Clock
from core.config import BotConfig
from core.inflight import InFlight
from core.metrics import Metrics
from core.settings import Settings
from core.storage.claims import new_holder
from core.storage.store import Store
from core.supervisor import Supervisor
from services.approvals.roles import RoleResolver, alert_unreadable_group
from services.slack.alerts import Alerts
from services.slack.locale import LocaleResolver
from services.slack.outbox import OutboxWorker
from services.slack.responder import Responder
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
    outbox: OutboxWorker
    alerts: Alerts  # operator alerts in Slack
    clock: Clock = field(default_factory=Clock)
    supervisor: Supervisor = field(default_factory=Supervisor)
    responder: Responder = field(default_factory=Responder)  # answers to response_urls, one pooled session
    scheduler: AsyncIOScheduler | None = None  # created by the process's lifespan, inside its event loop
    in_flight: InFlight = field(default_factory=InFlight)  # e.g. a digest being gathered right now
    # This process among others on the same database: the holder of its confirm leases and digest
    # runs (``bot@host:pid:random``, unique per start, readable in the database).
    instance: str = field(default_factory=lambda: new_holder("bot"))
    roles: RoleResolver = field(init=False)  # one per process, so its group cache is shared
    locales: LocaleResolver = field(init=False)  # people's Slack language, cached an hour per person

    def __post_init__(self) -> None:
        # Reads ``config.roles`` at each decision (a replaced config applies at once) and the
        # clock's monotonic source: a wall clock stepped back must not make a stale group fresh
        # again (tests that advance the clock still move the staleness window with it).
        self.roles = RoleResolver(
            lambda: self.config.roles,
            self.slack,
            on_stale=alert_unreadable_group(self.alerts, lambda: self.config.roles),
            monotonic=self.clock.monotonic,
            max_staleness=self.config.roles.max_staleness_minutes * 60.0,
        )

        self.locales = LocaleResolver(lambda: self.config.ui, self.slack, monotonic=self.clock.monotonic)
        # Alerts, parked-message notes and fold summaries are written by the outbox: in the
        # language of the channel they go to ([ui] channels, channel_locale).
        self.outbox.channel_locale = self.locales.channel

    def wake_outbox(self) -> None:
        """Call after a transaction that enqueued Slack messages, so they go out at once."""
        self.outbox.wake()
