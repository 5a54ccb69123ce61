"""From the inbox to the outbox: render, route and apply each notification exactly once.

Each inbox row is handled atomically (a savepoint inside the batch's one commit) with its outbox
rows, its side effects (approval result, beneficiary book, replenish to-do) and its
``processed_at``. A crash anywhere rolls all of it back, so the row is simply done again after
the restart; it can never be relayed twice or marked done without its message. Nothing here
awaits inside a transaction: a batch runs start to finish on a worker thread, touching only
SQLite; the outbox worker talks to Slack.

A row that keeps failing (a bug, a body we cannot handle) is not allowed to block the rows
behind it: after ``MAX_ATTEMPTS`` it is relayed with the generic rendering and an error note.

The inbox drops only exact repeats (same requestNo or same content), so a row may be new content
about an object already reported: a documents request updates its to-do card and says what
changed in the card's thread; other notifications are posted again, marked as an update with
the fields that changed (``inbox.previous_body``), so nobody mistakes them for a second event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlite_utils import Database

from core.faultpoints import fault_point
from core.i18n import later, translator
from core.storage import inbox
from core.storage import replenish, replenish_submissions
from core.supervisor import wait_for_wake
from notifications import render_replenish as todo_cards
from notifications.ingest import InboxWriter
from core.storage.outbox import message_ref
from services.slack.blocks import context, esc
from services.slack.queue import enqueue_post, enqueue_update
from notifications.job import Job
from services.approvals.results import Reported, apply_result
from services.book import apply_beneficiary_result
from notifications.kinds import business_id, kind_of, relays
from notifications.render import generic, render
from notifications.rendered import Rendered
from notifications.routing import Destination, explicit_routes, operation_name, route
from whalet import models
from whalet.masking import mask_digit_runs

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.relay")
MAX_ATTEMPTS = 3
BATCH = 50
POLL_SECONDS = 2.0
BUSY_PAUSE_SECONDS = 0.25


def update_note(job: Job, locale: str | None = None) -> str | None:
    """'Update: …' when Whalet already told us about this object with other content, else None."""
    before = inbox.previous_body(job.db, job.row)
    if before is None:
        return None
    _ = translator(locale).gettext
    business = esc(mask_digit_runs(business_id(job.operation, job.body) or ""))
    changed = inbox.changed_fields(before, job.body)
    if not changed:
        return _("🔄 Update of an earlier notification about `%(id)s`", id=business)
    names = ", ".join(f"`{esc(name)}`" for name in changed[:8])
    return _("🔄 Update of an earlier notification about `%(id)s`: changed %(fields)s", id=business, fields=names)


def marked_as_update(job: Job, rendered: Rendered, locale: str | None = None) -> Rendered:
    note = update_note(job, locale)
    if note is None:
        return rendered
    text = translator(locale).gettext("%(text)s (update)", text=rendered.text)
    return Rendered(text, [*rendered.blocks, context(note)], rendered.fold_line)


def rendering(job: Job, *, as_update: bool = True) -> Callable[[str], Rendered]:
    """The job's notification in a given language (each channel it goes to reads its own)."""

    def make(locale: str) -> Rendered:
        rendered = render(job.operation, job.row.api_code, job.body, job.users, locale)
        return marked_as_update(job, rendered, locale) if as_update else rendered

    return make


def relay_plain(job: Job) -> str:
    kind = "collection" if job.operation == "collectionReceivedNotify" else "notification"
    sent = job.post(route(job.services.config, job.row.api_code, job.body), rendering(job), kind=kind)
    return "relayed" if sent else "no_route"


@relays("payoutResultNotify", "payResultNotify")
def relay_transfer(job: Job) -> str:
    """payoutResultNotify / payResultNotify: into the approval card's thread when we know it."""
    try:
        typed = models.parse_notification(job.operation or "", job.body)
    except ValidationError:
        return relay_plain(job)
    assert isinstance(typed, (models.PayoutResult, models.PayResult))
    kind = "payout" if isinstance(typed, models.PayoutResult) else "pay"
    business = typed.payout_id if isinstance(typed, models.PayoutResult) else typed.pay_id
    reported = Reported(typed.user_id, typed.amount)
    request_id = apply_result(
        job.services, job.db, kind, business, typed.mer_order_no, typed.status, typed.fail_reason, reported
    )
    if request_id is None:
        return relay_plain(job)
    make = rendering(job, as_update=False)
    approvals = job.services.config.approvals
    posted = message_ref(job.db, "approval", request_id)
    channel = posted[0] if posted else (approvals.channel if approvals else None)
    if channel:
        rendered = make(job.locale(channel))
        enqueue_post(
            job.db,
            channel=channel,
            text=rendered.text,
            blocks=rendered.blocks,
            thread_ref=("approval", request_id),
            correlation_id=job.row.correlation_id,
        )
    others = [d for d in explicit_routes(job.services.config, job.row.api_code, job.body) if d.channel != channel]
    if others:  # routes that ask for payout results get them too; the thread is enough otherwise
        job.post(others, make)
    return "relayed"


