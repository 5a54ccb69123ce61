"""A batch sent back for approval, and its waiting lines resumed when it is approved again.

Two things send an approved batch back: a line's quote beyond ``max_rate_drift_bps`` of the rate
the batch was approved on (the approvals are void and the card shows the new rate), or a line's
payout losing its quorum at the confirm (an approver lost the role). The click that approves the
batch again gives its waiting lines the new approvals, in the same transaction.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlite_utils import Database

from core.i18n import LOCALES, Later, later, translator
from core.storage import approvals as approval_rows
from core.storage import batches
from services.approvals import repo
from services.approvals.batch_policy import pair
from services.approvals.batch_views import indicative
from services.approvals.batch_lines import Line
from services.approvals.fingerprint import fingerprint
from services.approvals.lease import card_language
from services.approvals.request import ApprovalRequest, Terms
from services.approvals.states import State
from services.slack.blocks import esc

if TYPE_CHECKING:
    from services.container import Services


def give_batch_approvals(db: Database, parent: ApprovalRequest, child: ApprovalRequest) -> None:
    """The batch's counting approvals, as the line's own: the confirm re-checks each giver's role."""
    approval_rows.delete_approvals(db, child.id)
    for given in repo.approvals(db, parent.id):
        if given.counts:
            approval_rows.add_approval(db, child.id, given.approver, given.at, given.layer, Terms.of(child).to_json())


def drifted(
    services: Services,
    parent: ApprovalRequest,
    child: ApprovalRequest,
    filled: ApprovalRequest,
    base: str | None,
    bps: int,
) -> Later:
    key = pair(child.currency, child.to_currency or child.currency)
    said = later(
        "Whalet's %(pair)s rate moved beyond %(bps)s bp of what was approved "
        "(%(before)s → %(after)s); the lines not yet sent wait for the batch to be approved again.",
        pair=key.replace(">", "→"),
        bps=bps,
        before=base,
        after=filled.rate,
    )
    note = card_language(services).text(said)  # shown on the card (and told in its thread)
    with services.store.transaction() as db:
        line_child = repo.load(db, child.id, lock=True)
        current = repo.load(db, parent.id, lock=True)
        if line_child is not None and line_child.state is State.APPLYING:
            repo.transition(db, line_child, State.ABANDONED, note=note, decided_at=services.clock.now())
        if current is None or current.state is not State.APPROVED:
            return said
        rates = json.loads(str((batches.batch(db, parent.id) or {}).get("rates") or "{}"))
        old_summary = current.summary or ""
        rates[key] = str(filled.rate)
        batches.set_rates(db, parent.id, json.dumps(rates, sort_keys=True))
        summary = old_summary
        for locale in LOCALES:  # the summary was written in its channel's language then
            t = translator(locale)
            summary = summary.replace(indicative(t, key, base), indicative(t, key, filled.rate))
        voided = approval_rows.delete_approvals(db, parent.id)
        renewed = current.with_(summary=summary)
        current = repo.transition(
            db, current, State.PENDING, note=note, summary=summary, fingerprint=fingerprint(renewed)
        )
        repo.audit(services, db, current, "system", "batch.requote_beyond", voided=voided, rate=str(filled.rate))
        repo.update_card(services, db, current)
        repo.tell_thread(services, db, current, f":warning: {esc(note)}")
    services.wake_outbox()
    return said


def reapprove(services: Services, parent: ApprovalRequest, lines: list[Line]) -> Later | None:
    """A line's payout lost its quorum (an approver lost the role, or its quote moved at release):
    the batch waits for approval again; once approved, those lines get the new approvals."""
    with services.store.transaction() as db:
        current = repo.load(db, parent.id, lock=True)
        if current is None:
            return None
        if current.state is State.APPROVED:
            said = later("A line lost its approvals (a role changed, or its quote moved); approve the batch again.")
            current = repo.transition(db, current, State.PENDING, note=card_language(services).text(said))
            repo.audit(services, db, current, "system", "batch.reapprove")
            repo.update_card(services, db, current)
            services.wake_outbox()
            return said
    return None


def resume_lines(services: Services, db: Database, parent: ApprovalRequest) -> None:
    """Inside the click that approved the batch again: its waiting lines get the new approvals."""
    for row in batches.lines(db, parent.id):
        child = repo.load(db, row["request_id"], lock=True) if row["request_id"] else None
        if child is not None and child.state is State.PENDING:
            give_batch_approvals(db, parent, child)
            child = repo.transition(db, child, State.APPROVED, decided_at=services.clock.now(), note=None)
            repo.audit(services, db, child, "system", "batch.line.reapproved")
