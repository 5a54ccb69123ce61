"""Queries on ``approval_requests`` and ``approvals``: payout and pay requests and who approved them."""

from __future__ import annotations

from sqlite_utils import Database


def counts_by_state(db: Database) -> list[tuple[str, int]]:
    return [(row[0], int(row[1])) for row in db.execute("SELECT state, COUNT(*) FROM approval_requests GROUP BY state")]
