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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from core.clock import iso
from core.faultpoints import fault_point
from core.storage import approvals as approval_rows
from core.storage import batches
from services.approvals import repo
from services.approvals.batch_create import digest, pair
from services.approvals.confirm import is_frozen, send_confirm
from services.approvals.fingerprint import fingerprint, intact
from services.approvals.kinds import KINDS, mismatch_of, with_quote
from services.approvals.lease import call_deadline, count_call, lease_end, owner
from services.approvals.request import ApprovalRequest, Terms
from services.approvals.requote import bps_between
from services.approvals.states import State
from services.slack.blocks import esc
from whalet.errors import DuplicateRequest, WhaletError, WhaletRejected, explain
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

MAX_ATTEMPTS = 3
BATCH_ORDER_PREFIX = "WBB"  # WBB<batch><line, 4 digits><attempt>: at most 16 characters of Whalet's 30
SENT = (State.CONFIRMED, State.SUCCEEDED, State.FAILED, State.EXPIRED, State.CONFIRM_UNKNOWN)
SETTLED = (State.SUCCEEDED, State.FAILED, State.EXPIRED)
_running: set[tuple[int, str]] = set()  # (id(services), batch id) being released in this process


@dataclass
class Line:
    row: dict[str, Any]
    request: ApprovalRequest | None

    @property
    def no(self) -> int:
        return int(self.row["line_no"])

    @property
    def ended(self) -> bool:
        return self.row["outcome"] is not None

    def status(self) -> str:
        """paid / failed / waiting, for the card and the results."""
        r = self.request
        if self.ended or (r is not None and r.state in (State.FAILED, State.EXPIRED)):
            return "failed"
        if r is not None and r.state is State.SUCCEEDED:
            return "paid"
        return "waiting"

    def needs_apply(self, now: datetime) -> bool:
        """No payout request yet, an abandoned one, or one left APPLYING by a process that died
        (its lease ran out): that one is applied again under the same order number, which Whalet
        takes as the same order, never a second."""
        r = self.request
        if self.ended:
            return False
        return r is None or r.state is State.ABANDONED or (r.state is State.APPLYING and not r.lease_held(now))


def _read(db: Database, batch_id: str) -> tuple[ApprovalRequest | None, list[Line]]:
    parent = repo.load(db, batch_id)
    rows = batches.lines(db, batch_id)
    return parent, [Line(row, repo.load(db, row["request_id"]) if row["request_id"] else None) for row in rows]


async def release(services: Services, batch_id: str) -> str | None:
    """Take every due step of an approved batch (once per process at a time); a sentence, if any."""
    key = (id(services), batch_id)
    if key in _running:
        return None
    _running.add(key)
    try:
        return await _release(services, batch_id)
    finally:
        _running.discard(key)


async def _release(services: Services, batch_id: str) -> str | None:
    with services.store.read() as db:
        parent, lines = _read(db, batch_id)
    if parent is None or not parent.is_batch or parent.state not in (State.APPROVED, State.CONFIRMED):
        return None
    if not intact(parent) or digest([line.row for line in lines]) != parent.lines_digest:
        return _hold(services, parent, "The stored batch no longer matches its card, so no line is released.")
    if any(line.request is not None and line.request.state is State.PENDING for line in lines):
        return _reapprove(services, parent, lines)
    now = services.clock.now()
    if parent.expired(now):
        _expire_unsent(services, parent, lines)
    elif is_frozen(services):
        waiting = sum(1 for line in lines if line.status() == "waiting")
        _hold(services, parent, f"Frozen by an admin: {waiting} line(s) wait for `/whalet unfreeze`.")
    else:
        gate = asyncio.Semaphore(services.config.batch.concurrency)

        async def one(line: Line) -> str | None:
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


def _hold(services: Services, parent: ApprovalRequest, note: str) -> str:
    with services.store.transaction() as db:
        current = repo.load(db, parent.id, lock=True)
        if current is not None and current.note != note:
            current = repo.bump(db, current, note=note)
            repo.audit(services, db, current, "system", "batch.held", reason=note)
            repo.update_card(services, db, current)
    services.wake_outbox()
    return note


def _expire_unsent(services: Services, parent: ApprovalRequest, lines: list[Line]) -> None:
    with services.store.transaction() as db:
        for line in lines:
            if line.needs_apply(services.clock.now()):
                batches.end_line(db, parent.id, line.no, "expired", "The batch expired before this line was sent.")


def _order(parent: ApprovalRequest, line_no: int, attempt: int) -> str:
    return f"{BATCH_ORDER_PREFIX}{parent.id[3:]}{line_no:04d}{attempt}"


