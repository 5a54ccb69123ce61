"""Queries on ``modal_forms``: what a modal's submission needs, kept here instead of in the modal.

Slack caps ``private_metadata`` at 3,000 characters, and a beneficiary form with many fields
carried its validation rules there until the JSON was cut mid-way. The modal now carries only
the row id; rows older than a day are removed when a new one is written (Slack closes a modal
long before that).
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database


def save(db: Database, form_id: str, data: dict[str, Any], *, now: str, forget_before: str) -> None:
    db.execute("DELETE FROM modal_forms WHERE created_at < ?", [forget_before])
    db.execute(
        "INSERT INTO modal_forms (id, data, created_at) VALUES (?, ?, ?)",
        [form_id, json.dumps(data, ensure_ascii=False), now],
    )


def load(db: Database, form_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT data FROM modal_forms WHERE id = ?", [form_id]).fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    return data if isinstance(data, dict) else None
