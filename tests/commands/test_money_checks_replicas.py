"""Money checks under concurrency: two replicas on one database, requests and clicks at once.

Each replica is the real app (``build_runtime``) with its own event loop in its own thread, so
their transactions really overlap on Postgres (in one event loop a synchronous transaction never
interleaves with another). Slack requests are signed like Slack signs them and handed to Bolt's
``async_dispatch``; Whalet is the sandbox on a loopback port, Slack the stand-in.

Invariants (issue 19, item 3), on Postgres and on SQLite:

- the daily limit holds per requester however many requests arrive at once on both replicas;
- the anti-splitting window counts requests still being applied at Whalet, and in every currency:
  three requests sent at once to one beneficiary need 1, 2 and 2 approvals, never 1, 1, 1;
- two approvals given at once on two replicas both count, and no exception escapes a listener.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.wiring import Runtime, build_runtime
from core.clock import FrozenClock
from core.config import load_config
from core.settings import load_settings
from devkit.localstack import DEMO_BOT_TOKEN, DEMO_CONFIG, DEMO_PARTNER_ID
from devkit.serving import ThreadedServer
from devkit.slack_standin.server import FakeSlack
from devkit.slack_standin.signing import SlackRequests
from services.approvals import repo
from services.approvals.states import State
from devkit.whalet_sandbox import Sandbox, SandboxConfig, SandboxKeys, create_sandbox, ensure_keys

REQUESTERS = tuple(f"U0REQ{i:02d}" for i in range(8))
APPROVERS = ("U0APP1", "U0APP2", "U0APP3")
DISPATCH = "slack-request"


def policy(extra: str, requesters: tuple[str, ...] = REQUESTERS) -> str:
    return (
        DEMO_CONFIG.replace('requesters = ["U0REQ"]', "requesters = " + json.dumps(list(requesters)))
        .replace('approvers = ["U0APP1", "U0APP2"]', "approvers = " + json.dumps(list(APPROVERS)))
        .replace("ttl_minutes = 30\n", f"ttl_minutes = 30\n{extra}\n")
    )


@dataclass
class World:
    keys: SandboxKeys
    sandbox: Sandbox
    sandbox_url: str
    fake: FakeSlack
    fake_url: str
    workdir: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    keys = ensure_keys(tmp_path_factory.mktemp("replica-keys"))
    fake = FakeSlack(bot_token=DEMO_BOT_TOKEN)
    sandbox = create_sandbox(SandboxConfig(keys_dir=keys.dir, partner_id=DEMO_PARTNER_ID, payout_result_delay_s=600.0))
    with ThreadedServer(fake.app) as slack_server, ThreadedServer(sandbox.app) as whalet_server:
        fake.bind(slack_server.url)
        yield World(keys, sandbox, whalet_server.url, fake, slack_server.url, tmp_path_factory.mktemp("replicas"))


class Replica:
    """One app process's worth: its runtime on its own event loop in its own thread."""

    def __init__(
        self,
        world: World,
        config_path: Path,
        db: Path,
        database_url: str | None,
        clock: FrozenClock,
        *,
        whalet_timeout: float = 10.0,
    ):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.secret = secrets.token_hex(16)
        settings = load_settings(
            slack_bot_token=DEMO_BOT_TOKEN,
            slack_signing_secret=self.secret,
            slack_api_base_url=world.fake_url + "/api/",
            whalet_base_url=world.sandbox_url + "/api",
            whalet_partner_id=DEMO_PARTNER_ID,
            whalet_partner_private_key=str(world.keys.partner_private),
            whalet_public_key_source=str(world.keys.whalet_public),
            whalet_bot_config=config_path,
            whalet_bot_db=db,
            whalet_bot_database_url=database_url,
            whalet_retry_backoff_seconds=0.001,
            whalet_bot_ack_flush_seconds=0,
            whalet_timeout_seconds=whalet_timeout,
        )
        self.runtime: Runtime = self.call(self._build(settings, load_config(config_path), clock))
        self.slack = SlackRequests(
            self.secret,
            "http://bot",
            world.fake.new_response_url,
            trigger_id_factory=world.fake.new_trigger_id,
            team_id=world.fake.team_id,
            send=lambda body, headers: (body, headers),
        )

    @staticmethod
    async def _build(settings: Any, config: Any, clock: FrozenClock) -> Runtime:
        return build_runtime(settings, config, clock=clock)

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def submit(self, signed: tuple[bytes, dict[str, str]]) -> Future[Any]:
        body, headers = signed

        async def go() -> None:
            asyncio.current_task().set_name(DISPATCH)  # type: ignore[union-attr]
            response = await self.runtime.bolt.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))
            assert response.status == 200, (response.status, response.body)
            # Bolt runs listeners after the ack in tasks of their own: wait for those (not for
            # the other requests being dispatched on this loop, which wait the same way).
            while tasks := [t for t in asyncio.all_tasks() if t.get_name() != DISPATCH and not t.done()]:
                await asyncio.wait(tasks, timeout=30)

        return asyncio.run_coroutine_threadsafe(go(), self.loop)

    def close(self) -> None:
        async def stop() -> None:
            await self.runtime.services.whalet.aclose()
            await self.runtime.services.responder.close()

        try:
            self.call(stop())
            self.runtime.services.store.close()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


