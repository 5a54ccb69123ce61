"""Delivers the outbox to Slack: paced per channel, polite on 429, never the same row twice.

Each row goes pending → sending (committed) → Slack call → done with its ``ts`` (committed). A
process killed between the call and the second commit leaves the row in ``sending``; at the next
start such rows are marked ``check_first`` and the worker looks for the message in the channel by
its metadata (``outbox_id``) before posting again, so a kill mid-post yields one message, not two.
Transient failures back off with jitter; a row that keeps failing is parked for a person to see in
``/whalet status`` instead of blocking its channel forever.

Several replicas on one Postgres database share the work safely: a row is claimed together with
its channel's lane (``core.storage.outbox.claim``), so one message per channel is in flight at a
time across all replicas and Slack's per-channel pace (and a Retry-After) is kept in the lane row
they all read. A claim carries a lease; a replica that dies holding rows (kill -9) leaves them
``sending`` until the lease runs out, then any replica hands them back and checks Slack first, as
after a restart. A delivery is cut off before its lease can run out, so no two replicas ever
deliver one row at once.

A row may name a person instead of a channel (an approver's copy of a card, a reminder): the
worker opens the bot's DM with them (``conversations.open``) and records the DM's id with the
``ts``, so later updates, and the crash check (``im:history``), go to that conversation.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.clock import SYSTEM_CLOCK, Clock
from core.config import Notifications
from core.faultpoints import fault_point
from core.i18n import translator
from core.storage import outbox as outbox_rows
from core.storage.claims import new_holder, open_window
from core.storage.store import Store
from core.supervisor import wait_for_wake
from services.slack.parking import HISTORY_UNCHECKED, PERMANENT_ERRORS, TRANSIENT_ERRORS, ParkAlerts

log = logging.getLogger("whalet_bot.outbox")

METADATA_EVENT = "whalet_bot_outbox"
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 120.0
TRANSIENT_CAP_SECONDS = 60.0  # the longest wait between tries while Slack is down
OUTAGE_ALERT_QUIET = timedelta(hours=6)  # replicas raise one outage alert, not one each
FOLD_MAX_LINES = 25
# Pace a little under the configured rate: our clock and Slack's never agree to the millisecond,
# and a message sent a hair early costs a 429 and a Retry-After wait.
PACE_MARGIN = 0.95
SHUTDOWN_GRACE_SECONDS = 5.0  # posts in flight at SIGTERM get this long to finish
# A claim's lease: longer than one delivery (a history check and a post, 10 s each at most).
DEFAULT_LEASE_SECONDS = 30.0
DELIVERY_SHARE_OF_LEASE = 0.8


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class OutboxWorker:
    """Runs as one supervised loop; ``wake()`` after committing rows so they go out at once."""

    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        config: Notifications,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Clock = SYSTEM_CLOCK,
    ):
        """``clock`` times delivery: Slack's pace and backoffs are real time, so it is the real
        clock even when the business clock is frozen (a test that drives delivery gives its own)."""
        self.store = store
        self.clock = clock
        self.client = client  # no hidden retries: the worker decides about every 429 and reset
        self.config = config
        self.owner = new_holder("outbox")
        self.lease_seconds = lease_seconds
        self.pace = outbox_rows.Pace(1.0 / (float(config.pace_per_second) * PACE_MARGIN), int(config.burst))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._not_before: dict[str, float] = {}  # channel -> monotonic time its lane said to ask again
        self._inflight: set[str] = set()
        self._next_takeover = 0.0
        # The language of what the worker writes itself (alerts, fold summaries) in a channel: English
        # until the process sets it to ``services.locales.channel`` ([ui] channels, channel_locale).
        self.channel_locale: Callable[[str | None], str] = lambda channel: "en"
        self._park_alerts = ParkAlerts(config, lambda channel: self.channel_locale(channel))
        self._dms: dict[str, str] = {}  # user id -> the bot's DM with them (conversations.open)
        self.paused: str | None = None  # why nothing is sent (app uninstalled, token revoked)
        self.outage_since: datetime | None = None  # Slack failing transiently since (None: it answers)
        self._outage_alerted = False
        self._transient_streak: dict[str, int] = {}  # channel -> transient failures in a row
        self.counters = {"posted": 0, "updated": 0, "rate_limited": 0, "failed": 0, "parked": 0, "reconciled": 0}

    # --- waking ------------------------------------------------------------------------------

    def wake(self) -> None:
        """Safe from any thread; a no-op before the worker runs."""
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._recover_inflight()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._take_over_expired()
                self._fold_bursts()
                waiting = self._dispatch(tasks)
                await wait_for_wake(self._event, min(waiting, 1.0))
                self._event.clear()
        finally:
            await self._drain(tasks)

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """On stop (SIGTERM): let posts in flight finish for a moment, cancel the rest, and hand
        their rows back (pending + check_first), so no row is left ``sending`` and the next start
        looks for a possibly-posted message before posting again."""
        if tasks:
            await asyncio.wait(set(tasks), timeout=SHUTDOWN_GRACE_SECONDS)
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(set(tasks), timeout=1)
        with self.store.transaction() as db:
            handed = outbox_rows.hand_back_inflight(db, owner=self.owner)
        if handed:
            log.warning(
                "%d outbox rows were cut off mid-post at shutdown; the next start checks Slack first",
                handed,
                extra={"event": "outbox_handed_back"},
            )

    def _recover_inflight(self) -> None:
        """At start: the only process on a SQLite file takes back every row left in flight; a
        replica sharing Postgres only those whose holder's lease ran out (the others may be
        another live replica's deliveries)."""
        with self.store.transaction() as db:
            if self.store.exclusive:
                handed = outbox_rows.hand_back_inflight(db)
            else:
                handed = outbox_rows.hand_back_inflight(db, expired_before=_iso(self.clock.now()))
        if handed:
            log.warning("%d outbox rows were in flight at the last stop; checking Slack before re-posting", handed)

    def _take_over_expired(self) -> None:
        """Now and then: rows and lanes whose lease ran out (a replica that died; or a delivery of
        this process that crashed instead of recording its outcome), so no channel stays blocked."""
        if self.clock.monotonic() < self._next_takeover:
            return
        self._next_takeover = self.clock.monotonic() + max(1.0, self.lease_seconds / 4)
        with self.store.transaction() as db:
            handed = outbox_rows.hand_back_inflight(db, expired_before=_iso(self.clock.now()))
        if handed:
            log.warning(
                "took over %d outbox rows whose replica's lease ran out; checking Slack before re-posting",
                handed,
                extra={"event": "outbox_taken_over"},
            )

    def pause(self, reason: str) -> None:
        """Stop sending: Slack no longer accepts the token, so every call would fail and park.
        Rows stay pending; a restart with a valid token resumes."""
        self.paused = reason

    def _dispatch(self, tasks: set[asyncio.Task[None]]) -> float:
        """Start one delivery per free channel; returns how long the loop may sleep."""
        if self.paused is not None:
            return 1.0
        now = self.clock.now()  # delivery timing is real time, even under a test's frozen business clock
        with self.store.read() as db:
            rows = outbox_rows.due_heads(db, _iso(now))
            targets = [(row, self._target(db, row)) for row in rows]
        sleep = 1.0
        busy: set[str] = set()
        for row, target in targets:
            if target is None:
                continue
            channel = target[0]
            if channel in self._inflight or channel in busy:
                continue
            busy.add(channel)  # keep per-channel order: only the oldest due row of a channel moves
            wait = self._not_before.get(channel, 0.0) - self.clock.monotonic()
            if wait > 0:  # the lane said "not yet" (pace, Retry-After, another replica posting there)
                sleep = min(sleep, wait)
                continue
            self._inflight.add(channel)
            task = asyncio.create_task(self._deliver(row, target))
            tasks.add(task)
            task.add_done_callback(functools.partial(self._finished, channel=channel, tasks=tasks))
        return max(sleep, 0.01)

    def _finished(self, task: asyncio.Task[None], channel: str, tasks: set[asyncio.Task[None]]) -> None:
        tasks.discard(task)
        self._inflight.discard(channel)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery crashed", exc_info=task.exception())
        if self._event is not None:
            self._event.set()

    def _target(self, db: Any, row: dict[str, Any]) -> tuple[str, str | None] | None:
        """(channel, thread_ts or ts to update), or None while the message it depends on is unsent."""
        if row["op"] == "post":
            if not row["thread_ref"]:
                return (row["channel"], None)
            parent = outbox_rows.posted(db, row["thread_ref"])
            if parent:
                return parent
            if outbox_rows.post_still_coming(db, row["thread_ref"]):
                return None
            return (row["channel"], None)  # the parent will never exist: post at top level
        ref = outbox_rows.posted(db, row["ref"])
        if ref:
            return ref
        if not outbox_rows.post_still_coming(db, row["ref"]):
            with self.store.transaction() as wdb:
                outbox_rows.drop_orphan_update(wdb, row["id"])
        return None

    # --- one delivery ------------------------------------------------------------------------

    async def _deliver(self, row: dict[str, Any], target: tuple[str, str | None]) -> None:
        channel = target[0]
        now = self.clock.now()
        with self.store.transaction() as db:
            claim = outbox_rows.claim(
                db,
                row["id"],
                channel=channel,
                owner=self.owner,
                now=now,
                lease_until=_iso(now + timedelta(seconds=self.lease_seconds)),
                pace=self.pace,
            )
        if not claim.claimed or claim.row is None:
            if claim.wait > 0:
                self._not_before[channel] = self.clock.monotonic() + claim.wait
            return
        row = claim.row  # as claimed: an update that rewrote the queued post since it was listed is in it
        fault_point("outbox.claimed")
        try:
            # Cut off well before the lease runs out: past it, another replica may take the row over.
            await asyncio.wait_for(self._send(row, target), timeout=self.lease_seconds * DELIVERY_SHARE_OF_LEASE)
        except TimeoutError:
            self._failed(row, channel, 0, "network: delivery took longer than its lease allows", {})

    async def _send(self, row: dict[str, Any], target: tuple[str, str | None]) -> None:
        channel, anchor_ts = target  # ``channel`` is also the lane: a user id for a DM not yet opened
        client = self.client
        blocks = json.loads(row["blocks"]) if row["blocks"] else None
        try:
            where = await self._conversation(channel)
            if row["op"] == "post" and row["check_first"]:
                found = await self._find_posted(where, anchor_ts, row, lane=channel)
                if found is _UNCHECKABLE:
                    return
                if found:
                    self.counters["reconciled"] += 1
                    self._mark_done(row, channel, found, where)
                    return
            if row["op"] == "post":
                response = await client.chat_postMessage(
                    channel=where,
                    text=row["text"],
                    blocks=blocks,
                    thread_ts=anchor_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row["id"]}},
                )
                self.counters["posted"] += 1
            else:
                assert anchor_ts is not None  # an update always targets a recorded message
                response = await client.chat_update(channel=where, ts=anchor_ts, text=row["text"], blocks=blocks)
                self.counters["updated"] += 1
            fault_point("outbox.posted")
            self._mark_done(row, channel, str(response.get("ts") or anchor_ts), where)
        except SlackApiError as exc:
            self._failed(
                row, channel, exc.response.status_code, str(exc.response.get("error") or "error"), exc.response.headers
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self._failed(row, channel, 0, f"network: {type(exc).__name__}", {})

    async def _conversation(self, channel: str) -> str:
        """Where to post: ``channel`` itself, or for a person (a user id: an approver's DM copy,
        a reminder) the bot's DM with them, opened once with ``conversations.open`` (Slack
        answers the same DM every time, so a cache lost at a restart only costs one call)."""
        if channel[:1] not in ("U", "W"):
            return channel
        known = self._dms.get(channel)
        if known is None:
            answer = await self.client.conversations_open(users=channel)
            known = self._dms[channel] = str(answer["channel"]["id"])
        return known

    async def _find_posted(
        self, channel: str, thread_ts: str | None, row: dict[str, Any], *, lane: str | None = None
    ) -> str | None:
        """Look for a message this row may already have posted before the process died.

        Slack refusing the lookup (``not_in_channel``: ``chat:write.public`` posts where history
        cannot be read; ``missing_scope``...) parks the row with an alert and returns
        ``_UNCHECKABLE``: posting blind could duplicate the message. 429, 5xx and network
        errors propagate and are retried like a failed post (the row keeps ``check_first``)."""
        created = datetime.fromisoformat(row["created_at"]).timestamp() - 1
        client = self.client
        try:
            if thread_ts:
                page = await client.conversations_replies(
                    channel=channel, ts=thread_ts, oldest=str(created), include_all_metadata=True, limit=200
                )
            else:
                page = await client.conversations_history(
                    channel=channel, oldest=str(created), include_all_metadata=True, limit=200
                )
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                raise
            error = f"{HISTORY_UNCHECKED}: {exc.response.get('error') or 'error'}"
            log.error(
                "could not check %s for outbox row %s (%s); parked instead of posting again",
                channel,
                row["id"],
                error,
                extra={"event": "outbox_failed", "outbox_id": row["id"], "channel": channel},
            )
            self._park(row, lane or channel, error)
            return _UNCHECKABLE
        for message in page.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if (message.get("metadata") or {}).get("event_type") == METADATA_EVENT and str(
                payload.get("outbox_id")
            ) == str(row["id"]):
                return str(message["ts"])
        return None

    def _mark_done(self, row: dict[str, Any], channel: str, ts: str, where: str | None = None) -> None:
        """``channel`` is the lane; ``where`` the conversation the message is in (a DM's id)."""
        now = _iso(self.clock.now())
        with self.store.transaction() as db:
            if not outbox_rows.still_claimed(db, row["id"], self.owner):
                # Our lease ran out (a stalled process) and another replica took the row: it looks
                # the message up by its metadata before posting, so it finds this post.
                log.warning("outbox row %s was taken over before its post was recorded", row["id"])
                return
            outbox_rows.mark_done(db, row, where or channel, ts, now)
            outbox_rows.release_lane(db, channel, self.owner)
        self._recovered(channel)
        log.info(
            "slack %s delivered",
            row["op"],
            extra={
                "event": "outbox_delivered",
                "outbox_id": row["id"],
                "channel": channel,
                "correlation_id": row["correlation_id"],
            },
        )

    def _alert_outage(self, db: Any, now: datetime) -> None:
        """One alert when Slack has failed for ``outage_alert_minutes`` on end (queued like any
        message, so it arrives when Slack is back); one per outage across replicas."""
        since = self.outage_since
        if (
            since is None
            or self._outage_alerted
            or now - since < timedelta(minutes=int(self.config.outage_alert_minutes))
        ):
            return
        self._outage_alerted = True
        target = self.config.alerts_channel or self.config.default_channel
        if target and open_window(db, "alert:slack-outage", _iso(now), _iso(now + OUTAGE_ALERT_QUIET)):
            t = translator(self.channel_locale(target))
            outbox_rows.enqueue_post(
                db,
                channel=target,
                kind="alert",
                text=t.gettext(
                    ":warning: Slack has been failing every call since %(since)s (5xx, timeouts "
                    "or network errors). Nothing is lost: every message waits in the outbox and goes out, in "
                    "order, once Slack answers again. `/whalet status` shows the outage while it lasts.",
                    since=t.moment(since, UTC),
                ),
            )

    def _recovered(self, channel: str) -> None:
        self._transient_streak.pop(channel, None)
        if self.outage_since is not None:
            log.info("slack answers again after an outage since %s", self.outage_since.isoformat())
        self.outage_since, self._outage_alerted = None, False

    def _park(self, row: dict[str, Any], channel: str, error: str) -> None:
        self._failed(row, channel, 200, error, {})

    def _failed(self, row: dict[str, Any], channel: str, status: int, error: str, headers: Any) -> None:
        now = self.clock.now()  # delivery timing is real time, even under a test's frozen business clock
        max_attempts = int(self.config.max_attempts)
        check_first = 1 if (status == 0 or status >= 500) and row["op"] == "post" else row["check_first"]
        attempts = int(row["attempts"]) + 1
        blocked_until = None
        if status == 429:
            retry_after = _retry_after(headers)
            blocked_until = _iso(now + timedelta(seconds=retry_after))  # for every replica: the lane row
            self._not_before[channel] = self.clock.monotonic() + retry_after
            self.counters["rate_limited"] += 1
            state, delay, attempts = "pending", retry_after, attempts - 1  # pacing, not failure
        elif error in PERMANENT_ERRORS or error.startswith(HISTORY_UNCHECKED):
            state, delay = "parked", 0.0
            self.counters["parked"] += 1
        elif status == 0 or status >= 500 or error in TRANSIENT_ERRORS:
            # Slack (or the way to it) is down: that says nothing about this message, so it does
            # not count toward max_attempts; the row waits as long as the outage lasts.
            streak = self._transient_streak[channel] = self._transient_streak.get(channel, 0) + 1
            state, attempts = "pending", attempts - 1
            delay = min(TRANSIENT_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (streak - 1)) * random.uniform(0.5, 1.0)
            self.counters["failed"] += 1
            if self.outage_since is None:
                self.outage_since = now
        elif attempts >= max_attempts:
            state, delay = "parked", 0.0
            self.counters["parked"] += 1
        else:
            state = "pending"
            delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)
            self.counters["failed"] += 1
        with self.store.transaction() as db:
            if not outbox_rows.still_claimed(db, row["id"], self.owner):
                log.warning("outbox row %s was taken over before its failure was recorded", row["id"])
                return
            outbox_rows.reschedule(
                db,
                row["id"],
                state=state,
                attempts=attempts,
                next_attempt_at=_iso(now + timedelta(seconds=delay)),
                error=error,
                check_first=check_first,
                rate_limited=status == 429,
            )
            outbox_rows.release_lane(db, channel, self.owner, blocked_until)
            if status != 429:
                outbox_rows.record_channel_error(db, channel, error, _iso(now))
            if state == "parked":
                self._park_alerts.queue(db, row, channel, error)
            self._alert_outage(db, now)
        level = logging.ERROR if state == "parked" else logging.WARNING
        log.log(
            level,
            "slack %s failed (%s); %s",
            row["op"],
            error,
            "parked" if state == "parked" else f"retrying in {delay:.1f}s",
            extra={
                "event": "outbox_failed",
                "outbox_id": row["id"],
                "channel": channel,
                "correlation_id": row["correlation_id"],
            },
        )

    # --- folding -----------------------------------------------------------------------------

    def _fold_bursts(self) -> None:
        """Many collections waiting for one channel become one summary, not minutes of queue."""
        threshold = int(self.config.fold_threshold)
        if threshold <= 0:
            return
        with self.store.read() as db:  # the common case writes nothing: don't open a write transaction
            if not outbox_rows.channels_to_fold(db, threshold):
                return
        with self.store.transaction() as db:
            for channel in outbox_rows.channels_to_fold(db, threshold):
                self._fold_channel(db, channel)

    def _fold_channel(self, db: Any, channel: str) -> None:
        rows = outbox_rows.foldable(db, channel)
        if len(rows) <= int(self.config.fold_threshold):
            return  # another replica is folding most of them right now
        t = translator(self.channel_locale(channel))
        lines = [line for _, line in rows]
        shown = lines[:FOLD_MAX_LINES]
        more = len(lines) - len(shown)
        body = "\n".join(f"• {line}" for line in shown)
        if more:
            body += "\n" + t.ngettext("…and %(n)s more", "…and %(n)s more", more)
        title = t.ngettext("%(n)s collection received", "%(n)s collections received", len(lines))
        summary_id = outbox_rows.enqueue_post(
            db,
            channel=channel,
            text=f"{title}\n{body}",
            kind="summary",
            blocks=[
                {"type": "header", "text": {"type": "plain_text", "text": f":moneybag: {title}"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
            ],
        )
        if outbox_rows.mark_folded(db, summary_id, [row_id for row_id, _ in rows]) != len(rows):
            raise RuntimeError(f"rows claimed for folding in {channel} changed under the claim")  # rolls back
        log.info("folded %d collections for %s into one summary", len(rows), channel)


_UNCHECKABLE = "\0unchecked"  # _find_posted's answer when the row was parked instead


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(value, list):
            value = value[0]
        return max(0.5, float(value))
    except (TypeError, ValueError, AttributeError):
        return 1.0
