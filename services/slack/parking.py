"""Which Slack errors park an outbox row at once, and the alert a person gets when one does.

Retrying ``not_in_channel`` eight times over minutes changes nothing: the bot is still not in the
channel. Such errors park the row on the first answer and queue an alert, in the same transaction,
that says what to do (invite the bot, fix the channel id, add the scope). A crash-recovery history
lookup that Slack refuses parks too: without it the worker cannot know whether the message went
out before the crash, and re-posting risks the duplicate the lookup exists to prevent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from core.clock import SYSTEM_CLOCK
from core.config import Notifications
from core.i18n import N_, translator
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

# What a person does about each error (catalog sentences, ``%(channel)s`` the parked row's channel).
FIXES = {
    "not_in_channel": N_("invite the bot to <#%(channel)s> (`/invite @` and the bot's name, in the channel)"),
    "channel_not_found": N_(
        "check the channel id %(channel)s in the policy file; for a private channel, invite the bot first"
    ),
    "is_archived": N_("<#%(channel)s> is archived: unarchive it or point the policy file at another channel"),
    "missing_scope": N_(
        "the app lacks a scope for this call: compare app_manifest.yml with the installed app and reinstall it"
    ),
    "invalid_blocks": N_("the message broke a Block Kit rule; the log line `outbox_failed` has the row id"),
    "msg_too_long": N_("the message was longer than Slack allows; the log line `outbox_failed` has the row id"),
    "msg_blocks_too_long": N_(
        "the message's blocks held more text than Slack takes in one message (about "
        "12,000 characters), which the bot's own splitting should have prevented; report it with the row id "
        "(the log line `outbox_failed` has it)"
    ),
}
NO_FIX = N_("see Slack's documentation of this error")
HISTORY_FIX = N_(
    "the bot could not read <#%(channel)s>'s history to see whether the message went out before "
    "the restart, so it did not post it again (that could duplicate it); invite the bot to "
    "<#%(channel)s> (history needs membership) and check the channel"
)


class ParkAlerts:
    """Queues the alert for a parked row inside the caller's transaction, quietly repeated."""

    def __init__(self, config: Notifications, locale_of: Callable[[str | None], str] = lambda channel: "en") -> None:
        """``locale_of``: the language of a channel's posts (the alert is in the alerts channel's)."""
        self.config = config
        self.locale_of = locale_of
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
        _ = translator(self.locale_of(target)).gettext
        fix = _(HISTORY_FIX if error.startswith(HISTORY_UNCHECKED) else FIXES.get(code, NO_FIX), channel=channel)
        text = _(
            ":warning: A Slack message for <#%(channel)s> is parked (outbox row %(row)s, "
            "Slack said `%(code)s`): %(fix)s. `/whalet status` counts parked messages.",
            channel=channel,
            row=row["id"],
            code=code,
            fix=fix,
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
