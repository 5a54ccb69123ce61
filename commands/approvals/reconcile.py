"""Calling payoutConfirm / payConfirm, and finding out what happened when the answer was lost.

Only the click that moved a request to CONFIRMING gets here, after that transaction committed,
so exactly one confirm is sent per request. Outcomes:

- an answer: CONFIRMED (the result notification later makes it SUCCEEDED or FAILED);
- Whalet said no: FAILED, with Whalet's reason as a sentence;
- nothing reached Whalet (RequestNotSent): back to PENDING with the approvals kept, and the
  card says "click Approve again";
- no trustworthy answer (OutcomeUnknown: timeout, 5xx, cut connection): CONFIRM_UNKNOWN, and
  before anything else we look the order up by merOrderNo (record query).

The lookup decides, and never blindly confirms again:
- PROCESSING / SUCCESS: Whalet has the confirm -> CONFIRMED / SUCCEEDED, no second confirm;
- FAIL -> FAILED; EXPIRED -> EXPIRED;
- WAIT_CONFIRM: the proof that our confirm did NOT land. If the request has not expired we
  confirm again (through the same CAS to CONFIRMING, so still one sender); if it has expired,
  EXPIRED. Decision: re-confirming is safe here because Whalet itself still waits for a confirm
  and treats a repeated confirm as idempotent (protocol spec §4); after expiry it would fail.
- the lookup fails or finds nothing: stay CONFIRM_UNKNOWN, say so on the card, and the sweep
  tries again every ``approvals.sweep_seconds``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from core.clock import iso, parse_iso
from core.faultpoints import fault_point
from commands.approvals import repo
from commands.approvals.states import State
from whalet.errors import OutcomeUnknown, RequestNotSent, WhaletError, WhaletRejected, explain
from whalet.models import Record

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")

STUCK_CONFIRMING = timedelta(minutes=2)  # a CONFIRMING row this old lost its process (crash)
STUCK_APPLYING = timedelta(minutes=10)


async def send_confirm(services: Services, request_id: str) -> str:
    """Call confirm for a request this caller moved to CONFIRMING; returns a sentence for the clicker."""
    with services.store.read() as db:
        row = repo.load(db, request_id)
    if row is None or State(row["state"]) is not State.CONFIRMING:
        return "This request is no longer waiting to be sent."
    fault_point("approval.confirming")  # CONFIRMING is committed, nothing sent yet
    try:
        if row["kind"] == "payout":
            status = (await services.whalet.payout_confirm(row["user_id"], row["whalet_id"])).status
        else:
            status = (await services.whalet.pay_confirm(row["user_id"], row["whalet_id"])).status
    except OutcomeUnknown as exc:
        _move(services, request_id, State.CONFIRM_UNKNOWN, "confirm.unknown", exc,
              note="Checking with Whalet now.")
        await reconcile_one(services, request_id)
        return explain(exc)
    except RequestNotSent as exc:
        _move(services, request_id, State.PENDING, "confirm.not_sent", exc,
              note="Whalet could not be reached and nothing was sent; an approver can click Approve again.")
        return explain(exc) + " Click Approve again to retry."
    except WhaletRejected as exc:
        _move(services, request_id, State.FAILED, "confirm.rejected", exc, fail_reason=explain(exc))
        return explain(exc)
    fault_point("approval.confirmed_unstored")  # Whalet has the confirm; CONFIRMED not yet stored
    _move(services, request_id, State.CONFIRMED, "confirm", None, result_status=status)
    return "Approved and sent to Whalet."


def _move(services: Services, request_id: str, state: State, action: str, exc: Exception | None,
          **fields: object) -> repo.Row | None:
    """One CAS from the row as it is now; a lost race (e.g. the result notification came first) is fine."""
    with services.store.transaction() as db:
        row = repo.load(db, request_id)
        if row is None:
            return None
        try:
            row = repo.transition(db, row, state, **fields)
        except repo.StaleRequest:
            log.info("request %s is %s; not moving it to %s", request_id, row["state"], state)
            return None
        detail = {"answer": fields.get("result_status")} if exc is None else \
            {"error": type(exc).__name__, "answer": str(exc)}
        repo.audit(services, db, row, "whalet", action, **detail)
        repo.update_card(services, db, row)
        if state is State.FAILED:
            repo.tell_thread(services, db, row, f"<@{row['requester']}> the request failed: {row['fail_reason']}")
    services.wake_outbox()
    return row


async def lookup(services: Services, row: repo.Row) -> Record | None:
    """The order's record at Whalet, found by merOrderNo; None when Whalet has none."""
    created = parse_iso(row["created_at"])
    start, end = created - timedelta(days=1), services.clock.now() + timedelta(days=1)
    query = services.whalet.query_withdraw_records if row["kind"] == "payout" else services.whalet.query_pay_records
    page = await query(row["user_id"], start, end, mer_order_no=row["mer_order_no"], page_num=1, page_size=10)
    return next((r for r in page.records if r.mer_order_no == row["mer_order_no"]), None)


