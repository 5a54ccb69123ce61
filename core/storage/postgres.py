"""The Postgres backend: the ``Store`` interface over a psycopg 3 connection pool.

Chosen with ``WHALET_BOT_DATABASE_URL=postgresql://…``, so that several replicas of the bot can
share one database. The repositories do not change: they get a ``PgDatabase``, which speaks the
two methods they use (``execute`` and ``query``) and rewrites each statement into Postgres's
spelling (``core.storage.dialect``). What changes with several processes is how work is claimed,
and that is the repositories' business (``row_lock``, leases, unique claim rows).

Transactions: READ COMMITTED, the Postgres default. Every state change that could race with
another replica is a compare-and-set (``UPDATE … WHERE state = ? AND version = ?``), an
``INSERT … ON CONFLICT DO NOTHING`` on a unique key, or a row claimed with ``FOR UPDATE SKIP
LOCKED``; each of these is decided by Postgres at the moment of the write, so the reads before
it may be stale without harm. Within one process transactions still run one at a time, behind
the same lock as on SQLite (the code was written for, and is tested under, that discipline);
the pool keeps a spare connection for the metrics scrape and replaces broken ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlite_utils
from psycopg import Connection, Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from core.storage.dialect import POSTGRES, inserted_table, to_postgres
from core.storage.migrations import MIGRATIONS, Migration
from core.storage.store import DatabaseUnavailable, Store

log = logging.getLogger("whalet_bot.store")

POOL_SIZE = 4
CONNECT_TIMEOUT_SECONDS = 5
LOCK_TIMEOUT = "5s"  # as SQLite's busy_timeout: wait this long for a row another replica holds
MIGRATION_LOCK = 0x77686C74  # pg_advisory_xact_lock key: one replica at a time changes the schema


def _server_version(url: str, where: str) -> str:
    """One plain connection first: its error says why (refused, bad password, no such database),
    where the pool would only say that it timed out."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except psycopg.ProgrammingError:  # an unparsable URL: its text could contain the password
        raise DatabaseUnavailable(
            "WHALET_BOT_DATABASE_URL is not a readable PostgreSQL URL (postgresql://user:password@host:port/dbname)"
        ) from None
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"Cannot connect to PostgreSQL at {where} (WHALET_BOT_DATABASE_URL): {reason}"
        ) from None


class PgCursor:
    """A cursor with sqlite3's ``lastrowid`` (read from ``RETURNING id``) and ``rowcount``."""

    def __init__(self, cursor: Cursor[Any], returned_id: bool) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid: int | None = None
        if returned_id:
            row = cursor.fetchone()
            self.lastrowid = None if row is None else int(row[0])

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class _Transaction:
    """What ``Store.audit`` asks of ``db.conn``: is a transaction open?"""

    def __init__(self, conn: Connection[Any]) -> None:
        self._conn = conn

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != 0  # 0: IDLE


class _Table:
    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db, self.name = db, name

    def exists(self) -> bool:
        return self.db.execute("SELECT to_regclass(?) IS NOT NULL", [self.name]).fetchone()[0] is True


class PgDatabase(sqlite_utils.Database):
    """One Postgres connection, with the slice of sqlite_utils' ``Database`` the repositories use
    (``execute``, ``query``, ``db[table].exists()``, ``conn.in_transaction``). It subclasses it
    only so that repository functions typed ``Database`` accept it; nothing of sqlite_utils runs."""

    dialect = POSTGRES

    def __init__(self, conn: Connection[Any], identity_tables: frozenset[str]) -> None:
        self.pg = conn
        self.conn = _Transaction(conn)  # type: ignore[assignment]
        self._identity_tables = identity_tables

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> PgCursor:  # type: ignore[override]
        params = _params(parameters)
        text = to_postgres(sql, has_params=bool(params))
        table = inserted_table(text)
        returned_id = table is not None and table in self._identity_tables
        if returned_id:
            text = text.rstrip().rstrip(";") + " RETURNING id"
        cursor = self.pg.cursor(row_factory=tuple_row)
        cursor.execute(text, params or None)
        return PgCursor(cursor, returned_id)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        values = _params(params)
        cursor = self.pg.cursor(row_factory=dict_row)
        cursor.execute(to_postgres(sql, has_params=bool(values)), values or None)
        yield from cursor

    def __getitem__(self, table_name: str) -> Any:
        return _Table(self, table_name)