class Listeners(logging.Handler):
    """Errors Bolt logs for a listener that raised (none may)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    catch = Listeners()
    logging.getLogger().addHandler(catch)
    yield catch.records
    logging.getLogger().removeHandler(catch)


def two_replicas(
    world: World, database_url: str | None, extra: str, clock: FrozenClock, tail: str = ""
) -> tuple[Replica, Replica]:
    """``extra``: lines of the [approvals] section; ``tail``: sections after the policy's."""
    config = world.workdir / f"whalet-bot-{secrets.token_hex(4)}.toml"
    config.write_text(policy(extra) + tail, encoding="utf-8")
    db = world.workdir / f"bot-{secrets.token_hex(4)}.db"
    if database_url is None:  # one process per SQLite file: the "replicas" share one app
        one = Replica(world, config, db, None, clock)
        return one, one
    return Replica(world, config, db, database_url, clock), Replica(world, config, db, database_url, clock)


def close(replicas: tuple[Replica, Replica]) -> None:
    for replica in {id(r): r for r in replicas}.values():
        replica.close()


def at_once(*jobs: tuple[Replica, tuple[bytes, dict[str, str]]]) -> None:
    for future in [replica.submit(signed) for replica, signed in jobs]:
        future.result(60)


def requests_of(replica: Replica, requester: str) -> list[Any]:
    with replica.runtime.services.store.read() as db:
        return [r for r in repo.in_states(db, tuple(State)) if r.requester == requester]


def card_of(replica: Replica, request_id: str) -> dict[str, Any]:
    """The approval card as queued for Slack (the outbox is not running in these tests)."""
    with replica.runtime.services.store.read() as db:
        found = db.execute(
            "SELECT blocks FROM outbox WHERE ref LIKE ? AND op IN ('post', 'update') ORDER BY id DESC LIMIT 1",
            [f"%{request_id}"],
        ).fetchone()
    return {"channel": "C0APPROVALS", "ts": "1.000001", "blocks": json.loads(found[0])}


def clock_of(world: World) -> FrozenClock:
    """The bot's clock starts where the sandbox's is, so Whalet's quotes are not born expired."""
    return FrozenClock(world.sandbox.clock.now())


