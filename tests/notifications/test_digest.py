"""Digests against the real sandbox with a frozen clock: content, once per day, restarts, schedules."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.clock import FrozenClock, iso
from core.config import DigestSchedule
from notifications import digest
from notifications.digest_schedules import schedule_key
from tests.fixtures.whalet import RunningSandbox
from tests.notifications.conftest import BASE_CONFIG, Harness
from tests.notifications.test_render import assert_valid_block_kit
from tests.notifications.test_webhook import COLLECTION
from whalet.errors import RateLimited
from whalet.money import Money

SCHEDULED = (
    BASE_CONFIG
    + """
[digest]
schedules = [ { channel = "C0FINANCE", time = "09:00", timezone = "Asia/Shanghai" } ]
reconcile_after_hours = 6
concurrency = 2
"""
)
NINE = DigestSchedule(channel="C0FINANCE", time="09:00", timezone="Asia/Shanghai")


@pytest.fixture
def clock() -> FrozenClock:
    """Today, 09:30 in Shanghai: the sandbox dates its records with the real date."""
    today = datetime.now(UTC).date()
    return FrozenClock(datetime(today.year, today.month, today.day, 1, 30, tzinfo=UTC))


@pytest.fixture
def sandbox(make_sandbox: Callable[..., RunningSandbox]) -> RunningSandbox:
    """Payouts stay in flight: the digest reads balances with the payout's amount still frozen
    (with the fixture's 0.2 s result delay, a slow moment let it settle first and the figures moved)."""
    return make_sandbox(payout_result_delay_s=3600)


@pytest.fixture
def make(
    harness_factory: Callable[..., Harness], sandbox: RunningSandbox, clock: FrozenClock
) -> Callable[..., Harness]:
    def build(config: str = SCHEDULED, db_name: str = "bot.db") -> Harness:
        h = harness_factory(config_toml=config, clock=clock, whalet_url=sandbox.api_url, db_name=db_name)
        h.services.scheduler = AsyncIOScheduler(timezone="UTC")
        return h

    return build


def digests(h: Harness) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in h.outbox() if r["kind"] == "digest"]


def _request(h: Harness, request_id: str, state: str, order_no: str, decided_at: datetime) -> None:
    with h.services.store.transaction() as db:
        db.execute(
            """INSERT INTO approval_requests (id, kind, state, requester, user_id, amount, currency,
                          mer_order_no, beneficiary_name, required_approvals, created_at, decided_at)
                      VALUES (?, 'payout', ?, 'U0REQ', 'U10001', '2500.00', 'USD', ?, 'Acme HK', 1, ?, ?)""",
            [request_id, state, order_no, iso(decided_at), iso(decided_at)],
        )


async def test_digest_content_balances_changes_movement_pending_todos_and_reconciliation(
    make: Callable[..., Harness], sandbox: RunningSandbox, clock: FrozenClock
) -> None:
    clock.set(datetime.now(UTC))  # the sandbox dates its orders with the real time
    h = make()
    services = h.services
    now = clock.now()
    # a payout confirmed at Whalet 7 h ago whose result notification never reached us
    applied = await services.whalet.payout_apply(
        "U10001", "PLOSTRESULT1", "B2C", Money.of("2500.00", "USD"), "USD", "BEN002", "May invoice"
    )
    await services.whalet.payout_confirm("U10001", applied.payout_id)
    _request(h, "RLOST", "CONFIRMED", "PLOSTRESULT1", now - timedelta(hours=7))
    _request(h, "RGHOST", "CONFIRMED", "PNEVERSENT01", now - timedelta(hours=8))
    _request(h, "RFRESH", "CONFIRMED", "PRECENT00001", now - timedelta(hours=1))  # not yet suspicious
    _request(h, "RWAIT", "PENDING", "PWAITING0001", now - timedelta(minutes=5))
    h.send("collectionReceivedNotify", COLLECTION)
    h.send(
        "eddReplenishNotify",
        {
            "userId": "U10001",
            "replenishId": "RP1",
            "reason": "EDD",
            "requiredMaterials": ["Business licence"],
            "deadline": "2000-01-01 00:00:00",
        },
    )
    await h.relay()

    assert await digest.run_digest(services, "C0FINANCE", schedule_key(NINE), "day-1") == "posted"
    [post] = digests(h)
    assert post["channel"] == "C0FINANCE"
    shown = post["blocks"]
    assert_valid_block_kit(json.loads(shown))
    assert "Acme Trading Ltd" in shown and "Globex Export Co" in shown
    assert "*247,497.50 USD* available\\npending 1,250.00 USD · frozen 2,502.50 USD" in shown  # B2C, after the payout
    assert "USD · Acquiring" in shown and "*3,500,000 JPY*" in shown and "frozen 500.00 USD" in shown
    assert "first digest for this balance" not in shown and "had no earlier digest to compare with" in shown
    assert "Collections, last 24 h:* 1 · 1,200.50 USD" in shown
    assert "Waiting for approval or confirmation:* 1" in shown and "2,500.00 USD to Acme HK" in shown
    assert "Open document requests:* 1" in shown and "OVERDUE" in shown and "nobody has taken it" in shown
    assert "2 confirmed payout(s) without a final result after 6 h" in shown
    assert "`PLOSTRESULT1`" in shown and "Whalet says *" in shown
    assert "`PNEVERSENT01`" in shown and "Whalet has no such order" in shown
    assert "PRECENT00001" not in shown

    # money arrives at Whalet; the next digest shows the change since this one
    sandbox.operator.post("/collect", json={"userId": "U10001", "currency": "USD", "amount": "1000.25"})
    clock.advance(timedelta(days=1, minutes=1))
    assert await digest.run_digest(services, "C0FINANCE", schedule_key(NINE), "day-2") == "posted"
    shown = digests(h)[-1]["blocks"]
    assert "▲ +1,000.25 USD since the last digest" in shown and "no change since the last digest" in shown
    assert "Collections, last 24 h:* none" in shown


