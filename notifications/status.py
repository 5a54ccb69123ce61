"""Figures for `/whalet status` and `whalet-bot check`: what is waiting, what is stuck."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.storage import outbox
from notifications import inbox
from notifications.digest import last_digest

if TYPE_CHECKING:
    from services.container import Services


def backlog(services: Services) -> dict[str, Any]:
    """``inbox_backlog`` notifications stored but not yet relayed; ``inbox_failed`` relayed only
    generically after errors; ``outbox_backlog`` Slack messages waiting; ``parked`` messages that
    gave up (need a person); ``last_digest`` the latest finished digest (or None);
    ``unreachable_channels`` channel -> Slack error of its last failed post."""
    with services.store.read() as db:
        notes = inbox.counts(db)
        queue = outbox.backlog(db)
        return {
            "inbox_backlog": notes["backlog"],
            "inbox_failed": notes["failed"],
            "outbox_backlog": queue["pending"],
            "parked": queue["parked"],
            "last_digest": last_digest(db),
            "unreachable_channels": outbox.unreachable_channels(db),
        }
