"""The one SQLite database: every write in the bot goes through ``Store.transaction()``.

Why it looks like this (see the research notes on SQLite, A5):

- ONE connection, shared by threads behind a re-entrant lock. SQLite has one writer at a time
  anyway, and a single connection sidesteps the WAL-reset corruption bug (SQLite < 3.51.3 needs
  two connections writing or checkpointing at once to trigger it).
- ``BEGIN IMMEDIATE``: a deferred transaction that reads then writes can fail with "database is
  locked" at once, whatever busy_timeout says, when another connection (another process, the
  CLI) committed in between. IMMEDIATE takes the write lock up front and waits politely.
- ``synchronous=FULL`` in WAL mode: the webhook acks Whalet after commit, so a commit must
  survive power loss, not only a process crash.
- The file is created 0600 before SQLite opens it: SQLite creates a database 0644 (less the
  umask) and gives its ``-wal`` and ``-shm`` the database's mode, and the WAL holds full account
  numbers and payer names in clear.

Migrations: ``core.storage.migrations.MIGRATIONS``, one explicit ordered list of ``(name,
statements)``. Each runs once, statement by statement, with the row recording it in
``schema_migrations``; all that are pending at start-up run in one transaction together. (A
single string is accepted too and split into complete statements with
``sqlite3.complete_statement``, so triggers with inner ``;`` survive; ``executescript`` is never
used because it commits.)
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import sqlite_utils

from core.clock import SYSTEM_CLOCK
from core.storage.dialect import SQLITE, PerDialect
from core.storage.migrations import MIGRATIONS, Migration, Statement
from whalet.private_files import create_private

log = logging.getLogger("whalet_bot.store")

PROVIDERS = ("bot.migrations", "commands.schema", "notifications.schema")
WAL_RESET_FIXED = (3, 51, 3)
_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def utc_now() -> str:
    return SYSTEM_CLOCK.now().isoformat(timespec="milliseconds")


def _jsonable(value: Any) -> Any:
    """Decimals as strings (exact, and never mistaken for floats by a reader)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot store {type(value).__name__} in the audit log")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_jsonable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def split_statements(script: str) -> list[str]:
    """Split SQL on the ``;`` that end complete statements (not those inside triggers/strings)."""
    statements, pending = [], ""
    pieces = script.split(";")
    for index, piece in enumerate(pieces):
        pending += piece if index == len(pieces) - 1 else piece + ";"
        if pending.strip(" \t\r\n;") and sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        if not sqlite3.complete_statement(pending + ";"):
            raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]!r}")
        statements.append(pending.strip())
    return statements