@relays("beneficiaryResultNotify")
def relay_beneficiary(job: Job) -> str:
    """Whalet's verdict on a beneficiary: the bot's book learns it, the person who added it is told."""
    try:
        typed = models.parse_notification(job.operation or "", job.body)
    except ValidationError:
        return relay_plain(job)
    assert isinstance(typed, models.BeneficiaryResult)
    entry = apply_beneficiary_result(
        job.db,
        mer_beneficiary_no=typed.mer_beneficiary_no,
        beneficiary_id=typed.beneficiary_id,
        status=typed.status,
        fail_reason=typed.fail_reason,
    )
    plain = rendering(job)

    def make(locale: str) -> Rendered:
        rendered = plain(locale)
        if entry is None:
            return rendered
        note = context(
            translator(locale).gettext(
                "Added to the bot's book as `%(nickname)s` (%(name)s) by <@%(user)s>",
                nickname=esc(entry["nickname"]),
                name=esc(entry["name"]),
                user=entry["added_by"],
            )
        )
        return Rendered(f"<@{entry['added_by']}> {rendered.text}", [*rendered.blocks, note])

    sent = job.post(route(job.services.config, job.row.api_code, job.body), make)
    return "relayed" if sent else "no_route"


@relays("eddReplenishNotify", "tradeReplenishNotify", business_id=("replenishId",))
def relay_replenish_request(job: Job) -> str:
    if not isinstance(job.body, dict) or not job.body.get("replenishId"):
        return relay_plain(job)
    todo = replenish.record_request(job.db, job.operation or "", job.body, job.now)
    if todo["card_channel"]:  # Whalet changed a request we already show: the card and its thread say so
        changed = inbox.changed_fields(inbox.previous_body(job.db, job.row), job.body)
        reply = todo_cards.changed_reply(todo, changed, job.locale(todo["card_channel"]))
        return _update_replenish_card(job, todo, reply)
    destinations = route(job.services.config, job.row.api_code, job.body)
    if not destinations or not replenish.claim_card(job.db, todo["replenish_id"], destinations[0].channel):
        return "relayed" if destinations else "no_route"
    todo = replenish.get(job.db, todo["replenish_id"]) or todo
    job.post(
        destinations,
        lambda locale: todo_cards.card(todo, job.users, locale),
        kind="replenish",
        ref=todo_cards.ref(todo["replenish_id"]),
    )
    return "relayed"


def _update_replenish_card(job: Job, todo: dict[str, Any], reply: Rendered) -> str:
    """The to-do card shows the request as it now stands; ``reply`` in its thread says what changed."""
    card_ref = todo_cards.ref(todo["replenish_id"])
    card = todo_cards.card(todo, job.users, job.locale(todo["card_channel"]))
    enqueue_update(job.db, ref=card_ref, text=card.text, blocks=card.blocks, correlation_id=job.row.correlation_id)
    enqueue_post(
        job.db,
        channel=todo["card_channel"],
        text=reply.text,
        blocks=reply.blocks,
        thread_ref=card_ref,
        correlation_id=job.row.correlation_id,
    )
    return "relayed"


@relays("eddReplenishResultNotify", "tradeReplenishResultNotify", business_id=("replenishId",))
def relay_replenish_result(job: Job) -> str:
    if not isinstance(job.body, dict) or not job.body.get("replenishId"):
        return relay_plain(job)
    todo, _ = replenish.record_result(job.db, job.operation or "", job.body, job.now)
    replenish_submissions.record_decision(
        job.db, todo["replenish_id"], str(job.body.get("status") or ""), todo["remark"]
    )
    if not todo["card_channel"]:  # the request has not arrived (yet): say it plainly
        return relay_plain(job)
    return _update_replenish_card(job, todo, todo_cards.result_reply(todo, job.locale(todo["card_channel"])))


