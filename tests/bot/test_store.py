"""The SQLite store: pragmas, migrations, atomic transactions, append-only audit, durability."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from core.storage.migrations import MIGRATIONS
from core.storage.store import Store, check_migrations, split_statements

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "bot.db")
    yield s
    s.close()


def test_pragmas_applied(store: Store) -> None:
    pragmas = store.pragmas()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == "FULL"
    assert pragmas["busy_timeout"] == 5000
    assert pragmas["foreign_keys"] is True
    assert pragmas["sqlite_version"] == sqlite3.sqlite_version


def test_sqlite_version_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="whalet_bot.store"):
        Store(tmp_path / "v.db").close()
    assert any(sqlite3.sqlite_version in record.getMessage() for record in caplog.records)


CORE = [m for m in MIGRATIONS if m[0].startswith("000")]


def test_migrations_idempotent_across_reopen(tmp_path: Path) -> None:
    migrations = [
        *CORE,
        (
            "0050_extra_early",
            """
            CREATE TABLE early (x TEXT);
            CREATE TRIGGER early_guard BEFORE DELETE ON early BEGIN SELECT RAISE(ABORT, 'no; never'); END;
        """,
        ),
        ("0100_extra_items", ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"]),
    ]
    first = Store(tmp_path / "m.db", migrations=migrations)
    assert first.applied_migrations() == ["0001_core_audit_log", "0002_core_kv", "0050_extra_early", "0100_extra_items"]
    with first.transaction() as db:
        db.table("items").insert({"id": 1, "name": "kept"})
    first.close()
    second = Store(tmp_path / "m.db", migrations=migrations)
    assert second.migrate(migrations) == []
    with second.read() as db:
        assert [row["name"] for row in db.table("items").rows] == ["kept"]
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 4
    second.close()


def test_failing_migration_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        Store(
            tmp_path / "bad.db", migrations=[*CORE, ("0200_bad", ["CREATE TABLE half (x TEXT)", "CREATE TABLE oops ("])]
        )
    check = Store(tmp_path / "bad.db", migrations=CORE)
    with check.read() as db:
        assert "half" not in db.table_names()
    assert "0200_bad" not in check.applied_migrations()
    check.close()


def test_an_upgrade_whose_last_migration_fails_applies_none_of_them(tmp_path: Path) -> None:
    """All pending migrations run in one transaction: the database stays at the old schema, not
    between the two, so the old version still runs on it and the fixed release starts clean."""
    Store(tmp_path / "up.db", migrations=CORE).close()
    upgrade = [*CORE, ("0100_good", ["CREATE TABLE good (x TEXT)"]), ("0200_bad", ["CREATE TABLE oops ("])]
    with pytest.raises(sqlite3.OperationalError):
        Store(tmp_path / "up.db", migrations=upgrade)
    check = Store(tmp_path / "up.db", migrations=CORE)
    with check.read() as db:
        assert "good" not in db.table_names()
    assert check.applied_migrations() == ["0001_core_audit_log", "0002_core_kv"]
    check.close()


def test_duplicate_migration_names_refused() -> None:
    with pytest.raises(RuntimeError, match="0001_core_audit_log"):
        check_migrations([*CORE, ("0001_core_audit_log", ["SELECT 1"])])


def test_the_shipped_migrations_are_unique_and_in_name_order() -> None:
    """New migrations are appended; the list order is the order a fresh database is built in."""
    names = [name for name, _ in check_migrations(MIGRATIONS)]
    assert names == sorted(names)


def test_split_statements_keeps_triggers_whole() -> None:
    sql = "CREATE TABLE a (x TEXT DEFAULT 'a;b'); CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;"
    assert len(split_statements(sql)) == 2
    assert split_statements("SELECT 1; SELECT 2") == ["SELECT 1;", "SELECT 2"]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1;")


def test_failing_transaction_leaves_nothing(store: Store) -> None:
    with store.transaction() as db:
        db.table("things").create({"id": int, "n": int}, pk="id")
    with pytest.raises(ZeroDivisionError):
        with store.transaction() as db:
            db.table("things").insert({"id": 1, "n": 1})
            store.set_flag(db, "frozen", "yes")
            store.audit(db, "U1", "test", "things:1")
            raise ZeroDivisionError("a failure half-way through the transaction")
    with store.read() as db:
        assert db.table("things").count == 0
        assert db.table("audit_log").count == 0
    assert store.get_flag("frozen") is None
    assert not store.db.conn.in_transaction


def test_nested_transaction_joins_and_does_not_commit_early(store: Store) -> None:
    with store.transaction() as db:
        db.table("things").create({"id": int}, pk="id")
    with pytest.raises(RuntimeError):
        with store.transaction() as outer:
            outer.table("things").insert({"id": 1})
            with store.transaction() as inner:
                assert inner is outer
                inner.table("things").insert({"id": 2})
            assert store.db.conn.in_transaction  # the inner block did not commit
            raise RuntimeError("outer fails after the inner block finished")
    with store.read() as db:
        assert db.table("things").count == 0


def test_nested_failure_undoes_only_its_own_writes(store: Store) -> None:
    with store.transaction() as db:
        db.table("things").create({"id": int}, pk="id")
    with store.transaction() as outer:
        outer.table("things").insert({"id": 1})
        with pytest.raises(ValueError):
            with store.transaction() as inner:
                inner.table("things").insert({"id": 2})
                raise ValueError
    with store.read() as db:
        assert [row["id"] for row in db.table("things").rows] == [1]


def test_audit_log_is_append_only(store: Store) -> None:
    with store.transaction() as db:
        row_id = store.audit(
            db,
            "U0APP1",
            "approve",
            "req:42",
            fingerprint="f" * 16,
            detail={"amount": Decimal("1200.50"), "currency": "USD", "approvals": 1},
        )
    with store.read() as db:
        row = db.table("audit_log").get(row_id)
    assert json.loads(row["detail"]) == {"amount": "1200.50", "approvals": 1, "currency": "USD"}
    assert (row["actor"], row["action"], row["subject"]) == ("U0APP1", "approve", "req:42")
    for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            with store.transaction() as db:
                db.execute(sql)
    with store.read() as db:
        assert db.table("audit_log").get(row_id)["actor"] == "U0APP1"


def test_audit_outside_transaction_refused(store: Store) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        with store.read() as db:
            store.audit(db, "U1", "x", "y")


def test_flags(store: Store) -> None:
    assert store.get_flag("frozen") is None
    with store.transaction() as db:
        store.set_flag(db, "frozen", "U0ADM")
    assert store.get_flag("frozen") == "U0ADM"
    with store.transaction() as db:
        store.set_flag(db, "frozen", "U0ADM2")
    assert store.get_flag("frozen") == "U0ADM2"
    with store.transaction() as db:
        store.set_flag(db, "frozen", None)
    assert store.get_flag("frozen") is None


def test_writer_stress_exact_total(store: Store) -> None:
    with store.transaction() as db:
        db.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        db.execute("INSERT INTO counter VALUES (1, 0)")
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(50):
                with store.transaction() as db:
                    n = db.execute("SELECT n FROM counter WHERE id = 1").fetchone()[0]
                    db.execute("UPDATE counter SET n = ? WHERE id = 1", [n + 1])
        except BaseException as exc:  # collected: a thread's exception must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as db:
        assert db.execute("SELECT n FROM counter").fetchone()[0] == 400


CHILD = """
import sys
from core.storage.store import Store
store = Store(sys.argv[1])
with store.transaction() as db:
    db.execute("CREATE TABLE IF NOT EXISTS acked (id INTEGER PRIMARY KEY, payload TEXT)")
i = 0
while True:
    i += 1
    with store.transaction() as db:
        db.execute("INSERT INTO acked (id, payload) VALUES (?, ?)", [i, "x" * 200])
    print(f"ACK {i}", flush=True)
"""


def test_sigkill_keeps_every_acked_row(tmp_path: Path) -> None:
    path = tmp_path / "kill.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    acked: list[int] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            acked.append(int(line.split()[1]))
            if len(acked) == 40:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    reopened = Store(path)
    with reopened.read() as db:
        present = {row[0] for row in db.execute("SELECT id FROM acked")}
    reopened.close()
    assert len(acked) == 40
    assert set(acked) <= present