async def _apply_line(services: Services, parent: ApprovalRequest, line: Line) -> str | None:
    if line.request is not None and line.request.state is State.APPLYING:
        child = _take_over(services, line.request)  # its process died mid-apply
        return None if child is None else await _applied(services, parent, child)
    row = line.row
    attempt = int(row["attempt"]) + 1 if row["request_id"] else 0
    if attempt >= MAX_ATTEMPTS:
        reason = (line.request.note if line.request else None) or "Whalet's answer was lost too often."
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


async def _applied(services: Services, parent: ApprovalRequest, child: ApprovalRequest) -> str | None:
    """Apply the line's payout at Whalet and act on the answer."""
    count_call(services, "apply")
    try:
        answer = await asyncio.wait_for(KINDS["payout"].apply(services.whalet, child), call_deadline(services))
    except DuplicateRequest:
        # The order already exists at Whalet (a dead process's apply reached it): it is never
        # confirmed; the line is applied again as the next attempt's order.
        return _abandon(services, child, "Whalet already had this order from before a restart.", ended=False)
    except WhaletRejected as exc:
        return _abandon(services, child, explain(exc), ended=True)
    except (WhaletError, TimeoutError) as exc:
        why = explain(exc) if isinstance(exc, WhaletError) else "no answer in time"
        return _abandon(services, child, f"Whalet's answer to the apply was lost ({why}); applied again.", ended=False)
    mismatch = mismatch_of(child, answer)
    if mismatch:
        return _abandon(services, child, f"Whalet's answer did not match the line ({mismatch}).", ended=True)
    filled = with_quote(child, answer)
    with services.store.transaction() as db:
        rates = json.loads(str((batches.batch(db, parent.id) or {}).get("rates") or "{}"))
    base = rates.get(pair(child.currency, child.to_currency or child.currency))
    tolerance = services.config.approvals.max_rate_drift_bps if services.config.approvals else 50
    moved = bps_between(Decimal(base), filled.rate) if base is not None else Decimal(0)
    if moved is None or moved > tolerance:
        return _drifted(services, parent, child, filled, base, tolerance)
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
        _give_batch_approvals(db, parent, current)
        current = repo.transition(db, current, State.APPROVED, decided_at=now, decided_by=parent.decided_by, note=None)
        repo.audit(services, db, current, "system", "batch.line.approved", whalet_id=current.whalet_id)
    await send_confirm(services, child.id)


def _give_batch_approvals(db: Database, parent: ApprovalRequest, child: ApprovalRequest) -> None:
    """The batch's counting approvals, as the line's own: the confirm re-checks each giver's role."""
    approval_rows.delete_approvals(db, child.id)
    for given in repo.approvals(db, parent.id):
        if given.counts:
            approval_rows.add_approval(db, child.id, given.approver, given.at, given.layer, Terms.of(child).to_json())


def _abandon(services: Services, child: ApprovalRequest, note: str, *, ended: bool) -> str | None:
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
            repo.tell_thread(services, db, current, f":x: not paid: {esc(note)}")
    services.wake_outbox()
    return None


def _drifted(
    services: Services,
    parent: ApprovalRequest,
    child: ApprovalRequest,
    filled: ApprovalRequest,
    base: str | None,
    bps: int,
) -> str:
    key = pair(child.currency, child.to_currency or child.currency)
    note = (
        f"Whalet's {key.replace('>', '→')} rate moved beyond {bps} bp of what was approved "
        f"({base} → {filled.rate}); the lines not yet sent wait for the batch to be approved again."
    )
    with services.store.transaction() as db:
        line_child = repo.load(db, child.id, lock=True)
        current = repo.load(db, parent.id, lock=True)
        if line_child is not None and line_child.state is State.APPLYING:
            repo.transition(db, line_child, State.ABANDONED, note=note, decided_at=services.clock.now())
        if current is None or current.state is not State.APPROVED:
            return note
        rates = json.loads(str((batches.batch(db, parent.id) or {}).get("rates") or "{}"))
        old_summary = current.summary or ""
        rates[key] = str(filled.rate)
        batches.set_rates(db, parent.id, json.dumps(rates, sort_keys=True))
        summary = old_summary.replace(
            f"indicative {key.replace('>', '→')} {base}", f"indicative {key.replace('>', '→')} {filled.rate}"
        )
        voided = approval_rows.delete_approvals(db, parent.id)
        renewed = current.with_(summary=summary)
        current = repo.transition(
            db, current, State.PENDING, note=note, summary=summary, fingerprint=fingerprint(renewed)
        )
        repo.audit(services, db, current, "system", "batch.requote_beyond", voided=voided, rate=str(filled.rate))
        repo.update_card(services, db, current)
        repo.tell_thread(services, db, current, f":warning: {esc(note)}")
    services.wake_outbox()
    return note