def relay_row(services: Services, db: Database, row_id: int, now: datetime) -> str | None:
    """Handle one inbox row inside the caller's transaction; returns its outcome (None: already done)."""
    row = inbox.claim(db, row_id)
    if row is None:
        return None
    job = Job(services, db, row, operation_name(services.config, row.api_code), now)
    kind = kind_of(job.operation)
    outcome = (kind.relay if kind is not None and kind.relay is not None else relay_plain)(job)
    inbox.mark_processed(db, row.id, outcome, now)
    log.info(
        "notification relayed",
        extra={
            "event": "inbox_relayed",
            "api_code": row.api_code,
            "correlation_id": row.correlation_id,
            "outcome": outcome,
        },
    )
    return outcome


def give_up(services: Services, db: Database, row_id: int, error: str, now: datetime) -> None:
    """After MAX_ATTEMPTS: relay the raw fields (masked) with the error, so nothing is lost silently."""
    row = inbox.claim(db, row_id)
    if row is None:
        return

    def make(locale: str) -> Rendered:
        note = translator(locale).gettext(
            "The bot could not handle this notification (%(error)s); showing its fields as received.",
            error=error[:200],
        )
        return generic(row.api_code, row.body, {}, note=note, locale=locale)

    alerts = services.config.notifications.alerts_channel
    destinations = [Destination(alerts)] if alerts else route(services.config, row.api_code, row.body)
    Job(services, db, row, None, now).post(destinations, make)
    inbox.mark_processed(db, row.id, "failed", now, error)


def relay_batch(services: Services, ids: list[int]) -> int:
    """Relay rows in ONE commit, each row inside its own savepoint: a row either gets all of its
    outbox rows, side effects and ``processed_at``, or none of them (and a failure is counted).
    Runs on a worker thread: a commit waits for the disk, and the webhook must not wait with it."""
    now = services.clock.now()
    with services.store.transaction() as db:
        for row_id in ids:
            try:
                with services.store.transaction():  # savepoint
                    relay_row(services, db, row_id, now)
            except Exception as exc:  # one bad row must not stop the others
                log.exception("relaying inbox row %s failed", row_id)
                error = f"{type(exc).__name__}: {exc}"
                if inbox.record_failure(db, row_id, error) >= MAX_ATTEMPTS or isinstance(exc, inbox.UnreadableRow):
                    settle_failed_row(services, db, row_id, error, now)
    return len(ids)


def settle_failed_row(services: Services, db: Database, row_id: int, error: str, now: datetime) -> None:
    """Relay the row's raw fields with the error (``give_up``); when even that fails (the row
    cannot be read at all), park it alone with an alert, so it never holds up the rows after it."""
    try:
        with services.store.transaction():  # savepoint
            give_up(services, db, row_id, error, now)
            return
    except Exception as exc:  # noqa: BLE001 - whatever it is, this row must stop being retried
        log.exception("inbox row %s cannot even be shown raw; parked", row_id)
        error = f"{error}; {type(exc).__name__}: {exc}"[:500]
    inbox.mark_processed(db, row_id, "parked", now, error)
    if services.alerts is not None:
        services.alerts.raise_alert(
            f"inbox:unreadable:{row_id}",
            later(
                ":rotating_light: Notification %(row)s in the webhook inbox cannot be read, so it was parked "
                "without being shown (%(error)s). The notifications after it are relayed as usual; "
                "look it up in the `inbox` table and in Whalet's portal.",
                row=row_id,
                error=esc(error[:300]),
            ),
            quiet_seconds=0,
        )


async def relay_pending(services: Services) -> int:
    """Relay waiting rows (in arrival order, up to BATCH); returns how many were handled."""
    with services.store.read() as db:
        ids = inbox.pending_ids(db, BATCH, MAX_ATTEMPTS)
    if not ids:
        return 0
    handled = await asyncio.to_thread(relay_batch, services, ids)
    fault_point("relay.committed")
    services.wake_outbox()
    return handled


class Relay:
    """The background loop; the webhook wakes it after each commit, a poll covers the rest.

    Acks come first: while a burst is streaming in (``writer.busy()``: hundreds a second), the
    relay waits BUSY_PAUSE_SECONDS before each batch instead of relaying after every commit, so a
    burst from Whalet is acknowledged at full speed and relayed right after (Slack takes about
    one message a second per channel anyway, and the inbox is durable). It still relays BATCH
    rows per pause, so it can never be starved; a lone notification is relayed at once."""

    def __init__(self, services: Services, writer: InboxWriter | None = None):
        self.services = services
        self.writer = writer
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        while True:
            self._event.clear()
            if self.writer is not None and self.writer.busy():
                await asyncio.sleep(BUSY_PAUSE_SECONDS)  # a burst: acks first, then one batch
            if await relay_pending(self.services) >= BATCH:
                continue  # more rows are waiting
            await wait_for_wake(self._event, POLL_SECONDS)
