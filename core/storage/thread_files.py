"""Queries on ``thread_files``: files waiting to go into a message's thread, claimed like an
outbox row (state, holder, lease), so a restart neither loses one nor uploads it twice."""

from __future__ import annotations

import base64
from typing import Any

from sqlite_utils import Database


def queue(db: Database, parent_ref: str, channel: str, filename: str, title: str, content: bytes, now: str) -> None:
    """Once per (parent, file name): a second queue of the same file is a no-op."""
    db.execute(
        "INSERT OR IGNORE INTO thread_files (parent_ref, channel, filename, title, content, queued_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [parent_ref, channel, filename, title, base64.b64encode(content).decode("ascii"), now],
    )


def due(db: Database) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT id, parent_ref, channel, filename, title, state, owner, lease_until FROM thread_files "
            "WHERE state IN ('pending', 'uploading') ORDER BY id"
        )
    )


def content(db: Database, file_row_id: int) -> bytes:
    row = db.execute("SELECT content FROM thread_files WHERE id = ?", [file_row_id]).fetchone()
    return base64.b64decode(row[0]) if row else b""


def claim(db: Database, row: dict[str, Any], *, me: str, until: str) -> bool:
    """Compare-and-set to ``uploading`` held by ``me`` from the (state, holder, lease) just read."""
    cursor = db.execute(
        "UPDATE thread_files SET state = 'uploading', owner = ?, lease_until = ? WHERE id = ? AND state = ? "
        "AND COALESCE(owner, '') = ? AND COALESCE(lease_until, '') = ?",
        [me, until, row["id"], row["state"], row["owner"] or "", row["lease_until"] or ""],
    )
    return int(cursor.rowcount) == 1


def release(db: Database, file_row_id: int, me: str) -> None:
    """Back to ``pending``: its message is not in Slack yet."""
    db.execute(
        "UPDATE thread_files SET state = 'pending', owner = NULL, lease_until = NULL "
        "WHERE id = ? AND state = 'uploading' AND owner = ?",
        [file_row_id, me],
    )


def finish(db: Database, file_row_id: int, me: str, *, file_id: str | None, error: str | None) -> bool:
    cursor = db.execute(
        "UPDATE thread_files SET state = ?, file_id = ?, error = ?, lease_until = NULL "
        "WHERE id = ? AND state = 'uploading' AND owner = ?",
        ["failed" if error else "done", file_id, error, file_row_id, me],
    )
    return int(cursor.rowcount) == 1


def of_parent(db: Database, parent_ref: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT filename, state, file_id, error FROM thread_files WHERE parent_ref = ?", [parent_ref]))
