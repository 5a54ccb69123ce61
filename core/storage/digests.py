"""Queries on the digest tables: ``digest_runs``, ``digest_schedules``, ``digest_known``, ``balance_snapshots``."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database


def runs_by_state(db: Database) -> list[tuple[str, int]]:
    """Digest runs by 'running' / 'done' (a run is done once it has a finish time)."""
    return [(row[0], int(row[1])) for row in db.execute(
        "SELECT CASE WHEN finished_at IS NULL THEN 'running' ELSE 'done' END, COUNT(*) FROM digest_runs GROUP BY 1")]


def schedules(db: Database) -> list[tuple[str, str, str, str]]:
    """(channel, time, timezone, created_at) of the schedules added in Slack, oldest first."""
    return [tuple(row) for row in db.execute(  # type: ignore[misc]
        "SELECT channel, time, timezone, created_at FROM digest_schedules ORDER BY id")]


def add_schedule(db: Database, channel: str, time: str, timezone: str, created_by: str, created_at: str) -> bool:
    """False when the same (channel, time, timezone) was already there."""
    cursor = db.execute("""INSERT OR IGNORE INTO digest_schedules (channel, time, timezone, created_by, created_at)
                           VALUES (?, ?, ?, ?, ?)""", [channel, time, timezone, created_by, created_at])
    return int(cursor.rowcount) == 1


def remove_schedules(db: Database, channel: str) -> None:
    db.execute("DELETE FROM digest_schedules WHERE channel = ?", [channel])


def note_known(db: Database, schedule_key: str, first_seen: str) -> None:
    """Remember when a schedule was first seen; a later call keeps the first date."""
    db.execute("INSERT OR IGNORE INTO digest_known (schedule_key, first_seen) VALUES (?, ?)", [schedule_key, first_seen])


def first_seen(db: Database, schedule_key: str) -> str | None:
    row = db.execute("SELECT first_seen FROM digest_known WHERE schedule_key = ?", [schedule_key]).fetchone()
    return None if row is None else str(row[0])


def forget_known(db: Database, schedule_key: str) -> None:
    db.execute("DELETE FROM digest_known WHERE schedule_key = ?", [schedule_key])


def claim_run(db: Database, schedule_key: str, run_date: str, channel: str, now: str) -> int | None:
    """The run's id if it must run now (new, or crashed half-way); None when it is done."""
    db.execute("""INSERT OR IGNORE INTO digest_runs (schedule_key, run_date, channel, state, attempts, started_at)
                  VALUES (?, ?, ?, 'running', 0, ?)""", [schedule_key, run_date, channel, now])
    row = db.execute("SELECT id, state FROM digest_runs WHERE schedule_key = ? AND run_date = ?",
                     [schedule_key, run_date]).fetchone()
    if row[1] == "done":
        return None
    db.execute("UPDATE digest_runs SET attempts = attempts + 1, started_at = ? WHERE id = ?", [now, row[0]])
    return int(row[0])


def run_is_done(db: Database, run_id: int) -> bool:
    return str(db.execute("SELECT state FROM digest_runs WHERE id = ?", [run_id]).fetchone()[0]) == "done"


def finish_run(db: Database, run_id: int, finished_at: str, outbox_id: int) -> None:
    db.execute("UPDATE digest_runs SET state = 'done', finished_at = ?, outbox_id = ? WHERE id = ?",
               [finished_at, outbox_id, run_id])


def last_digest(db: Database) -> dict[str, Any] | None:
    """The latest finished digest: channel, schedule, run_date, finished_at (or None)."""
    row = db.execute("""SELECT channel, schedule_key, run_date, finished_at FROM digest_runs WHERE state = 'done'
                        ORDER BY finished_at DESC, id DESC LIMIT 1""").fetchone()
    if row is None:
        return None
    return {"channel": row[0], "schedule": row[1], "run_date": row[2], "finished_at": row[3]}


def previous_available(db: Database, channel: str, user_id: str, fund_source: str, currency: str,
                       not_run: int) -> str | None:
    """The available balance this channel's latest digest before run ``not_run`` showed."""
    row = db.execute(
        """SELECT available FROM balance_snapshots WHERE channel = ? AND user_id = ? AND fund_source = ?
           AND currency = ? AND digest_run_id != ? ORDER BY id DESC LIMIT 1""",
        [channel, user_id, fund_source, currency, not_run]).fetchone()
    return None if row is None else str(row[0])


def clear_snapshots(db: Database, run_id: int) -> None:
    db.execute("DELETE FROM balance_snapshots WHERE digest_run_id = ?", [run_id])


def add_snapshot(db: Database, run_id: int, channel: str, taken_at: str, user_id: str, fund_source: str,
                 currency: str, *, available: str, pending: str, frozen: str) -> None:
    db.execute("""INSERT INTO balance_snapshots (digest_run_id, channel, taken_at, user_id, fund_source, currency,
                      available, pending, frozen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
               [run_id, channel, taken_at, user_id, fund_source, currency, available, pending, frozen])
