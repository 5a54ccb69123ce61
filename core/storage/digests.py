"""Queries on the digest tables: ``digest_runs`` (with its chart columns), ``digest_schedules``,
``digest_known``, ``balance_snapshots``, ``digest_totals``."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from core.storage.dialect import row_lock


def runs_by_state(db: Database) -> list[tuple[str, int]]:
    """Digest runs by 'running' / 'done' (a run is done once it has a finish time)."""
    return [
        (row[0], int(row[1]))
        for row in db.execute(
            "SELECT CASE WHEN finished_at IS NULL THEN 'running' ELSE 'done' END, COUNT(*) FROM digest_runs GROUP BY 1"
        )
    ]


def schedules(db: Database) -> list[tuple[str, str, str, str]]:
    """(channel, time, timezone, created_at) of the schedules added in Slack, oldest first."""
    return [
        tuple(row)
        for row in db.execute(  # type: ignore[misc]
            "SELECT channel, time, timezone, created_at FROM digest_schedules ORDER BY id"
        )
    ]


def add_schedule(db: Database, channel: str, time: str, timezone: str, created_by: str, created_at: str) -> bool:
    """False when the same (channel, time, timezone) was already there."""
    cursor = db.execute(
        """INSERT OR IGNORE INTO digest_schedules (channel, time, timezone, created_by, created_at)
                           VALUES (?, ?, ?, ?, ?)""",
        [channel, time, timezone, created_by, created_at],
    )
    return int(cursor.rowcount) == 1


def remove_schedules(db: Database, channel: str) -> None:
    db.execute("DELETE FROM digest_schedules WHERE channel = ?", [channel])


def note_known(db: Database, schedule_key: str, first_seen: str) -> None:
    """Remember when a schedule was first seen; a later call keeps the first date."""
    db.execute(
        "INSERT OR IGNORE INTO digest_known (schedule_key, first_seen) VALUES (?, ?)", [schedule_key, first_seen]
    )


def first_seen(db: Database, schedule_key: str) -> str | None:
    row = db.execute("SELECT first_seen FROM digest_known WHERE schedule_key = ?", [schedule_key]).fetchone()
    return None if row is None else str(row[0])


def forget_known(db: Database, schedule_key: str) -> None:
    db.execute("DELETE FROM digest_known WHERE schedule_key = ?", [schedule_key])


def claim_run(
    db: Database,
    schedule_key: str,
    run_date: str,
    channel: str,
    now: str,
    *,
    owner: str,
    lease_until: str,
    take_over_live: bool,
) -> int | None:
    """The run's id if this process must run it now: new, or left ``running`` by a holder that is
    gone (its lease ran out, or ``take_over_live``: the only process on a SQLite file, so any other
    holder died). None when it is done or another live replica is gathering it.

    The (schedule_key, run_date) row is unique, so however many replicas the scheduler fires at
    once, one INSERT creates it; the take-over is a compare-and-set on (owner, lease_until)."""
    db.execute(
        """INSERT OR IGNORE INTO digest_runs (schedule_key, run_date, channel, state, attempts, started_at)
                  VALUES (?, ?, ?, 'running', 0, ?)""",
        [schedule_key, run_date, channel, now],
    )
    row = db.execute(
        "SELECT id, state, owner, lease_until FROM digest_runs WHERE schedule_key = ? AND run_date = ?",
        [schedule_key, run_date],
    ).fetchone()
    run_id, state, holder, held_until = row
    if state == "done":
        return None
    if holder is not None and holder != owner and not take_over_live and (held_until or "") >= now:
        return None
    taken = db.execute(
        """UPDATE digest_runs SET attempts = attempts + 1, started_at = ?, owner = ?, lease_until = ?
                          WHERE id = ? AND state = 'running' AND COALESCE(owner, '') = ?
                          AND COALESCE(lease_until, '') = ?""",
        [now, owner, lease_until, run_id, holder or "", held_until or ""],
    ).rowcount
    return int(run_id) if taken == 1 else None


def run_is_done(db: Database, run_id: int) -> bool:
    """Read with the row locked (Postgres: FOR UPDATE, waiting), so of two replicas finishing the
    same run the second sees the first's ``done`` and posts nothing."""
    state = db.execute(
        f"SELECT state FROM digest_runs WHERE id = ?{row_lock(db, skip_locked=False)}", [run_id]
    ).fetchone()[0]
    return str(state) == "done"


def finish_run(db: Database, run_id: int, finished_at: str, outbox_id: int, *, chart: bool = False) -> None:
    """Done, and (``chart``) its chart waiting to be uploaded once the digest is in Slack."""
    db.execute(
        "UPDATE digest_runs SET state = 'done', finished_at = ?, outbox_id = ?, chart_state = ? WHERE id = ?",
        [finished_at, outbox_id, "pending" if chart else None, run_id],
    )


def last_digest(db: Database) -> dict[str, Any] | None:
    """The latest finished digest: channel, schedule, run_date, finished_at, chart_state, chart_error (or None)."""
    row = db.execute("""SELECT channel, schedule_key, run_date, finished_at, chart_state, chart_error FROM digest_runs
                        WHERE state = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1""").fetchone()
    if row is None:
        return None
    return {
        "channel": row[0],
        "schedule": row[1],
        "run_date": row[2],
        "finished_at": row[3],
        "chart_state": row[4],
        "chart_error": row[5],
    }


