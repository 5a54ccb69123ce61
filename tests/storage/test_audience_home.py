"""``approval_audience``, ``approval_reminders``, ``home_dirty`` and ``home_balances`` on SQLite
and Postgres, and the claims replicas race for (Postgres: two stores are two replicas)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.storage import audience, home
from core.storage.backend import open_store
from core.storage.store import Store


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(database_url, tmp_path / "bot.db")
    yield opened
    opened.close()


def test_the_audience_is_recorded_once_and_only_dm_holders_get_copies(store: Store) -> None:
    with store.transaction() as db:
        assert audience.add(db, "PO-1", ["U2", "U1"], dm=True) == ["U2", "U1"]
        assert audience.add(db, "PO-1", ["U1", "U3"], dm=False) == ["U3"]
        assert audience.members(db, "PO-1") == ["U1", "U2", "U3"]
        assert audience.dm_holders(db, "PO-1") == ["U1", "U2"]
        assert audience.members(db, "PO-2") == []


def test_a_reminder_is_claimed_once(store: Store) -> None:
    with store.transaction() as db:
        assert not audience.reminded(db, "PO-1")
        assert audience.claim_reminder(db, "PO-1", "2026-12-02T09:00:00+00:00")
        assert not audience.claim_reminder(db, "PO-1", "2026-12-02T09:01:00+00:00")
        assert audience.reminded(db, "PO-1") and audience.claim_reminder(db, "PO-2", "2026-12-02T09:01:00+00:00")


def test_home_marks_coalesce_and_a_newer_mark_survives_an_older_take(store: Store) -> None:
    with store.transaction() as db:
        home.mark(db, ["U1", "U2", "U1"], "t1")
        home.mark(db, ["U1"], "t2")  # already waiting: still one row, the first time kept
        assert home.waiting(db, 10) == [("U1", "t1"), ("U2", "t1")]
        assert home.take(db, "U1", "t1") and not home.take(db, "U1", "t1")
        home.mark(db, ["U1"], "t3")
        assert not home.take(db, "U1", "t1")  # a mark made after the read stays for the next pass
        assert home.waiting(db, 1) == [("U2", "t1")]  # longest waiting first
        assert sorted(home.waiting(db, 10)) == [("U1", "t3"), ("U2", "t1")]


def test_a_balance_snapshot_replaces_the_previous_one(store: Store) -> None:
    with store.transaction() as db:
        home.replace_balances(
            db,
            "U10001",
            "B2C",
            [
                {"currency": "USD", "available": "10.50", "pending": "0", "frozen": None},
                {"currency": "EUR", "available": "1"},
            ],
            "t1",
        )
        home.replace_balances(db, "U10001", "B2C", [{"currency": "USD", "available": "12345678.91"}], "t2")
        home.replace_balances(db, "U10001", "B2B", [{"currency": "HKD", "available": "3"}], "t2")
        assert home.balances(db, "U10001", "B2C") == [
            {"currency": "USD", "available": "12345678.91", "pending": None, "frozen": None, "taken_at": "t2"}
        ]


# --- Postgres only: two stores are two replicas ---------------------------------------------


@pytest.fixture
def replicas(database_url: str | None, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    if database_url is None:
        pytest.skip("one process per SQLite file: races between replicas exist on Postgres only")
    a, b = open_store(database_url, tmp_path / "unused"), open_store(database_url, tmp_path / "unused")
    yield a, b
    a.close()
    b.close()


def _race(replicas: tuple[Store, Store], attempt: Callable[[Store], bool]) -> list[bool]:
    won: list[bool] = []
    start = threading.Barrier(2)

    def run(store: Store) -> None:
        start.wait()
        won.append(attempt(store))

    threads = [threading.Thread(target=run, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return sorted(won)


def test_replicas_sweeping_at_once_send_one_reminder(replicas: tuple[Store, Store]) -> None:
    def claim(store: Store) -> bool:
        with store.transaction() as db:
            return audience.claim_reminder(db, "PO-RACE", "2026-12-02T09:00:00+00:00")

    assert _race(replicas, claim) == [False, True]


def test_replicas_publish_a_marked_home_once(replicas: tuple[Store, Store]) -> None:
    with replicas[0].transaction() as db:
        home.mark(db, ["U1"], "t1")

    def take(store: Store) -> bool:
        with store.transaction() as db:
            return home.take(db, "U1", "t1")

    assert _race(replicas, take) == [False, True]


def test_a_home_notice_set_by_one_replica_is_shown_by_the_other_until_it_runs_out(
    replicas: tuple[Store, Store],
) -> None:
    """The answer to a click in an App Home lives in the database: the replica that publishes
    the Home next shows it, whichever that is, and nobody shows it after ``until``."""
    with replicas[0].transaction() as db:
        home.set_notice(db, "U1", "Approved. Sending it to Whalet now.", "2030-01-01T10:02:00+00:00")
    with replicas[1].read() as db:
        assert home.notice(db, "U1", "2030-01-01T10:00:30+00:00") == "Approved. Sending it to Whalet now."
        assert home.notice(db, "U1", "2030-01-01T10:02:00+00:00") is None
        assert home.notice(db, "U2", "2030-01-01T10:00:30+00:00") is None
    with replicas[1].transaction() as db:  # a newer answer replaces it
        home.set_notice(db, "U1", "Rejected.", "2030-01-01T10:05:00+00:00")
    with replicas[0].read() as db:
        assert home.notice(db, "U1", "2030-01-01T10:03:00+00:00") == "Rejected."
