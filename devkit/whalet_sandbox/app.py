"""The Sandbox: wires state, gateway, notifier and operator endpoints into one Starlette app.

One event loop owns everything: state changes are synchronous functions (atomic within the
loop), and a background ticker fires due items (payout results, retries) about every 100 ms or
at once when something new is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from whalet.recipes import LegacyRecipe

from .clock import Timeline, VirtualClock
from .config import SandboxConfig
from .dispatch import Dispatcher
from .faults import Faults
from .gateway import Gateway
from .keys import SandboxKeys, ensure_keys
from .notifier import Notifier
from .notify_wire import LegacyNotifyWire, NotifyWire, V1NotifyWire
from .operator import operator_routes
from .state import State
from .v1_gateway import V1Gateway
from .v1_recipe import SandboxV1Recipe, V1Credentials, ensure_v1_credentials

TICK_S = 0.1


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        if config.protocol not in ("legacy", "v1"):
            raise ValueError(f"protocol must be legacy or v1, got {config.protocol!r}")
        self.config = config
        self.keys: SandboxKeys = ensure_keys(config.keys_dir)
        self.v1_credentials: V1Credentials | None = None
        self.clock = VirtualClock()
        self.timeline = Timeline(self.clock)
        wire: NotifyWire
        if config.protocol == "v1":
            self.v1_credentials = ensure_v1_credentials(config.keys_dir, config.partner_id)
            recipe = SandboxV1Recipe.from_mapping(config.v1)
            wire = V1NotifyWire(recipe, self.v1_credentials)
        else:
            legacy = LegacyRecipe.model_validate(config.legacy)
            codec = self.keys.whalet_codec().with_recipe(legacy)  # loading RSA keys is slow-ish: once
            wire = LegacyNotifyWire(codec, config.partner_id, legacy.webhook_answer)
        self.notify_wire = wire  # tests forge notifications exactly as the sandbox writes them
        self.notifier = Notifier(
            wire,
            self.clock,
            config.webhook_url,
            config.retry_time_scale,
            config.notify_timeout_s,
            config.webhook_transport,
        )
        self.state = State.create(
            self.clock, self.timeline, self.notifier.enqueue, config.seed, config.payout_result_delay_s
        )
        self.faults = Faults(random.Random(config.seed))
        self.dispatcher = Dispatcher(self.state, self.faults)
        self.v1_gateway: V1Gateway | None = None
        if self.v1_credentials is not None:
            self.v1_gateway = V1Gateway(
                self.dispatcher,
                recipe,
                self.v1_credentials,
                config.latency_ms,
                token_ttl_s=config.token_ttl_s,
                amounts=config.amounts,
            )
            front = Route("/v1/{path:path}", self.v1_gateway.handle, methods=["POST"])
        else:
            self.gateway = Gateway(self.dispatcher, codec, config.partner_id, config.latency_ms, config.amounts)
            front = Route("/api", self.gateway.handle, methods=["POST"])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._loop_thread: int | None = None
        self.notifier.wake = self.wake
        self.app = Starlette(routes=[front, *operator_routes(self)], lifespan=self._lifespan)

    def set_webhook_url(self, url: str | None) -> None:
        """Safe from any thread; queued notifications go out on the next tick."""
        self.config.webhook_url = url
        self.notifier.set_url(url)

    def wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def tick(self) -> None:
        self.timeline.run_due()
        self.notifier.pump()

    async def _ticker(self) -> None:
        assert self._event is not None
        while True:
            self.tick()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the stop's
            # cancellation when it meets a wake, and the lifespan would wait for the ticker forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._event.wait()
            self._event.clear()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._event = asyncio.Event()
        await self.notifier.start()
        ticker = asyncio.create_task(self._ticker())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await self.notifier.stop()
            self._loop = None


def create_sandbox(config: SandboxConfig) -> Sandbox:
    return Sandbox(config)