def previous_available(
    db: Database, channel: str, user_id: str, fund_source: str, currency: str, not_run: int
) -> str | None:
    """The available balance this channel's latest digest before run ``not_run`` showed."""
    row = db.execute(
        """SELECT available FROM balance_snapshots WHERE channel = ? AND user_id = ? AND fund_source = ?
           AND currency = ? AND digest_run_id != ? ORDER BY id DESC LIMIT 1""",
        [channel, user_id, fund_source, currency, not_run],
    ).fetchone()
    return None if row is None else str(row[0])


def clear_snapshots(db: Database, run_id: int) -> None:
    db.execute("DELETE FROM balance_snapshots WHERE digest_run_id = ?", [run_id])


def add_snapshot(
    db: Database,
    run_id: int,
    channel: str,
    taken_at: str,
    user_id: str,
    fund_source: str,
    currency: str,
    *,
    available: str,
    pending: str,
    frozen: str,
) -> None:
    db.execute(
        """INSERT INTO balance_snapshots (digest_run_id, channel, taken_at, user_id, fund_source, currency,
                      available, pending, frozen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [run_id, channel, taken_at, user_id, fund_source, currency, available, pending, frozen],
    )


def previous_total(db: Database, channel: str, user_id: str, currency: str, not_run: int) -> str | None:
    """The complete total in ``currency`` this channel's latest digest before run ``not_run`` showed."""
    row = db.execute(
        """SELECT total FROM digest_totals WHERE channel = ? AND user_id = ? AND currency = ? AND complete = 1
           AND digest_run_id != ? ORDER BY id DESC LIMIT 1""",
        [channel, user_id, currency, not_run],
    ).fetchone()
    return None if row is None else str(row[0])


def store_totals(
    db: Database, run_id: int, channel: str, taken_at: str, currency: str, totals: list[tuple[str, str, bool]]
) -> None:
    """(user_id, exact total, complete) per user; a redo of the run replaces its rows."""
    db.execute("DELETE FROM digest_totals WHERE digest_run_id = ?", [run_id])
    for user_id, total, complete in totals:
        db.execute(
            """INSERT INTO digest_totals (digest_run_id, channel, taken_at, user_id, currency, total, complete)
                      VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [run_id, channel, taken_at, user_id, currency, total, 1 if complete else 0],
        )


def snapshot_history(db: Database, channel: str, since: str) -> list[tuple[int, str, str, str]]:
    """(run id, taken_at, currency, available) of this channel's snapshots since ``since``, oldest first."""
    return [
        (int(r[0]), str(r[1]), str(r[2]), str(r[3]))
        for r in db.execute(
            """SELECT digest_run_id, taken_at, currency, available FROM balance_snapshots
           WHERE channel = ? AND taken_at >= ? ORDER BY taken_at, id""",
            [channel, since],
        )
    ]


def charts_due(db: Database) -> list[dict[str, Any]]:
    """Runs whose chart is waiting or was being uploaded: id, channel, state, holder, lease."""
    return [
        {"id": int(r[0]), "channel": r[1], "state": r[2], "owner": r[3], "lease_until": r[4], "run_date": r[5]}
        for r in db.execute("""SELECT id, channel, chart_state, chart_owner, chart_lease_until, run_date
                                   FROM digest_runs WHERE chart_state IN ('pending', 'uploading') ORDER BY id""")
    ]


def claim_chart(
    db: Database, run_id: int, state: str, owner: str | None, lease_until: str | None, *, me: str, until: str
) -> bool:
    """Compare-and-set to ``uploading`` held by ``me`` from the (state, owner, lease) just read."""
    return (
        int(
            db.execute(
                """UPDATE digest_runs SET chart_state = 'uploading', chart_owner = ?, chart_lease_until = ?
           WHERE id = ? AND chart_state = ? AND COALESCE(chart_owner, '') = ? AND COALESCE(chart_lease_until, '') = ?""",
                [me, until, run_id, state, owner or "", lease_until or ""],
            ).rowcount
        )
        == 1
    )


def finish_chart(db: Database, run_id: int, me: str, *, file_id: str | None, error: str | None) -> bool:
    """``done`` with the file id, or ``failed`` with why; only by the holder of the claim."""
    return (
        int(
            db.execute(
                """UPDATE digest_runs SET chart_state = ?, chart_file_id = ?, chart_error = ?, chart_lease_until = NULL
           WHERE id = ? AND chart_state = 'uploading' AND chart_owner = ?""",
                ["failed" if error else "done", file_id, error, run_id, me],
            ).rowcount
        )
        == 1
    )


def release_chart(db: Database, run_id: int, me: str) -> None:
    """Back to ``pending`` (the digest is not in Slack yet): a later pass claims it again."""
    db.execute(
        """UPDATE digest_runs SET chart_state = 'pending', chart_owner = NULL, chart_lease_until = NULL
                  WHERE id = ? AND chart_state = 'uploading' AND chart_owner = ?""",
        [run_id, me],
    )