async def test_a_day_runs_once_and_a_crashed_run_is_redone_once(
    make: Callable[..., Harness], database_url: str | None
) -> None:
    h = make()
    key = schedule_key(NINE)
    assert await digest.run_digest(h.services, "C0FINANCE", key, "2024-05-01") == "posted"
    assert await digest.run_digest(h.services, "C0FINANCE", key, "2024-05-01") == "skipped"
    with h.services.store.transaction() as db:  # a process that died after claiming, before posting
        db.execute(
            "INSERT INTO digest_runs (schedule_key, run_date, channel, state, started_at) "
            "VALUES (?, '2024-05-02', 'C0FINANCE', 'running', 'x')",
            [key],
        )
    assert await digest.run_digest(h.services, "C0FINANCE", key, "2024-05-02") == "posted"
    assert await digest.run_digest(h.services, "C0FINANCE", key, "2024-05-02") == "skipped"
    assert len(digests(h)) == 2
    assert h.rows("SELECT run_date, state, attempts FROM digest_runs ORDER BY id") == [
        {"run_date": "2024-05-01", "state": "done", "attempts": 1},
        {"run_date": "2024-05-02", "state": "done", "attempts": 2},
    ]  # the crashed try + the redo


async def test_missed_run_within_grace_runs_once_across_restarts(
    make: Callable[..., Harness], clock: FrozenClock, database_url: str | None
) -> None:
    clock.advance(timedelta(minutes=-40))  # 08:50 Shanghai: the bot runs and knows the 09:00 schedule
    digest.schedule_digests(make().services)
    clock.advance(timedelta(minutes=40))  # 09:30: it was down at 09:00 and starts again now
    h = make()
    digest.schedule_digests(h.services)
    assert await digest.catch_up(h.services) == [f"{schedule_key(NINE)}: posted"]
    assert await digest.catch_up(h.services) == [f"{schedule_key(NINE)}: skipped"]
    restarted = make()  # a new process on the same database
    digest.schedule_digests(restarted.services)
    assert await digest.catch_up(restarted.services) == [f"{schedule_key(NINE)}: skipped"]
    assert len(digests(restarted)) == 1
    run_date = datetime.now(UTC).date().isoformat()
    assert restarted.rows("SELECT run_date FROM digest_runs") == [{"run_date": run_date}]


async def test_a_fresh_install_does_not_post_the_fire_time_it_never_knew(make: Callable[..., Harness]) -> None:
    h = make()  # first start ever, at 09:30
    digest.schedule_digests(h.services)
    assert await digest.catch_up(h.services) == []
    assert digests(h) == []


async def test_missed_run_beyond_grace_is_not_run_late(make: Callable[..., Harness], clock: FrozenClock) -> None:
    clock.advance(timedelta(minutes=-40))
    digest.schedule_digests(make().services)
    clock.advance(timedelta(hours=1, minutes=40, seconds=1))  # 10:30:01 Shanghai: more than an hour late
    h = make()
    assert await digest.catch_up(h.services) == []
    assert digests(h) == []


