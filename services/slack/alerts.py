"""Operator alerts in Slack for what a person must look at now.

Chiefly an answer from Whalet whose signature does not verify; ``raise_alert`` serves the
rest (approvals whose outcome stays unknown, user groups that cannot be read). It may be a
forgery, corruption, or a Whalet key rotation we missed; in every case money calls answered that
way end "outcome unknown", and someone should check the keys before trusting Whalet's answers
again. One alert per operation per quarter of an hour, so a broken key does not flood a channel.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.clock import SYSTEM_CLOCK
from core.config import Notifications
from core.i18n import Later, later, translator
from core.metrics import Metrics
from core.storage.claims import open_window
from core.storage.outbox import enqueue_post
from core.storage.store import Store
from services.slack.outbox import OutboxWorker

log = logging.getLogger("whalet_bot.alerts")
QUIET_SECONDS = 15 * 60


class Alerts:
    """Built before the Whalet client (whose per-call hook it is), from the parts it posts with."""

    def __init__(self, store: Store, config: Notifications, metrics: Metrics, outbox: OutboxWorker) -> None:
        self.store = store
        self.config = config
        self.metrics = metrics
        self.outbox = outbox

    def whalet_call(self, operation: str, outcome: str, seconds: float) -> None:
        """The Whalet client's per-call hook: metrics always, an alert on a bad signature."""
        self.metrics.observe_whalet_call(operation, outcome, seconds)
        if outcome == "bad_signature":
            self._bad_signature(operation)

    def raise_alert(self, key: str, text: Later | str, *, quiet_seconds: float = QUIET_SECONDS) -> bool:
        """Post ``text`` (mrkdwn built by the caller, people's text escaped) to the alerts channel,
        at most once per ``key`` per ``quiet_seconds``; True when it was queued. The quiet window
        is a database row, so replicas sweeping the same request alert once between them.
        A ``Later`` is written in the alerts channel's language (``[ui] channels``)."""
        channel = self.config.alerts_channel or self.config.default_channel
        if not channel:
            return False
        text = translator(self.outbox.channel_locale(channel)).text(text)
        now = SYSTEM_CLOCK.now()
        with self.store.transaction() as db:
            if quiet_seconds > 0 and not open_window(
                db, f"alert:{key}", _iso(now), _iso(now + timedelta(seconds=quiet_seconds))
            ):
                return False
            enqueue_post(db, channel=channel, text=text, kind="alert")
        self.outbox.wake()
        log.error("alerted %s: %s", channel, key, extra={"event": "alert", "alert_key": key})
        return True

    def _bad_signature(self, operation: str) -> None:
        text = later(
            ":rotating_light: Whalet's answer to `%(operation)s` did not verify with Whalet's public key. "
            'The bot treats such answers as "outcome unknown" and looks orders up before acting. '
            "Check WHALET_PUBLIC_KEY (has Whalet rotated its key?) and run `whalet-bot check`.",
            operation=operation,
        )
        if self.raise_alert(f"bad_signature:{operation}", text):
            log.error("bad signature on %s", operation, extra={"event": "alert_bad_signature"})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
