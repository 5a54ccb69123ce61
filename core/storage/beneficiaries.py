"""Queries on ``beneficiary_book``: beneficiaries added through Slack, and their Whalet verdict."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database


def with_status(db: Database, status: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM beneficiary_book WHERE status = ? ORDER BY nickname", [status]))


def nickname_used(db: Database, nickname: str) -> bool:
    """By any row, whatever its status (a pending addition holds its nickname)."""
    return db.execute("SELECT 1 FROM beneficiary_book WHERE nickname = ?", [nickname]).fetchone() is not None


def add(
    db: Database,
    *,
    mer_beneficiary_no: str,
    beneficiary_id: str | None,
    nickname: str,
    name: str,
    country: str,
    currency: str,
    account_tail: str,
    status: str,
    added_by: str,
    added_at: str,
) -> bool:
    """False when the nickname (or the application number) is already in the book: the UNIQUE
    constraint decides, so of two concurrent additions of one nickname exactly one gets True."""
    cursor = db.execute(
        """INSERT OR IGNORE INTO beneficiary_book (mer_beneficiary_no, id, nickname, name, country, currency,
               account_tail, status, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            mer_beneficiary_no,
            beneficiary_id,
            nickname,
            name,
            country,
            currency,
            account_tail,
            status,
            added_by,
            added_at,
        ],
    )
    return int(cursor.rowcount) == 1


def set_id(db: Database, mer_beneficiary_no: str, beneficiary_id: str | None) -> None:
    db.execute(
        "UPDATE beneficiary_book SET id = COALESCE(id, ?) WHERE mer_beneficiary_no = ?",
        [beneficiary_id, mer_beneficiary_no],
    )


def remove_unconfirmed(db: Database, mer_beneficiary_no: str) -> None:
    """An application Whalet refused at once; never one Whalet has given a result for."""
    db.execute(
        "DELETE FROM beneficiary_book WHERE mer_beneficiary_no = ? AND status = 'PROCESSING'", [mer_beneficiary_no]
    )


def by_application(db: Database, mer_beneficiary_no: str) -> dict[str, str] | None:
    """nickname, name, added_by of the row the bot added under this application number."""
    row = db.execute(
        "SELECT nickname, name, added_by FROM beneficiary_book WHERE mer_beneficiary_no = ?", [mer_beneficiary_no]
    ).fetchone()
    return None if row is None else {"nickname": row[0], "name": row[1], "added_by": row[2]}


def set_result(
    db: Database, mer_beneficiary_no: str, *, status: str, beneficiary_id: str | None, fail_reason: str | None
) -> None:
    db.execute(
        "UPDATE beneficiary_book SET status = ?, id = COALESCE(?, id), fail_reason = ? WHERE mer_beneficiary_no = ?",
        [status, beneficiary_id, fail_reason, mer_beneficiary_no],
    )