@pytest.mark.long_running(seconds=15)
def test_the_daily_limit_holds_for_requests_sent_at_once_to_two_replicas(
    world: World, database_url: str | None, errors: list[logging.LogRecord]
) -> None:
    a, b = replicas = two_replicas(world, database_url, 'daily_limit = { USD = "100" }', clock_of(world))
    try:
        at_once(
            *(
                (replica, replica.slack.command(who, "payout 60 USD to acme-us", channel_id="C0DEMO"))
                for who in REQUESTERS
                for replica in (a, b)
            )
        )
        for who in REQUESTERS:
            live = [r for r in requests_of(a, who) if r.state is not State.ABANDONED]
            assert len(live) == 1, (who, [(r.id, r.state) for r in requests_of(a, who)])
        assert not errors, [e.getMessage() for e in errors]
    finally:
        close(replicas)


@pytest.mark.long_running(seconds=15)
def test_the_split_window_counts_requests_sent_at_once_and_in_other_currencies(
    world: World, database_url: str | None, errors: list[logging.LogRecord]
) -> None:
    a, b = replicas = two_replicas(world, database_url, "aggregate_window_hours = 24", clock_of(world))
    try:
        first, second = REQUESTERS[:2]
        at_once(
            (a, a.slack.command(first, "payout 9000 USD to acme-us", channel_id="C0DEMO")),
            (b, b.slack.command(first, "payout 9000 USD to acme-us", channel_id="C0DEMO")),
            (a, a.slack.command(first, "payout 9000 USD to acme-us", channel_id="C0DEMO")),
        )
        needed = sorted(r.required_approvals for r in requests_of(a, first))
        assert needed == [1, 2, 2], needed
        # Another currency to the same beneficiary counts too, converted at Whalet's rate.
        at_once((a, a.slack.command(second, "payout 9000 EUR to acme-us", channel_id="C0DEMO")))
        at_once((b, b.slack.command(second, "payout 9000 USD to acme-us", channel_id="C0DEMO")))
        eur, usd = sorted(requests_of(a, second), key=lambda r: r.currency)
        assert (eur.currency, eur.required_approvals) == ("EUR", 1)
        assert (usd.currency, usd.required_approvals) == ("USD", 2) and "possible split" in usd.flags
        assert not errors, [e.getMessage() for e in errors]
    finally:
        close(replicas)


@pytest.mark.long_running(seconds=15)
def test_two_approvals_at_once_on_two_replicas_both_count(
    world: World, database_url: str | None, errors: list[logging.LogRecord]
) -> None:
    a, b = replicas = two_replicas(world, database_url, "", clock_of(world))
    try:
        for _ in range(4):
            at_once((a, a.slack.command(REQUESTERS[0], "payout 20000 USD to acme-us", channel_id="C0DEMO")))
        pending = [r for r in requests_of(a, REQUESTERS[0]) if r.state is State.PENDING]
        assert len(pending) == 4 and all(r.required_approvals == 2 for r in pending)
        for r in pending:
            card = card_of(a, r.id)
            at_once(
                (a, a.slack.block_action("U0APP1", card, "approval_approve")),
                (b, b.slack.block_action("U0APP2", card, "approval_approve")),
            )
        with a.runtime.services.store.read() as db:
            for r in pending:
                assert {x.approver for x in repo.approvals(db, r.id)} == {"U0APP1", "U0APP2"}
                assert repo.load(db, r.id).state is not State.PENDING  # type: ignore[union-attr]
        assert not errors, [e.getMessage() for e in errors]
    finally:
        close(replicas)