def _reapprove(services: Services, parent: ApprovalRequest, lines: list[Line]) -> str | None:
    """A line's payout lost its quorum (an approver lost the role, or its quote moved at release):
    the batch waits for approval again; once approved, those lines get the new approvals."""
    with services.store.transaction() as db:
        current = repo.load(db, parent.id, lock=True)
        if current is None:
            return None
        if current.state is State.APPROVED:
            note = "A line lost its approvals (a role changed, or its quote moved); approve the batch again."
            current = repo.transition(db, current, State.PENDING, note=note)
            repo.audit(services, db, current, "system", "batch.reapprove")
            repo.update_card(services, db, current)
            services.wake_outbox()
            return note
    return None


def resume_lines(services: Services, db: Database, parent: ApprovalRequest) -> None:
    """Inside the click that approved the batch again: its waiting lines get the new approvals."""
    for row in batches.lines(db, parent.id):
        child = repo.load(db, row["request_id"], lock=True) if row["request_id"] else None
        if child is not None and child.state is State.PENDING:
            _give_batch_approvals(db, parent, child)
            child = repo.transition(db, child, State.APPROVED, decided_at=services.clock.now(), note=None)
            repo.audit(services, db, child, "system", "batch.line.reapproved")


def settle(services: Services, batch_id: str) -> str | None:
    with services.store.transaction() as db:
        settle_in(services, db, batch_id)
    services.wake_outbox()
    return None


def settle_in(services: Services, db: Database, batch_id: str) -> None:
    """The batch's progress on its card; CONFIRMED / SUCCEEDED when every line went / settled; the
    results in its thread once. In the caller's transaction (a line's result arrives in the
    relay's)."""
    parent, lines = _read(db, batch_id)
    if parent is None or parent.state not in (State.APPROVED, State.CONFIRMED):
        return None
    counts = {status: sum(1 for line in lines if line.status() == status) for status in ("paid", "failed", "waiting")}
    note = f"{counts['paid']} paid · {counts['failed']} failed · {counts['waiting']} waiting"
    sent = all(line.ended or (line.request is not None and line.request.state in SENT) for line in lines)
    done = all(line.ended or (line.request is not None and line.request.state in SETTLED) for line in lines)
    parent = repo.load(db, batch_id, lock=True)
    assert parent is not None
    before = (parent.state, parent.note)
    if parent.state is State.APPROVED and (sent or done):
        parent = repo.conclude(services, db, parent, State.CONFIRMED, note=note)
    if done:
        parent = repo.conclude(services, db, parent, State.SUCCEEDED, note=note, result_status="SETTLED")
        if batches.claim_results(db, batch_id, iso(services.clock.now())):
            for part in results_table(lines):
                repo.tell_thread(services, db, parent, part)
    elif parent.note != note:
        parent = repo.bump(db, parent, note=note)
    if (parent.state, parent.note) == before:
        return None
    repo.audit(services, db, parent, "system", "batch.progress", **counts)
    repo.update_card(services, db, parent)
    return None


RESULTS_CHUNK = 40


def results_table(lines: list[Line]) -> list[str]:
    """line, beneficiary, amount, order, status, Whalet's reason: in replies of RESULTS_CHUNK."""
    parts = []
    for start in range(0, len(lines), RESULTS_CHUNK):
        chunk = lines[start : start + RESULTS_CHUNK]
        body = "\n".join(_result_row(line) for line in chunk)
        parts.append(f"Results, lines {chunk[0].no}–{chunk[-1].no} of {len(lines)}:\n```{esc(body)}```")
    return parts


def _result_row(line: Line) -> str:
    r, row = line.request, line.row
    money = Money(Decimal(str(row["amount"])), str(row["currency"])).format()
    order = r.mer_order_no if r is not None and r.state is not State.ABANDONED else "—"
    reason = row["reason"] or (r.fail_reason if r is not None else "") or ""
    status = r.state.value if r is not None and not line.ended else str(row["outcome"] or "").upper()
    return (
        f"{line.no:>4}  {str(row['beneficiary_name'])[:24]:<24}  {money:>16}  {order:<18}  {status:<10}  {reason[:60]}"
    )
