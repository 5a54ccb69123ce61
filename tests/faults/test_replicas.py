"""Two replicas on one Postgres database, one killed with SIGKILL in the middle of a burst.

Two ``whalet-bot run`` processes share one Postgres database (and, as two replicas of one Slack
app do, one signing secret). Slash commands, button clicks and Whalet webhooks go to both
alternately; a double click lands on both at once; replica A is killed with ``kill -9`` half-way
through the webhooks, and whatever A did not acknowledge is sent again to B, as Whalet retries.
Afterwards, from what Slack (the stand-in) and Whalet (the sandbox) saw:

- every acknowledged notification is in Slack exactly once (0 lost, 0 duplicated);
- every approved payout was confirmed exactly once (the sandbox's ``confirmCount``), the double
  click included, and ends confirmed;
- the digest whose fire time both replicas found at start-up was posted once, and a third start
  (A restarted) posts it no more.

The leases are short here (claims 3 s, Whalet timeout 1 s: confirm lease 4 s) so that B takes
over A's half-done work within seconds.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from core.storage.backend import open_store
from devkit.localstack import DEMO_CONFIG, DEMO_PARTNER_ID
from tests.fixtures.loopback import loopback
from tests.faults.harness import App, World, wait_until
from devkit.postgres import Cluster

COLLECT, APPROVALS, FINANCE = "C0COLLECT", "C0APPROVALS", "C0FINANCE"
WEBHOOKS = 40
KILL_AT = 20
FAST = {"WHALET_BOT_CLAIM_LEASE_SECONDS": "3", "WHALET_TIMEOUT_SECONDS": "1"}


def _config(fire: datetime) -> str:
    text = DEMO_CONFIG.replace(
        'schedules = [ { channel = "C0FINANCE", time = "09:00", timezone = "Asia/Shanghai" } ]',
        f'schedules = [ {{ channel = "C0FINANCE", time = "{fire:%H:%M}", timezone = "UTC" }} ]',
    )
    text = text.replace("ttl_minutes = 30\n", "ttl_minutes = 30\nsweep_seconds = 1\n")
    # Fast channels and no folding: every collection is its own message, countable one by one.
    return text.replace(
        'alerts_channel = "C0ALERTS"\n',
        'alerts_channel = "C0ALERTS"\npace_per_second = 20\nburst = 10\nfold_threshold = 10000\n',
    )


def _collection(n: int) -> dict[str, Any]:
    amount = Decimal(f"{1000 + n}.{n % 100:02d}")
    return {
        "userId": "U10001",
        "collectionId": f"COLR{n:04d}",
        "virtualAccountNo": "6222020000001234",
        "fundSource": "B2C",
        "currency": "USD",
        "amount": {"amount": amount, "cent": int(amount * 100), "centFactor": 100, "currency": "USD"},
        "payerName": "Initech",
        "payerAccount": "GB29NWBK60161331926819",
        "receivedTime": "2026-12-02 09:00:00",
        "status": "SUCCESS",
    }


def _shown(amount: Decimal) -> str:
    return f"{amount:,.2f} USD"


def _webhook(world: World, app: App, n: int) -> bool:
    """One notification to one replica; True when it was acknowledged (stored)."""
    codec = world.sandbox.keys.whalet_codec()
    message = codec.encode_request(DEMO_PARTNER_ID, "collectionReceivedNotify", f"WNR{n:08d}", _collection(n))
    try:
        answer = loopback.post(app.url + "/whalet/webhook", json=message, timeout=5)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def _request(world: World, app: App, amount: str) -> tuple[str, Any]:
    before = len(world.fake.responses())
    assert app.slack.command("U0REQ", f'payout {amount} USD to acme-us for "replicas"').status_code == 200
    answer = wait_until(
        lambda: [r for r in world.fake.responses()[before:] if "Request `" in r.text],
        20,
        what="the payout request's answer",
    )[0]
    request_id = answer.text.split("Request `")[1].split("`")[0]
    card = wait_until(
        lambda: next(
            (m for m in world.fake.messages(APPROVALS) if not m.is_reply and request_id in json.dumps(m.blocks)), None
        ),
        20,
        what="the approval card",
    )
    return request_id, card


def _click(app: App, card: Any) -> None:
    try:
        app.slack.block_action("U0APP1", card, "approval_approve")
    except httpx.HTTPError:  # the replica was killed under the click: Slack shows an error, nothing else
        pass


@pytest.mark.long_running(seconds=24)
def test_two_replicas_one_killed_lose_and_repeat_nothing(world: World, make_app, postgres_cluster: Cluster) -> None:
    url = postgres_cluster.new_database()
    fire = datetime.now(UTC) - timedelta(minutes=1)
    key = f"digest:C0FINANCE:{fire:%H:%M}:UTC"
    store = open_store(url, world.workdir / "unused.db")
    with store.transaction() as db:  # the schedule has been known since yesterday: its fire time is due
        db.execute(
            "INSERT INTO digest_known (schedule_key, first_seen) VALUES (?, ?)",
            [key, (fire - timedelta(days=1)).isoformat(timespec="seconds")],
        )
    store.close()

    config = _config(fire)
    a: App = make_app(config_toml=config, database_url=url, env=FAST)
    b: App = make_app(config_toml=config, database_url=url, env=FAST, signing_secret=a.signing_secret)
    starters = [threading.Thread(target=app.start, kwargs={"point_webhook": False}) for app in (a, b)]
    for starter in starters:  # both start together: both catch up the same digest at once
        starter.start()
    for starter in starters:
        starter.join(60)
    world.sandbox.set_webhook_url(b.url + "/whalet/webhook")  # Whalet's own results go to the survivor

    # A double click that lands on both replicas at the same moment.
    double, card = _request(world, a, "1200.50")
    clicks = [threading.Thread(target=_click, args=(app, card)) for app in (a, b)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(20)
    approved = [double]

    acked: dict[int, str] = {}
    for n in range(WEBHOOKS):
        target = (a, b)[n % 2]
        if n == KILL_AT // 2:  # a payout requested on B and approved on A, mid-burst
            request_id, card = _request(world, b, "310.00")
            _click(a, card)
            approved.append(request_id)
        if n == KILL_AT:
            a.process.kill()  # type: ignore[union-attr]  # kill -9, mid-burst
            a.process.wait()  # type: ignore[union-attr]
        if not _webhook(world, target, n):  # A is dead: Whalet retries, and B answers
            assert _webhook(world, b, n), f"B refused notification {n}:\n{b.log()}"
        acked[n] = _shown(_collection(n)["amount"]["amount"])
    request_id, card = _request(world, b, "420.00")  # after the kill, on the survivor
    _click(b, card)
    approved.append(request_id)

    def every_collection_shown() -> bool:
        texts = [m.text for m in world.fake.messages(COLLECT)]
        return all(any(shown in text for text in texts) for shown in acked.values())

    wait_until(every_collection_shown, 60, what=f"every acknowledged collection in Slack\n{b.log()}")

    def settled() -> bool:
        states = dict(b.query("SELECT id, state FROM approval_requests"))
        return all(states.get(r) in ("CONFIRMED", "SUCCEEDED") for r in approved)

    wait_until(
        settled,
        60,
        what=f"every approved payout confirmed: {b.query('SELECT id, state FROM approval_requests')}\n{b.log()}",
    )
    wait_until(
        lambda: not b.query("SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')"),
        30,
        what="the outbox to drain",
    )

    texts = [m.text for m in world.fake.messages(COLLECT)]
    for n, shown in acked.items():
        assert sum(shown in text for text in texts) == 1, (n, shown)  # 0 lost, 0 duplicated
    assert b.query("SELECT COUNT(*) FROM inbox WHERE api_code = 'collectionReceivedNotify'")[0][0] == WEBHOOKS
    orders = dict(b.query("SELECT id, mer_order_no FROM approval_requests"))
    counts = world.confirm_counts()
    assert [counts.get(orders[r]) for r in approved] == [1] * len(approved)
    digests = [m for m in world.fake.messages(FINANCE) if m.text.startswith("Whalet digest")]
    assert len(digests) == 1
    assert loopback.get(b.url + "/healthz", timeout=5).status_code == 200
    assert 'whalet_bot_outbox_messages{state="done"}' in loopback.get(b.url + "/metrics", timeout=5).text

    a.start(point_webhook=False)  # A comes back: the day's digest is done, nobody posts it again
    wait_until(lambda: b.query("SELECT COUNT(*) FROM digest_runs WHERE state = 'done'")[0][0] == 1, 10)
    assert b.query("SELECT run_date, state FROM digest_runs WHERE schedule_key = ?", (key,)) == [
        (fire.date().isoformat(), "done")
    ]
    assert len([m for m in world.fake.messages(FINANCE) if m.text.startswith("Whalet digest")]) == 1


LIMITED = tuple(f"U0LIM{i}" for i in range(6))


@pytest.mark.long_running(seconds=20)
def test_requests_sent_at_once_to_two_replica_processes_keep_the_limit_and_the_window(
    world: World, make_app, postgres_cluster: Cluster
) -> None:
    """Two ``whalet-bot run`` processes on one Postgres: two 60 USD requests against a 100 USD daily
    limit, one to each replica at the same moment, admit exactly one per requester; three 9,000
    requests to one beneficiary sent at once need 1, 2 and 2 approvals (a 24 h window; EUR here,
    which has no daily limit)."""
    url = postgres_cluster.new_database()
    config = DEMO_CONFIG.replace('requesters = ["U0REQ"]', "requesters = " + json.dumps(["U0REQ", *LIMITED])).replace(
        "ttl_minutes = 30\n", 'ttl_minutes = 30\ndaily_limit = { USD = "100" }\naggregate_window_hours = 24\n'
    )
    a: App = make_app(config_toml=config, database_url=url)
    b: App = make_app(config_toml=config, database_url=url, signing_secret=a.signing_secret)
    for app in (a, b):
        app.start(point_webhook=False)

    def at_once(*sends: tuple[App, str, str]) -> None:
        barrier = threading.Barrier(len(sends))

        def send(app: App, user: str, text: str) -> None:
            barrier.wait()
            assert app.slack.command(user, text).status_code == 200

        threads = [threading.Thread(target=send, args=s) for s in sends]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    for user in LIMITED[:4]:
        at_once((a, user, "payout 60 USD to acme-us"), (b, user, "payout 60 USD to acme-us"))
    at_once(*((app, LIMITED[5], "payout 9000 EUR to berlin-gmbh") for app in (a, b, a)))  # no EUR limit

    def settled() -> bool:
        return not b.query("SELECT 1 FROM approval_requests WHERE state = 'APPLYING'") and (
            b.query("SELECT COUNT(*) FROM approval_requests")[0][0] >= 4 + 3
        )

    wait_until(settled, 30, what=f"the requests applied: {b.query('SELECT requester, state FROM approval_requests')}")
    for user in LIMITED[:4]:
        live = b.query("SELECT COUNT(*) FROM approval_requests WHERE requester = ? AND state != 'ABANDONED'", (user,))[
            0
        ][0]
        assert live == 1, (user, b.query("SELECT requester, state FROM approval_requests"))
    tiers = sorted(
        r[0] for r in b.query("SELECT required_approvals FROM approval_requests WHERE requester = ?", (LIMITED[5],))
    )
    assert tiers == [1, 2, 2], tiers


FOLDED_BURST = 200


@pytest.mark.long_running(seconds=40)
@pytest.mark.parametrize(("first", "kill_at"), [(10000, 50), (20000, 100), (30000, 150)])
def test_a_folded_burst_on_two_replicas_one_killed_shows_each_collection_once(
    world: World, make_app, postgres_cluster: Cluster, first: int, kill_at: int
) -> None:
    """Folding on (more than 5 waiting collections in a channel become one summary), Slack's pace
    of one message a second, 200 collections alternated between two replicas and replica A killed
    after ``kill_at`` of them (three runs): every acknowledged collection ends in Slack exactly
    once, alone or as a line of exactly one summary, and no summary is posted twice (before folding claimed its rows, both
    replicas folded the same burst and summaries were doubled)."""
    url = postgres_cluster.new_database()
    config = DEMO_CONFIG.replace(
        'alerts_channel = "C0ALERTS"\n',
        'alerts_channel = "C0ALERTS"\npace_per_second = 1\nburst = 1\nfold_threshold = 5\n',
    )
    a: App = make_app(config_toml=config, database_url=url, env=FAST)
    b: App = make_app(config_toml=config, database_url=url, env=FAST, signing_secret=a.signing_secret)
    for app in (a, b):
        app.start(point_webhook=False)
    acked: list[int] = []  # each run has collections (ids, amounts) of its own from ``first`` on
    for n in range(first, first + FOLDED_BURST):
        if n == first + kill_at:
            a.process.kill()  # type: ignore[union-attr]  # kill -9, mid-burst
            a.process.wait()  # type: ignore[union-attr]
        if _webhook(world, (a, b)[n % 2], n) or _webhook(world, b, n):
            acked.append(n)
    assert len(acked) == FOLDED_BURST

    def drained() -> bool:
        return not b.query("SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')")

    wait_until(drained, 60, what=f"the outbox to drain\n{b.log()}")
    posted = dict(b.query("SELECT id, ts FROM outbox WHERE state = 'done' AND channel = ?", (COLLECT,)))
    folded_into = dict(
        b.query(
            "SELECT id, folded_into FROM outbox WHERE kind = 'collection' AND state IN ('done', 'folded')",
        )
    )
    assert len(folded_into) == FOLDED_BURST  # every collection either posted or folded, once
    for row_id, summary in folded_into.items():
        assert (summary is None and row_id in posted) or (summary is not None and summary in posted)
    summaries = [m for m in world.fake.messages(COLLECT) if "collections received" in m.text]
    assert summaries, "the burst was folded"
    assert len({m.text for m in summaries}) == len(summaries)  # no summary twice
    texts = [m.text for m in world.fake.messages(COLLECT)]
    for n in acked:
        shown = _shown(_collection(n)["amount"]["amount"])
        assert sum(shown in text for text in texts) <= 1, (n, shown)  # never in two messages
