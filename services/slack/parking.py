"""Which Slack errors park an outbox row at once, and the alert a person gets when one does.

Retrying ``not_in_channel`` eight times over minutes changes nothing: the bot is still not in the
channel. Such errors park the row on the first answer and queue an alert, in the same transaction,
that says what to do (invite the bot, fix the channel id, add the scope). A crash-recovery history
lookup that Slack refuses parks too: without it the worker cannot know whether the message went
out before the crash, and re-posting risks the duplicate the lookup exists to prevent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from core.clock import SYSTEM_CLOCK
from core.config import Notifications
from core.storage import outbox as outbox_rows
from core.storage.outbox import enqueue_post
from core.storage.store import Store

# Errors no retry can fix: park at once so a person looks at them.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",  # the blocks' text over Slack's total: resending the same never fits
        "invalid_arguments",
        "no_text",
        "too_many_attachments",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "cant_update_message",
        "edit_window_closed",
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "missing_scope",
        # conversations.open for an approver's DM: the person is gone or cannot be written to
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
    }
)
# Slack's own words for "not now" (besides HTTP 5xx and network errors): the message is fine,
# so these never count toward max_attempts.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"})
HISTORY_UNCHECKED = "history_unchecked"  # prefix of the parked error when the recovery lookup failed
QUIET_SECONDS = 15 * 60  # one alert per channel and error per quarter of an hour

FIXES = {
    "not_in_channel": "invite the bot to <#{channel}> (`/invite @` and the bot's name, in the channel)",
    "channel_not_found": "check the channel id {channel} in the policy file; for a private channel, "
    "invite the bot first",
    "is_archived": "<#{channel}> is archived: unarchive it or point the policy file at another channel",
    "missing_scope": "the app lacks a scope for this call: compare app_manifest.yml with the installed "
    "app and reinstall it",
    "invalid_blocks": "the message broke a Block Kit rule; the log line `outbox_failed` has the row id",
    "msg_too_long": "the message was longer than Slack allows; the log line `outbox_failed` has the row id",
    "msg_blocks_too_long": "the message's blocks held more text than Slack takes in one message (about "
    "12,000 characters), which the bot's own splitting should have prevented; report it with the row id "
    "(the log line `outbox_failed` has it)",
}
HISTORY_FIX = (
    "the bot could not read <#{channel}>'s history to see whether the message went out before "
    "the restart, so it did not post it again (that could duplicate it); invite the bot to "
    "<#{channel}> (history needs membership) and check the channel"
)


class ParkAlerts:
    """Queues the alert for a parked row inside the caller's transaction, quietly repeated."""

    def __init__(self, config: Notifications) -> None:
        self.config = config
        self._last: dict[tuple[str, str], float] = {}

    def queue(self, db: Database, row: dict[str, Any], channel: str, error: str) -> bool:
        """True when an alert was queued. Never for an alert row or into the failing channel
        itself (an alert about the alerts channel would only park again); the log has those."""
        target = self.config.alerts_channel or self.config.default_channel
        code = error.split(":", 1)[-1].strip() if error.startswith(HISTORY_UNCHECKED) else error
        key = (channel, error.split(":", 1)[0])
        now = SYSTEM_CLOCK.monotonic()
        if (
            not target
            or target == channel
            or row.get("kind") == "alert"
            or now - self._last.get(key, -QUIET_SECONDS) < QUIET_SECONDS
        ):
            return False
        self._last[key] = now
        if error.startswith(HISTORY_UNCHECKED):
            fix = HISTORY_FIX.format(channel=channel)
        else:
            fix = FIXES.get(code, "see Slack's documentation of this error").format(channel=channel)
        text = (
            f":warning: A Slack message for <#{channel}> is parked (outbox row {row['id']}, "
            f"Slack said `{code}`): {fix}. `/whalet status` counts parked messages."
        )
        enqueue_post(db, channel=target, text=text, kind="alert")
        return True


def retry_parked(store: Store, actor: str, now: datetime, row_id: int | None = None) -> list[int]:
    """After the cause is fixed (the bot invited, the scope added): parked messages go back in
    the queue, in one audited transaction. ``actor`` is a Slack user id or ``cli``."""
    with store.transaction() as db:
        ids = outbox_rows.retry_parked(db, now, row_id)
        if ids:
            store.audit(db, actor, "outbox.retry_parked", "outbox", detail={"ids": ids[:200], "count": len(ids)})
    return ids