async def test_schedule_added_in_slack_survives_a_restart_with_stable_job_settings(
    make: Callable[..., Harness],
) -> None:
    h = make()
    evening = DigestSchedule(channel="C0TREASURY", time="18:30", timezone="Europe/London")
    assert digest.add_schedule(h.services, evening, actor="U0ADM")
    assert not digest.add_schedule(h.services, evening, actor="U0ADM")  # already there
    assert not digest.add_schedule(h.services, NINE, actor="U0ADM")  # the config file has it

    restarted = make()
    ids = digest.schedule_digests(restarted.services)
    assert ids == ["digest:C0FINANCE:09:00:Asia/Shanghai", "digest:C0TREASURY:18:30:Europe/London"]
    digest.schedule_digests(restarted.services)  # start twice: still one job each
    scheduler = restarted.services.scheduler
    assert scheduler is not None
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert sorted(jobs) == sorted(ids)
        job = jobs["digest:C0TREASURY:18:30:Europe/London"]
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 3600
        assert str(job.trigger.timezone) == "Europe/London"
        assert "hour='18'" in str(job.trigger) and "minute='30'" in str(job.trigger)
    finally:
        scheduler.shutdown(wait=False)
    # a schedule added at 09:30 for 09:00 does not fire at once; it waits for tomorrow
    assert digest.add_schedule(
        restarted.services, DigestSchedule(channel="C0OPS", time="09:00", timezone="Asia/Shanghai"), actor="U0ADM"
    )
    outcomes = await digest.catch_up(restarted.services)
    assert not any("C0OPS" in line for line in outcomes)
    removed, kept = digest.remove_schedules(restarted.services, "C0FINANCE", actor="U0ADM")
    assert removed == 0 and kept == [NINE]
    assert digest.remove_schedules(restarted.services, "C0TREASURY", actor="U0ADM") == (1, [])
    assert [s.channel for s, _ in digest.all_schedules(make().services)] == ["C0FINANCE", "C0OPS"]


async def test_rate_limited_balance_calls_are_retried(make: Callable[..., Harness], sandbox: RunningSandbox) -> None:
    h = make()
    rules = [{"apiCode": "queryCurrencyBalance", "kind": "too_many_requests", "times": 3}]
    assert sandbox.operator.post("/faults", json={"rules": rules}).status_code == 200
    assert await digest.run_digest(h.services, "C0FINANCE", "manual", "x") == "posted"
    shown = digests(h)[0]["blocks"]
    assert "*250,000.00 USD* available" in shown and "rate-limiting" not in shown
    assert len(sandbox.operator.get("/faults").json()["fired"]) == 3


async def test_backing_off_retries_too_many_requests_then_gives_up() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RateLimited("TOO_MANY_REQUESTS", "slow down")
        return "ok"

    assert await digest.backing_off(flaky, pause=0.001) == "ok" and len(calls) == 3

    async def always() -> str:
        raise RateLimited("TOO_MANY_REQUESTS", "slow down")

    with pytest.raises(RateLimited):
        await digest.backing_off(always, pause=0.001)


def test_last_fire_is_in_the_schedules_own_time_zone() -> None:
    now = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)  # 08:30 Shanghai, 01:30 London
    assert digest.last_fire(NINE, now) == datetime(2024, 4, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    later = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert digest.last_fire(NINE, later).isoformat() == "2024-05-01T09:00:00+08:00"


async def test_a_schedule_removed_through_another_replica_does_not_post_here(
    make: Callable[..., Harness], database_url: str | None
) -> None:
    """Two processes on one database (on Postgres: two replicas): a schedule added in Slack on one
    and removed on the other; the first one's scheduler job still fires, and posts nothing."""
    first, second = make(), make()
    noon = DigestSchedule(channel="C0TREASURY", time="09:00", timezone="Asia/Shanghai")
    assert digest.add_schedule(first.services, noon, actor="U0ADM")
    assert digest.remove_schedules(second.services, "C0TREASURY", actor="U0ADM") == (1, [])
    assert await digest.scheduled_run(first.services, noon) == "removed"
    assert await digest.scheduled_run(first.services, NINE) == "posted"  # the config file's still runs
    assert [r["channel"] for r in digests(first)] == ["C0FINANCE"]
