"""Which database: Postgres when ``WHALET_BOT_DATABASE_URL`` is set, else the SQLite file.

psycopg and its pool are imported only when a Postgres URL is given: a bot on SQLite never loads
them (about 10 ms and a few MiB at every start, for a driver it does not use).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.storage.migrations import MIGRATIONS, Migration
from core.storage.store import Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(database_url: str | None, sqlite_path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
    """The store every part of the process shares (migrated to the latest schema)."""
    if database_url:
        from core.storage.postgres import PostgresStore

        return PostgresStore(database_url, migrations)
    return Store(sqlite_path, migrations)


def pending_migrations(store: Store) -> list[str]:
    """Names in the migration list that this database has not applied yet."""
    applied = set(store.applied_migrations())
    return [name for name, _ in MIGRATIONS if name not in applied]
