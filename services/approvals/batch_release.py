"""Releasing an approved batch: each line its own Whalet order, with a single payout's guarantees.

Each line becomes a payout request of its own (``batch_id``, ``line_no``), created in one
transaction that also claims the line (a compare-and-set on ``batch_lines.request_id``), so two
replicas releasing the same batch never make two requests for one line. Its order number is
derived from the batch, the line and the attempt (``WBB<batch><line><attempt>``): a retried apply
of the same attempt is Whalet's duplicate, never a second order. The line's payout is applied,
checked against the line (amount, currency, beneficiary) and against the batch's approved rate
for its currency pair, given the batch's approvals (each still counted against its giver's role
NOW at the confirm), and confirmed by the one sender, ``confirm.send_confirm``, with its lease,
freeze, expiry, quorum and fingerprint guards. From there it is an ordinary payout: lookups after
a lost answer, Whalet's result notification, the sweep.

At most ``[batch] concurrency`` lines are applied and confirmed at once. A freeze stops every line
not yet confirmed (nothing new is applied; ``send_confirm`` holds the rest). A quote beyond
``max_rate_drift_bps`` of the approved rate sends the batch back for approval with the new rate
on its card (that line's order is abandoned, never confirmed, and applied anew once approved).
An apply whose answer was lost, or left half-way by a crash, is abandoned the same way and the
line applied again under the next attempt's order number, at most MAX_ATTEMPTS times; an apply
Whalet refused ends the line as failed. The batch is CONFIRMED once every line went to Whalet and
SUCCEEDED once every line settled; its results go to its thread once.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import TYPE_CHECKING


from core.faultpoints import fault_point
from core.i18n import Later, later
from core.storage import batches
from services.approvals import repo
from services.approvals.batch_policy import pair
from services.approvals.batch_views import digest
from services.approvals.batch_lines import Line, read, settle
from services.approvals.batch_pause import drifted, give_batch_approvals, reapprove
from services.approvals.confirm import is_frozen, reader, send_confirm
from services.approvals.fingerprint import fingerprint, intact
from services.approvals.kinds import KINDS, mismatch_of, with_quote
from services.approvals.lease import call_deadline, card_language, count_call, lease_end, owner
from services.approvals.request import ApprovalRequest
from services.approvals.requote import bps_between
from services.approvals.states import State
from services.slack.blocks import esc
from services.whalet_words import sentence_of
from whalet.errors import DuplicateRequest, WhaletError, WhaletRejected

if TYPE_CHECKING:
    from services.container import Services

MAX_ATTEMPTS = 3
BATCH_ORDER_PREFIX = "WBB"  # WBB<batch><line, 4 digits><attempt>: at most 16 characters of Whalet's 30
_running: set[tuple[int, str]] = set()  # (id(services), batch id) being released in this process


async def release(services: Services, batch_id: str) -> str | None:
    """Take every due step of an approved batch (once per process at a time); a sentence, if any,
    for the approver whose click released it (in their language)."""
    key = (id(services), batch_id)
    if key in _running:
        return None
    _running.add(key)
    try:
        said = await _release(services, batch_id)
    finally:
        _running.discard(key)
    if said is None or isinstance(said, str):
        return said
    with services.store.read() as db:
        parent = repo.load(db, batch_id)
    return reader(services, parent).text(said)


async def _release(services: Services, batch_id: str) -> Later | str | None:
    with services.store.read() as db:
        parent, lines = read(db, batch_id)
    if parent is None or not parent.is_batch or parent.state not in (State.APPROVED, State.CONFIRMED):
        return None
    if not intact(parent) or digest([line.row for line in lines]) != parent.lines_digest:
        return _hold(services, parent, later("The stored batch no longer matches its card, so no line is released."))
    if any(line.request is not None and line.request.state is State.PENDING for line in lines):
        return reapprove(services, parent, lines)
    now = services.clock.now()
    if parent.expired(now):
        _expire_unsent(services, parent, lines)
    elif not is_frozen(services):  # frozen: nothing applied or confirmed; the card says so (settle)
        gate = asyncio.Semaphore(services.config.batch.concurrency)

        async def one(line: Line) -> Later | str | None:
            async with gate:
                if line.needs_apply(services.clock.now()):
                    return await _apply_line(services, parent, line)
                if line.request is not None and line.request.state is State.APPROVED:
                    await send_confirm(services, line.request.id)
                return None

        said = [s for s in await asyncio.gather(*(one(line) for line in lines)) if s]
        if said:
            return said[0]
    return settle(services, batch_id)


def _hold(services: Services, parent: ApprovalRequest, said: Later) -> Later:
    note = card_language(services).text(said)  # shown on the card
    with services.store.transaction() as db:
        current = repo.load(db, parent.id, lock=True)
        if current is not None and current.note != note:
            current = repo.bump(db, current, note=note)
            repo.audit(services, db, current, "system", "batch.held", reason=note)
            repo.update_card(services, db, current)
    services.wake_outbox()
    return said


def _expire_unsent(services: Services, parent: ApprovalRequest, lines: list[Line]) -> None:
    with services.store.transaction() as db:
        for line in lines:
            if line.needs_apply(services.clock.now()):
                expired = card_language(services).gettext("The batch expired before this line was sent.")
                batches.end_line(db, parent.id, line.no, "expired", expired)


def _order(parent: ApprovalRequest, line_no: int, attempt: int) -> str:
    return f"{BATCH_ORDER_PREFIX}{parent.id[3:]}{line_no:04d}{attempt}"


async def _apply_line(services: Services, parent: ApprovalRequest, line: Line) -> Later | str | None:
    if line.request is not None and line.request.state is State.APPLYING:
        child = _take_over(services, line.request)  # its process died mid-apply
        return None if child is None else await _applied(services, parent, child)
    row = line.row
    attempt = int(row["attempt"]) + 1 if row["request_id"] else 0
    if attempt >= MAX_ATTEMPTS:
        reason = (line.request.note if line.request else None) or card_language(services).gettext(
            "Whalet's answer was lost too often."
        )
        with services.store.transaction() as db:
            batches.end_line(db, parent.id, line.no, "failed", reason)
        return None
    now = services.clock.now()
    child = ApprovalRequest(
        id=f"{parent.id}-{line.no}" + (f".{attempt}" if attempt else ""),
        kind="payout",
        state=State.APPLYING,
        version=1,
        requester=parent.requester,
        user_id=parent.user_id,
        fund_source=parent.fund_source,
        amount=Decimal(str(row["amount"])),
        currency=str(row["currency"]),
        to_currency=str(row["to_currency"]),
        beneficiary_id=str(row["beneficiary_id"]),
        beneficiary_name=str(row["beneficiary_name"]),
        account_tail=row["account_tail"],
        purpose=str(row["purpose"]),
        reference=str(row["reference"]),
        flags=tuple(json.loads(str(row["flags"]))),
        mer_order_no=_order(parent, line.no, attempt),
        created_at=now,
        expires_at=parent.expires_at,
        required_approvals=parent.required_approvals,
        layers=parent.layers,
        batch_id=parent.id,
        line_no=line.no,
        whalet_calls=1,
        lease_owner=owner(services),  # held while the apply runs; a dead process's runs out
        lease_until=lease_end(now, services),
    )
    with services.store.transaction() as db:
        current = repo.load(db, parent.id, lock=True)
        if current is None or current.state is not State.APPROVED or is_frozen(services):
            return None
        if not batches.claim(db, parent.id, line.no, row["request_id"], child.id, attempt):
            return None  # another replica released this line meanwhile
        repo.insert(db, child)
        current = repo.bump(db, current, confirm_attempts=max(1, current.confirm_attempts))  # released
        repo.audit(services, db, child, "system", "batch.line.apply", batch=parent.id, line=line.no)
    fault_point("batch.line_claimed")  # the line's payout request is committed, nothing asked yet
    return await _applied(services, parent, child)


def _take_over(services: Services, dead: ApprovalRequest) -> ApprovalRequest | None:
    """The lease of a line's payout left APPLYING by a process that died, for this process."""
    now = services.clock.now()
    with services.store.transaction() as db:
        current = repo.load(db, dead.id, lock=True)
        if current is None or current.state is not State.APPLYING or current.lease_held(now):
            return None
        current = repo.bump(db, current, lease_owner=owner(services), lease_until=lease_end(now, services))
        repo.audit(services, db, current, "system", "batch.line.apply_again", order=current.mer_order_no)
    return current