def _params(parameters: Sequence[Any] | dict[str, Any] | None) -> list[Any]:
    """sqlite3 stores a bool as 0/1 in an INTEGER column; Postgres would refuse a boolean there."""
    if parameters is None:
        return []
    if isinstance(parameters, dict):
        raise TypeError("named parameters are not used by the repositories")
    return [int(value) if isinstance(value, bool) else value for value in parameters]


def redact(url: str) -> str:
    """host:port/dbname of a URL, never its password (for logs and ``whalet-bot check``)."""
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL: the connect attempt reports it, without echoing it
        return "(unreadable URL)"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


class PostgresStore(Store):
    """``Store`` on Postgres: same ``transaction()`` / ``read()`` / ``migrate()`` / ``audit()``."""

    dialect = POSTGRES
    # Other replicas share the database: a row left half-done may be another live process's
    # work, so it is taken over only once its lease expired.
    exclusive = False

    def __init__(self, url: str, migrations: Sequence[Migration] = MIGRATIONS, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.where = redact(url)
        self._lock = threading.RLock()
        self._current: PgDatabase | None = None
        self._identity_tables: frozenset[str] = frozenset()
        self.server_version = _server_version(url, self.where)
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            configure=_configure,
            kwargs={"autocommit": True},
            name="whalet-bot",
        )
        self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS * 2)
        log.info("PostgreSQL %s at %s", self.server_version, self.where)
        self.migrate(migrations)
        self._identity_tables = self._find_identity_tables()

    def _find_identity_tables(self) -> frozenset[str]:
        """Tables whose ``id`` Postgres assigns: an INSERT into them returns it as ``lastrowid``."""
        with self.read() as db:
            rows = db.execute("""SELECT table_name FROM information_schema.columns WHERE column_name = 'id'
                                 AND is_identity = 'YES' AND table_schema = current_schema()""").fetchall()
        return frozenset(str(row[0]) for row in rows)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """BEGIN … COMMIT, or ROLLBACK and re-raise; nested use joins through a savepoint."""
        with self._lock:
            current = self._current
            if current is not None:
                with current.pg.transaction():
                    yield current
                return
            with self.pool.connection() as conn, conn.transaction():
                self._current = PgDatabase(conn, self._identity_tables)
                try:
                    yield self._current
                finally:
                    self._current = None

    @contextmanager
    def read(self) -> Iterator[sqlite_utils.Database]:
        """Reads outside a transaction see what is committed; inside one, also its own writes."""
        with self._lock:
            if self._current is not None:
                yield self._current
                return
            with self.pool.connection() as conn:
                yield PgDatabase(conn, self._identity_tables)

    def _lock_schema(self, db: sqlite_utils.Database) -> None:
        db.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")

    def close(self) -> None:
        self.pool.close()

    def describe(self) -> str:
        return f"PostgreSQL {self.server_version} at {self.where}"

    def pragmas(self) -> dict[str, Any]:
        """The settings that matter for durability, like SQLite's pragmas."""
        with self.read() as db:
            get = lambda name: str(db.execute(f"SHOW {name}").fetchone()[0])  # noqa: E731
            return {
                "server_version": self.server_version,
                "synchronous_commit": get("synchronous_commit"),
                "fsync": get("fsync"),
                "default_transaction_isolation": get("default_transaction_isolation"),
            }


def _configure(conn: Connection[Any]) -> None:
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