def test_the_daily_limit_counts_days_in_the_policy_zone(world: World, errors: list[logging.LogRecord]) -> None:
    """23:30 and 00:30 in Shanghai are two days; 07:30 and 08:30 there (either side of midnight
    UTC) are one."""
    shanghai = ZoneInfo("Asia/Shanghai")
    today = world.sandbox.clock.now().astimezone(shanghai).date()
    clock = FrozenClock(datetime(today.year, today.month, today.day, 23, 30, tzinfo=shanghai))
    replicas = two_replicas(world, None, 'daily_limit = { USD = "100" }', clock)
    a = replicas[0]
    try:
        ask = REQUESTERS[0]
        at_once((a, a.slack.command(ask, "payout 60 USD to acme-us", channel_id="C0DEMO")))
        clock.advance(timedelta(hours=1))  # 00:30 the next day in Shanghai
        at_once((a, a.slack.command(ask, "payout 60 USD to acme-us", channel_id="C0DEMO")))
        assert len([r for r in requests_of(a, ask) if r.state is not State.ABANDONED]) == 2
        clock.advance(timedelta(hours=7))  # 07:30 in Shanghai, 23:30 UTC
        ask = REQUESTERS[1]
        at_once((a, a.slack.command(ask, "payout 60 USD to acme-us", channel_id="C0DEMO")))
        clock.advance(timedelta(hours=1))  # 08:30 in Shanghai, a new day in UTC but not there
        at_once((a, a.slack.command(ask, "payout 60 USD to acme-us", channel_id="C0DEMO")))
        assert len([r for r in requests_of(a, ask) if r.state is not State.ABANDONED]) == 1
    finally:
        close(replicas)


@pytest.mark.long_running(seconds=15)
def test_a_batch_released_by_two_replicas_at_once_pays_each_line_once(
    world: World, database_url: str | None, errors: list[logging.LogRecord]
) -> None:
    """Replica a releases the batch from the approval click while replica b's sweep releases it
    too, against a Whalet slow enough (0.3 s an apply) that they overlap: every line is claimed by
    one of them (a compare-and-set on the line), so each has one order confirmed, none two."""
    import httpx

    from services.approvals.reconcile import sweep

    a, b = replicas = two_replicas(world, database_url, "", clock_of(world), "\n[batch]\nconcurrency = 2\n")
    asker = REQUESTERS[3]
    operator = httpx.Client(base_url=world.sandbox_url)
    try:
        before = len(world.fake.views(asker))
        at_once((a, a.slack.command(asker, "payout batch", channel_id="C0DEMO")))
        opened = world.fake.views(asker)[before:][-1]
        rows = "".join(f"acme-us,{n}.00,USD,R{n}\n" for n in range(1, 7))
        picked = world.fake.add_user_file(asker, "b.csv", f"beneficiary,amount,currency,reference\n{rows}".encode())
        at_once((a, a.slack.view_submission(asker, opened, {"file": [picked]})))
        batch = next(r for r in requests_of(a, asker) if r.is_batch)
        rule = {"apiCode": "payoutApply", "kind": "latency", "seconds": 0.3, "times": None}
        operator.post("/sandbox/faults", json={"rules": [rule]}).raise_for_status()
        click = a.submit(a.slack.block_action("U0APP1", card_of(a, batch.id), "approval_approve"))
        swept = asyncio.run_coroutine_threadsafe(sweep(b.runtime.services), b.loop)
        click.result(60), swept.result(60)
        a.call(sweep(a.runtime.services))  # whatever a line's lost race left for later
        prefix = f"WBB{batch.id[3:]}"
        confirmed = sorted(
            o.mer_order_no
            for o in world.sandbox.state.orders.orders.values()
            if o.mer_order_no.startswith(prefix) and o.confirm_count
        )
        assert [o[:-1] for o in confirmed] == [f"{prefix}{n:04d}" for n in range(1, 7)], confirmed
        assert all(
            o.confirm_count == 1 for o in world.sandbox.state.orders.orders.values() if o.mer_order_no in confirmed
        )
        with a.runtime.services.store.read() as db:
            claims = db.execute("SELECT COUNT(*) FROM approval_requests WHERE batch_id = ?", [batch.id]).fetchone()[0]
        assert claims == 6  # one payout request per line: neither replica made a second
        assert not errors, [e.getMessage() for e in errors]
    finally:
        operator.delete("/sandbox/faults")
        operator.close()
        close(replicas)