async def _applied(services: Services, parent: ApprovalRequest, child: ApprovalRequest) -> Later | str | None:
    """Apply the line's payout at Whalet and act on the answer."""
    count_call(services, "apply")
    try:
        answer = await asyncio.wait_for(KINDS["payout"].apply(services.whalet, child), call_deadline(services))
    except DuplicateRequest:
        # The order already exists at Whalet (a dead process's apply reached it): it is never
        # confirmed; the line is applied again as the next attempt's order.
        return _abandon(services, child, later("Whalet already had this order from before a restart."), ended=False)
    except WhaletRejected as exc:
        return _abandon(services, child, sentence_of(exc), ended=True)
    except (WhaletError, TimeoutError) as exc:
        why: Later | str = sentence_of(exc) if isinstance(exc, WhaletError) else later("no answer in time")
        lost = later("Whalet's answer to the apply was lost (%(why)s); applied again.", why=why)
        return _abandon(services, child, lost, ended=False)
    mismatch = mismatch_of(child, answer)
    if mismatch:
        wrong = later("Whalet's answer did not match the line (%(mismatch)s).", mismatch=mismatch)
        return _abandon(services, child, wrong, ended=True)
    filled = with_quote(child, answer)
    with services.store.transaction() as db:
        rates = json.loads(str((batches.batch(db, parent.id) or {}).get("rates") or "{}"))
    base = rates.get(pair(child.currency, child.to_currency or child.currency))
    tolerance = services.config.approvals.max_rate_drift_bps if services.config.approvals else 50
    moved = bps_between(Decimal(base), filled.rate) if base is not None else Decimal(0)
    if moved is None or moved > tolerance:
        return drifted(services, parent, child, filled, base, tolerance)
    await _approve_and_send(services, parent.id, child, filled)
    return None


