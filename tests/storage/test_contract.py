"""The storage contract, on both backends: each test runs on SQLite and on a real Postgres.

What every repository relies on: migrations once, a failed transaction leaves nothing, a nested
one is a savepoint, the audit log is append-only, ``INSERT OR IGNORE`` skips a duplicate and an
insert returns its id; and the claims that let several processes share the work (an outbox row
and its channel's lane, a digest run, an inbox row), including the Postgres-only races between
two stores standing for two replicas.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.storage import digests
from core.storage.claims import open_window
from core.storage import outbox as outbox_rows
from core.storage.backend import open_store
from core.storage.dialect import POSTGRES, to_postgres
from core.storage.migrations import MIGRATIONS
from core.storage.store import Store
from core.storage import inbox

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PACE = outbox_rows.Pace(interval=1.0, burst=1)


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(database_url, tmp_path / "bot.db")
    yield opened
    opened.close()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def test_every_migration_applied_once(store: Store, database_url: str | None, tmp_path: Path) -> None:
    assert store.applied_migrations() == sorted(name for name, _ in MIGRATIONS)
    again = open_store(database_url, tmp_path / "bot.db")
    try:
        assert again.migrate() == []
    finally:
        again.close()


def test_a_failed_transaction_leaves_nothing_and_a_nested_one_is_a_savepoint(store: Store) -> None:
    with pytest.raises(ZeroDivisionError):
        with store.transaction() as db:
            store.set_flag(db, "frozen", "yes")
            store.audit(db, "U1", "test", "x:1")
            raise ZeroDivisionError
    assert store.get_flag("frozen") is None
    with store.transaction() as db:
        store.set_flag(db, "kept", "1")
        with pytest.raises(KeyError):
            with store.transaction() as inner:
                store.set_flag(inner, "undone", "1")
                raise KeyError("inner")
    assert store.get_flag("kept") == "1" and store.get_flag("undone") is None
    with store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 0


def test_the_audit_log_is_append_only(store: Store) -> None:
    with store.transaction() as db:
        first = store.audit(db, "U1", "approve", "approval:A1")
        second = store.audit(db, "U2", "approve", "approval:A1")
    assert second == first + 1
    for statement in ("UPDATE audit_log SET actor = 'U9'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only|permission denied"):
            with store.transaction() as db:
                db.execute(statement)
    with store.read() as db:
        assert [row[0] for row in db.execute("SELECT actor FROM audit_log ORDER BY id")] == ["U1", "U2"]


def test_insert_or_ignore_skips_a_duplicate(store: Store) -> None:
    with store.transaction() as db:
        assert db.execute("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)", ["k", "50%"]).rowcount == 1
        assert db.execute("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)", ["k", "other"]).rowcount == 0
    assert store.get_flag("k") == "50%"


def test_a_notification_is_stored_once_whoever_receives_it(store: Store) -> None:
    head = {"apiCode": "collectionReceivedNotify", "requestNo": "WN1", "partnerId": "P1"}
    body = {"collectionId": "C1", "amount": "10.00", "currency": "USD"}
    with store.transaction() as db:
        first = inbox.store(db, head, body, "C1", T0)
        again = inbox.store(db, head, body, "C1", T0)
    assert first.new and not again.new


def _queue(store: Store, channel: str = "C1", count: int = 1) -> list[int]:
    with store.transaction() as db:
        return [outbox_rows.enqueue_post(db, channel=channel, text=f"m{n}") for n in range(count)]


def test_one_delivery_per_channel_at_a_time_and_the_pace_is_shared(store: Store) -> None:
    first, second = _queue(store, count=2)
    lease = iso(T0 + timedelta(seconds=30))
    with store.transaction() as db:
        assert outbox_rows.claim(db, first, channel="C1", owner="a", now=T0, lease_until=lease, pace=PACE).claimed
        busy = outbox_rows.claim(db, second, channel="C1", owner="b", now=T0, lease_until=lease, pace=PACE)
    assert not busy.claimed and busy.wait > 0  # replica b waits: a is posting in C1
    with store.transaction() as db:
        outbox_rows.release_lane(db, "C1", "a")
        paced = outbox_rows.claim(db, second, channel="C1", owner="b", now=T0, lease_until=lease, pace=PACE)
        assert not paced.claimed and paced.wait == pytest.approx(1.0)  # one a second, whoever posts
        assert outbox_rows.claim(
            db, second, channel="C1", owner="b", now=T0 + timedelta(seconds=1), lease_until=lease, pace=PACE
        ).claimed


def test_a_dead_holders_rows_are_taken_over_only_after_its_lease(store: Store) -> None:
    [row] = _queue(store)
    with store.transaction() as db:
        outbox_rows.claim(
            db, row, channel="C1", owner="dead", now=T0, lease_until=iso(T0 + timedelta(seconds=30)), pace=PACE
        )
        assert outbox_rows.hand_back_inflight(db, expired_before=iso(T0 + timedelta(seconds=10))) == 0
        assert outbox_rows.hand_back_inflight(db, expired_before=iso(T0 + timedelta(seconds=31))) == 1
        state, check_first = db.execute("SELECT state, check_first FROM outbox WHERE id = ?", [row]).fetchone()
    assert (state, check_first) == ("pending", 1)  # the next holder looks in Slack before posting again
    with store.transaction() as db:  # and the lane is free again
        assert outbox_rows.claim(
            db,
            row,
            channel="C1",
            owner="b",
            now=T0 + timedelta(seconds=31),
            lease_until=iso(T0 + timedelta(seconds=61)),
            pace=PACE,
        ).claimed


def test_a_digest_run_is_claimed_once_and_taken_over_after_its_lease(store: Store) -> None:
    def claim(owner: str, now: datetime) -> int | None:
        with store.transaction() as db:
            return digests.claim_run(
                db,
                "daily",
                "2026-12-02",
                "C1",
                iso(now),
                owner=owner,
                lease_until=iso(now + timedelta(minutes=2)),
                take_over_live=False,
            )

    run = claim("a", T0)
    assert run is not None
    assert claim("b", T0 + timedelta(minutes=1)) is None  # a is gathering it
    assert claim("b", T0 + timedelta(minutes=3)) == run  # a died: its lease ran out
    with store.transaction() as db:
        digests.finish_run(db, run, iso(T0), outbox_id=1)
    assert claim("a", T0 + timedelta(minutes=10)) is None  # done: nobody posts it again


# --- Postgres only: two stores are two replicas ---------------------------------------------


@pytest.fixture
def replicas(database_url: str | None, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    if database_url is None:
        pytest.skip("one process per SQLite file: races between replicas exist on Postgres only")
    a, b = open_store(database_url, tmp_path / "unused"), open_store(database_url, tmp_path / "unused")
    yield a, b
    a.close()
    b.close()


def test_a_row_being_relayed_is_invisible_to_the_other_replica(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    head = {"apiCode": "collectionReceivedNotify", "requestNo": "WN7", "partnerId": "P1"}
    with a.transaction() as db:
        inbox.store(db, head, {"collectionId": "C7"}, "C7", T0)
    with a.transaction() as db_a:
        [row_id] = inbox.pending_ids(db_a, 10, 3)
        assert inbox.claim(db_a, row_id) is not None
        with b.transaction() as db_b:
            assert inbox.claim(db_b, row_id) is None  # SKIP LOCKED: not seen, not waited for
        inbox.mark_processed(db_a, row_id, "relayed", T0)
    with b.transaction() as db_b:
        assert inbox.claim(db_b, row_id) is None  # and once committed it is done for everyone


def test_racing_replicas_claim_each_outbox_row_once(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    rows = _queue(a, count=1) + _queue(a, channel="C2", count=1) + _queue(a, channel="C3", count=1)
    wins: list[tuple[str, int]] = []
    start = threading.Barrier(2)

    def run(store: Store, name: str) -> None:
        start.wait()
        for row in rows:
            channel = {rows[0]: "C1", rows[1]: "C2", rows[2]: "C3"}[row]
            with store.transaction() as db:
                if outbox_rows.claim(
                    db, row, channel=channel, owner=name, now=T0, lease_until=iso(T0 + timedelta(seconds=30)), pace=PACE
                ).claimed:
                    wins.append((name, row))

    threads = [threading.Thread(target=run, args=(store, name)) for store, name in ((a, "a"), (b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(row for _, row in wins) == sorted(rows)


def test_digest_finishers_see_each_other(replicas: tuple[Store, Store]) -> None:
    """Two replicas that both gathered a run (one took it over from a slow one): the locked
    ``done`` check lets exactly one of them post."""
    a, b = replicas
    with a.transaction() as db:
        run = digests.claim_run(db, "daily", "d", "C1", iso(T0), owner="a", lease_until=iso(T0), take_over_live=False)
    assert run is not None
    with a.transaction() as db_a:
        assert not digests.run_is_done(db_a, run)
        digests.finish_run(db_a, run, iso(T0), outbox_id=1)
        finished = threading.Event()

        def other() -> None:
            with b.transaction() as db_b:
                if digests.run_is_done(db_b, run):
                    finished.set()

        waiter = threading.Thread(target=other)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # b waits for a's transaction instead of reading a stale 'running'
    waiter.join(10)
    assert finished.is_set()


def test_sql_is_translated_outside_quotes_only() -> None:
    sql = "SELECT '?', \"%\" FROM t WHERE a = ? AND b LIKE '50%' AND c = ?"
    assert to_postgres(sql, has_params=True) == "SELECT '?', \"%%\" FROM t WHERE a = %s AND b LIKE '50%%' AND c = %s"
    assert (
        to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?)", has_params=True)
        == "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    with pytest.raises(ValueError, match="ON CONFLICT"):
        to_postgres("INSERT OR REPLACE INTO t (a) VALUES (?)", has_params=True)
    assert POSTGRES == "postgres"


def test_a_quiet_window_opens_once_until_it_ends(store: Store) -> None:
    with store.transaction() as db:
        assert open_window(db, "alert:k", iso(T0), iso(T0 + timedelta(minutes=15)))
        assert not open_window(db, "alert:k", iso(T0 + timedelta(minutes=1)), iso(T0 + timedelta(minutes=16)))
        assert open_window(db, "alert:other", iso(T0), iso(T0 + timedelta(minutes=15)))
        assert open_window(db, "alert:k", iso(T0 + timedelta(minutes=15)), iso(T0 + timedelta(minutes=30)))


def test_replicas_raising_the_same_alert_at_once_raise_it_once(replicas: tuple[Store, Store]) -> None:
    opened: list[bool] = []
    start = threading.Barrier(2)

    def ask(store: Store) -> None:
        start.wait()
        with store.transaction() as db:
            opened.append(open_window(db, "alert:same", iso(T0), iso(T0 + timedelta(minutes=15))))

    threads = [threading.Thread(target=ask, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(opened) == [False, True]


def test_word_about_one_object_is_relayed_in_arrival_order(store: Store) -> None:
    request = {"replenishId": "RP1", "requiredMaterials": ["Licence"]}
    with store.transaction() as db:
        for number, body in enumerate(
            [request, {**request, "requiredMaterials": ["Licence", "Bank statement"]}, {"replenishId": "RP2"}]
        ):
            head = {"apiCode": "eddReplenishNotify", "requestNo": f"WNO{number}", "partnerId": "P1"}
            inbox.store(db, head, body, str(body["replenishId"]), T0)
        first, second, other = inbox.pending_ids(db, 10, 3)
        assert inbox.claim(db, second) is None  # the earlier word about RP1 goes first
        assert inbox.claim(db, other) is not None  # another object does not wait
        assert inbox.claim(db, first) is not None
        inbox.mark_processed(db, first, "relayed", T0)
        assert inbox.claim(db, second) is not None


def test_a_card_update_that_fell_behind_a_newer_one_is_never_sent(store: Store) -> None:
    """Update A (an older state) is in flight when update B (a newer state) is queued; A's
    delivery fails and is retried after B went out: the retry is dropped, so the card keeps B."""
    ref = ("approval", "PO-ORDER")
    with store.transaction() as db:
        post = outbox_rows.enqueue_post(db, channel="C1", text="v1", ref=ref, now=T0)
    lease = iso(T0 + timedelta(seconds=30))
    step = iter(range(1, 100))

    def deliver(row_id: int) -> bool:
        now = T0 + timedelta(seconds=10 * next(step))
        with store.transaction() as db:
            claim = outbox_rows.claim(db, row_id, channel="C1", owner="a", now=now, lease_until=lease, pace=PACE)
            if claim.claimed and claim.row is not None:
                outbox_rows.mark_done(db, claim.row, "C1", f"ts{row_id}", iso(now))
                outbox_rows.release_lane(db, "C1", "a")
        return claim.claimed

    assert deliver(post)
    with store.transaction() as db:
        older = outbox_rows.enqueue_update(db, ref=ref, text="v2")
    with store.transaction() as db:  # A goes out...
        claim = outbox_rows.claim(
            db, older, channel="C1", owner="a", now=T0 + timedelta(seconds=15), lease_until=lease, pace=PACE
        )
        assert claim.claimed
    with store.transaction() as db:  # ...B is queued meanwhile (A is in flight, so not superseded)
        newer = outbox_rows.enqueue_update(db, ref=ref, text="v3")
    with store.transaction() as db:  # A's delivery failed: back to pending, to be retried
        outbox_rows.reschedule(
            db,
            older,
            state="pending",
            attempts=1,
            next_attempt_at=iso(T0 + timedelta(minutes=5)),
            error="network",
            check_first=0,
            rate_limited=False,
        )
        outbox_rows.release_lane(db, "C1", "a")
    assert deliver(newer)
    assert not deliver(older)  # the retry of the older state is dropped
    with store.read() as db:
        states = dict(db.execute("SELECT id, state FROM outbox WHERE id IN (?, ?)", [older, newer]).fetchall())
    assert states == {older: "superseded", newer: "done"}