def check_migrations(migrations: Sequence[Migration], dialect: str = SQLITE) -> list[tuple[str, list[str]]]:
    """Refuse a list with a repeated name; returns each migration as its list of statements, in
    the spelling of ``dialect`` where a statement is written per engine (``PerDialect``)."""
    seen: set[str] = set()
    checked = []
    for name, body in migrations:
        if name in seen:
            raise RuntimeError(f"migration {name!r} is listed twice")
        seen.add(name)
        statements: list[Statement] = list(split_statements(body) if isinstance(body, str) else body)
        spelled = [s.text(dialect) if isinstance(s, PerDialect) else s for s in statements]
        checked.append((name, [s for s in spelled if s is not None]))
    return checked


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached at start-up; the message says where and why (no password)."""


class Store:
    """SQLite behind one lock. ``transaction()`` for writes, ``read()`` for reads.

    ``core.storage.postgres.PostgresStore`` is the same interface on Postgres; code that holds a
    ``Store`` never asks which one it has, except through ``dialect`` and ``exclusive``."""

    dialect = SQLITE
    # One process owns a SQLite file (``whalet-bot run`` holds core.storage.instance_lock), so
    # anything left half-done in it at start-up was left by a dead process: recover it at once.
    exclusive = True

    def __init__(self, path: str | Path, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            create_private(self.path)
        self._lock = threading.RLock()
        self._depth = 0
        conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        self.db = sqlite_utils.Database(conn)
        self._log_version()
        if self.pragmas()["journal_mode"] != "wal":
            log.warning("SQLite at %s is not in WAL mode (%s)", path, self.pragmas()["journal_mode"])
        self.migrate(migrations)

    @staticmethod
    def _log_version() -> None:
        if sqlite3.sqlite_version_info >= WAL_RESET_FIXED:
            log.info("SQLite library %s", sqlite3.sqlite_version)
        else:
            log.info(
                "SQLite library %s (older than 3.51.3: WAL-reset bug present; safe while only "
                "this process writes through its single connection)",
                sqlite3.sqlite_version,
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """``BEGIN IMMEDIATE`` … COMMIT, or ROLLBACK and re-raise. Nested use on the same thread
        joins the open transaction through a savepoint: it never commits early, and an error
        inside it undoes only its own writes (the outer one decides the rest)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    with self.db.atomic():
                        yield self.db
                finally:
                    self._depth -= 1
                return
            self.db.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.db
                self.db.conn.commit()
            except BaseException:
                self.db.rollback()
                raise
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite_utils.Database]:
        """The database for reads, under the lock (inside a transaction it sees its writes)."""
        with self._lock:
            yield self.db

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def pragmas(self) -> dict[str, Any]:
        """What the connection actually runs with, for the startup self-check."""
        with self._lock:
            get = lambda name: self.db.conn.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
            return {
                "journal_mode": str(get("journal_mode")).lower(),
                "synchronous": _SYNCHRONOUS.get(get("synchronous"), "?"),
                "busy_timeout": get("busy_timeout"),
                "foreign_keys": bool(get("foreign_keys")),
                "sqlite_version": sqlite3.sqlite_version,
            }

    def describe(self) -> str:
        """Backend, version and where, for ``whalet-bot check`` and the start-up log."""
        return f"SQLite {sqlite3.sqlite_version} at {self.path}"

    def _lock_schema(self, db: sqlite_utils.Database) -> None:
        """Make this transaction the only one changing the schema (SQLite: BEGIN IMMEDIATE did)."""

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
        """Apply pending migrations in list order, all in one transaction; returns the names
        applied now. One transaction means a crash leaves the schema where it was, never half-way
        through an upgrade, and a fresh database costs one durable commit instead of one per
        migration."""
        checked = check_migrations(migrations, self.dialect)
        applied_now = []
        with self.transaction() as db:
            self._lock_schema(db)
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
            # Read inside the write lock, so two processes starting together apply each one once.
            done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
            for name, statements in checked:
                if name in done:
                    continue
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", [name, utc_now()])
                applied_now.append(name)
        for name in applied_now:
            log.info("applied migration %s", name)
        return applied_now

    def applied_migrations(self) -> list[str]:
        with self.read() as db:
            return [row[0] for row in db.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def audit(
        self,
        db: sqlite_utils.Database,
        actor: str,
        action: str,
        subject: str,
        fingerprint: str = "",
        detail: dict[str, Any] | str = "",
    ) -> int:
        """Append an audit row inside the caller's transaction, so the row exists exactly when the
        action it records was committed. Returns the row id."""
        if not db.conn.in_transaction:
            raise RuntimeError("audit() must run inside store.transaction()")
        text = detail if isinstance(detail, str) else to_json(detail)
        cursor = db.execute(
            "INSERT INTO audit_log (at, actor, action, subject, fingerprint, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [utc_now(), actor, action, subject, fingerprint, text],
        )
        return int(cursor.lastrowid or 0)

    def get_flag(self, name: str) -> str | None:
        with self.read() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ?", [name]).fetchone()
            return None if row is None else str(row[0])

    def set_flag(self, db: sqlite_utils.Database, name: str, value: str | None) -> None:
        """Set (or with None, clear) a flag; pass the db of an open transaction to audit alongside."""
        if value is None:
            db.execute("DELETE FROM kv WHERE key = ?", [name])
        else:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [name, value],
            )