async def _approve_and_send(services: Services, batch_id: str, child: ApprovalRequest, filled: ApprovalRequest) -> None:
    now = services.clock.now()
    with services.store.transaction() as db:
        current = repo.load(db, child.id, lock=True)
        parent = repo.load(db, batch_id)
        if current is None or current.state is not State.APPLYING or parent is None:
            return
        terms = {
            name: getattr(filled, name)
            for name in ("whalet_id", "fee", "fee_currency", "to_amount", "to_currency", "rate", "quote_expires_at")
        }
        current = repo.transition(
            db, current, State.PENDING, fingerprint=fingerprint(filled), lease_owner=None, lease_until=None, **terms
        )
        give_batch_approvals(db, parent, current)
        current = repo.transition(db, current, State.APPROVED, decided_at=now, decided_by=parent.decided_by, note=None)
        repo.audit(services, db, current, "system", "batch.line.approved", whalet_id=current.whalet_id)
    await send_confirm(services, child.id)


def _abandon(services: Services, child: ApprovalRequest, said: Later | str, *, ended: bool) -> str | None:
    """The line's payout abandoned (its note, and the line's reason, in the card channel's language)."""
    card = card_language(services)
    note = card.text(said)
    with services.store.transaction() as db:
        current = repo.load(db, child.id, lock=True)
        if current is None or current.state is not State.APPLYING:
            return None
        current = repo.transition(
            db, current, State.ABANDONED, note=note, decided_at=services.clock.now(), lease_owner=None, lease_until=None
        )
        repo.audit(services, db, current, "whalet", "batch.line.abandoned", reason=note, final=ended)
        if ended:
            batches.end_line(db, child.batch_id or "", child.line_no or 0, "failed", note)
            repo.tell_thread(services, db, current, card.gettext(":x: not paid: %(why)s", why=esc(note)))
    services.wake_outbox()
    return None
