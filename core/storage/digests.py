"""Queries on the digest tables: ``digest_runs``, ``digest_schedules``, ``digest_known``, ``balance_snapshots``."""

from __future__ import annotations

from sqlite_utils import Database


def runs_by_state(db: Database) -> list[tuple[str, int]]:
    """Digest runs by 'running' / 'done' (a run is done once it has a finish time)."""
    return [(row[0], int(row[1])) for row in db.execute(
        "SELECT CASE WHEN finished_at IS NULL THEN 'running' ELSE 'done' END, COUNT(*) FROM digest_runs GROUP BY 1")]