async def reconcile_one(services: Services, request_id: str) -> State | None:
    """Resolve a CONFIRM_UNKNOWN request by lookup (never by a blind second confirm)."""
    with services.store.read() as db:
        row = repo.load(db, request_id)
    if row is None or State(row["state"]) is not State.CONFIRM_UNKNOWN:
        return None
    try:
        record = await lookup(services, row)
    except WhaletError as exc:
        _note(services, request_id, f"We could not check with Whalet yet ({explain(exc)}); we will try again shortly.")
        return State.CONFIRM_UNKNOWN
    if record is None:
        _note(services, request_id, "Whalet shows no record of this order yet; we will check again shortly.")
        return State.CONFIRM_UNKNOWN
    status = (record.status or "").upper()
    if status in ("PROCESSING", "SUCCESS"):
        target = State.SUCCEEDED if status == "SUCCESS" else State.CONFIRMED
        _move(services, request_id, target, "reconcile", None, result_status=status,
              note="Whalet confirmed it has the order; nothing was sent twice.")
        return target
    if status == "FAIL":
        reason = (record.model_extra or {}).get("failReason") or "Whalet reports the payout failed"
        _move(services, request_id, State.FAILED, "reconcile", None, result_status=status, fail_reason=reason)
        return State.FAILED
    if status == "WAIT_CONFIRM" and parse_iso(row["expires_at"]) > services.clock.now():
        moved = _move(services, request_id, State.CONFIRMING, "reconcile.confirm_again", None, result_status=status,
                      note="Whalet never received our confirmation, so it was sent again.")
        if moved is not None:
            await send_confirm(services, request_id)
        return State.CONFIRMING
    _move(services, request_id, State.EXPIRED, "reconcile", None, result_status=status or None,
          decided_at=iso(services.clock.now()), note="Whalet never received the confirmation before the quote expired.")
    return State.EXPIRED


def _note(services: Services, request_id: str, note: str) -> None:
    with services.store.transaction() as db:
        row = repo.load(db, request_id)
        if row is None or row.get("note") == note:
            return
        try:
            row = repo.bump(db, row, note=note)
        except repo.StaleRequest:
            return
        repo.update_card(services, db, row)
    services.wake_outbox()


async def sweep(services: Services) -> None:
    """Periodic work: expire stale cards, retry lookups, recover rows a crash left behind."""
    from commands.approvals.service import expire_due

    expire_due(services)
    now = services.clock.now()
    # A CONFIRMING row decided before this process started has no confirm in flight here: the
    # process that sent it is gone (crash, kill -9). Recover it at once instead of after
    # STUCK_CONFIRMING, so a restart resolves it by lookup within one sweep.
    started = services.extras.setdefault("approvals_started_at", iso(now))
    confirming_cutoff = max(iso(now - STUCK_CONFIRMING), started)
    with services.store.transaction() as db:
        stuck = list(db.query(
            "SELECT * FROM approval_requests WHERE (state = ? AND decided_at < ?) OR (state = ? AND created_at <= ?)",
            [State.CONFIRMING.value, confirming_cutoff, State.APPLYING.value, iso(now - STUCK_APPLYING)]))
        for row in stuck:
            # CONFIRMING this old: the process died around the confirm call -> find out, don't resend.
            # APPLYING this old: the quote was never shown to anyone; it expires at Whalet unconfirmed.
            target = State.CONFIRM_UNKNOWN if row["state"] == State.CONFIRMING.value else State.ABANDONED
            row = repo.transition(db, row, target, note="Recovered after a restart.")
            repo.audit(services, db, row, "system", "recover")
            if target is State.CONFIRM_UNKNOWN:
                repo.update_card(services, db, row)
        unknown = [r["id"] for r in db.query("SELECT id FROM approval_requests WHERE state = ?",
                                             [State.CONFIRM_UNKNOWN.value])]
    services.wake_outbox()
    for request_id in unknown:
        await reconcile_one(services, request_id)
