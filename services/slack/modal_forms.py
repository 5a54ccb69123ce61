"""What a modal's submission needs, kept server-side: the modal carries only the row's id.

A view_submission has no response_url and no channel, and Slack caps ``private_metadata`` at
3,000 characters, so every feature's modal stores its context (origin channel, request id, a
form's rules) with ``stash`` and reads it back with ``recall``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from core.clock import SYSTEM_CLOCK
from core.storage import forms
from core.storage.store import Store

FORM_LIFETIME = timedelta(days=1)  # Slack closes a modal long before; older rows are removed


def stash(store: Store, data: dict[str, Any]) -> str:
    """Keep what a modal's submission will need; returns the id for its ``private_metadata``.

    Real time, not the business clock: a modal lives in real time whatever a test's clock says."""
    form_id = secrets.token_urlsafe(12)
    now = SYSTEM_CLOCK.now()
    with store.transaction() as db:
        forms.save(db, form_id, data, now=now.isoformat(), forget_before=(now - FORM_LIFETIME).isoformat())
    return form_id


def recall(store: Store, view: dict[str, Any]) -> dict[str, Any]:
    """What ``stash`` kept for this view; {} for an unknown or forged id."""
    form_id = str(view.get("private_metadata") or "")
    if not form_id:
        return {}
    with store.read() as db:
        return forms.load(db, form_id) or {}
