"""A light harness for the notifications package: real services, no Slack, optional HTTP.

Most tests here need the webhook route and the database, not the whole stack: they build
``Services`` exactly as production does (``bot.wiring.build_services``), serve only the webhook
route in process (an event loop of its own, reached through httpx's ASGI transport: see
devkit/inprocess.py), and drive the relay by calling it. End-to-end tests use the ``stack``
fixture instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from notifications import Notifications
from core.clock import Clock, FrozenClock
from core.config import BotConfig
from devkit.inprocess import LoopHost
from services.container import Services
from core.settings import load_settings
from bot.wiring import build_services
from whalet.envelope import EnvelopeCodec, dumps_compact
from devkit.whalet_sandbox import SandboxKeys

PARTNER_ID = "PDEMO0001"
_numbers = itertools.count(1)

BASE_CONFIG = """
[whalet]
users = [{ id = "U10001", name = "Acme Trading Ltd" }, { id = "U10002", name = "Globex Export Co" }]

[approvals]
channel = "C0APPROVALS"
tiers = [ { currency = "USD", up_to = "10000", approvals = 1 } ]

[[routes]]
events = ["collections"]
channel = "C0COLLECT"

[[routes]]
events = ["replenish"]
channel = "C0COMPLIANCE"
mention = "S0COMPLY"

[notifications]
default_channel = "C0FINANCE"
alerts_channel = "C0ALERTS"
reminder_hours = 24
"""


def config_from(text: str) -> BotConfig:
    import tomllib

    return BotConfig.model_validate(tomllib.loads(text))


@dataclass
class Harness:
    services: Services
    whalet: EnvelopeCodec  # Whalet's side: signs notifications, opens our acks
    http: httpx.Client  # the webhook route

    def envelope(
        self, api_code: str, body: Any, request_no: str | None = None, partner_id: str = PARTNER_ID
    ) -> dict[str, Any]:
        return self.whalet.encode_request(partner_id, api_code, request_no or f"WN{next(_numbers):010d}", body)

    def post(self, message: dict[str, Any] | bytes, **headers: str) -> httpx.Response:
        raw = message if isinstance(message, bytes) else dumps_compact(message).encode()
        return self.http.post("/whalet/webhook", content=raw, headers={"Content-Type": "application/json", **headers})

    def send(self, api_code: str, body: Any, request_no: str | None = None) -> httpx.Response:
        return self.post(self.envelope(api_code, body, request_no))

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.services.store.read() as db:
            return list(db.query(sql, params or []))

    def outbox(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM outbox ORDER BY id")

    async def relay(self) -> int:
        from notifications.relay import relay_pending

        return await relay_pending(self.services)


def make_services(
    tmp: Path,
    keys: SandboxKeys,
    config_toml: str = BASE_CONFIG,
    clock: Clock | None = None,
    whalet_url: str = "http://127.0.0.1:9/api",
    db_name: str = "bot.db",
    database_url: str | None = None,
) -> Services:
    settings = load_settings(
        whalet_bot_database_url=database_url,
        slack_bot_token="xoxb-test",
        slack_signing_secret="s" * 32,
        slack_api_base_url="http://127.0.0.1:9/api/",
        whalet_base_url=whalet_url,
        whalet_partner_id=PARTNER_ID,
        whalet_partner_private_key=str(keys.partner_private),
        whalet_public_key_source=str(keys.whalet_public),
        whalet_bot_db=tmp / db_name,
        _env_file=None,
    )
    return build_services(settings, config_from(config_toml), clock)


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(datetime(2024, 5, 1, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai


@pytest.fixture
def harness_factory(
    tmp_path: Path, sandbox_keys: SandboxKeys, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Harness]]:
    """A test that also asks for ``database_url`` runs on both backends: each ``db_name`` is
    then its own Postgres database (the same name again: the same database, as after a restart)."""
    hosts: list[LoopHost] = []
    built: list[Services] = []
    on_postgres = "database_url" in request.fixturenames and request.getfixturevalue("database_url") is not None
    databases: dict[str, str] = {}

    def database(db_name: str) -> str | None:
        if not on_postgres:
            return None
        if db_name not in databases:
            databases[db_name] = request.getfixturevalue("postgres_cluster").new_database()
        return databases[db_name]

    def make(
        config_toml: str = BASE_CONFIG,
        clock: Clock | None = None,
        whalet_url: str = "http://127.0.0.1:9/api",
        db_name: str = "bot.db",
    ) -> Harness:
        services = make_services(tmp_path, sandbox_keys, config_toml, clock, whalet_url, db_name, database(db_name))
        built.append(services)
        webhook = Starlette(routes=Notifications(services).routes())
        hosts.append(host := LoopHost().start(webhook))
        http = httpx.Client(base_url="http://whalet-bot.localhost", transport=host.transport_to(webhook))
        return Harness(services, sandbox_keys.whalet_codec(), http)

    yield make
    for host in hosts:
        host.stop()
    for services in built:
        services.store.close()


@pytest.fixture
def harness(harness_factory: Callable[..., Harness], frozen: FrozenClock) -> Harness:
    return harness_factory(clock=frozen)
