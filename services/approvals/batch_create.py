"""A batch payout request: many lines, every one checked, one card, one approval (issue 22).

The whole file is judged before anything is written: each line against the policy's ceiling,
each currency's total against its tier and the requester's daily limit (the tier of the batch
is the strictest of its currencies), and each beneficiary's lines together with the requester's
other recent requests to them (anti-splitting). Any refusal refuses the whole file, with every
reason by line; nothing is created. Exact duplicates (same beneficiary, amount and reference)
and new beneficiaries are flagged, not refused: sometimes two equal payments are meant.

What is approved is one approval request (``is_batch``: it has a digest of its lines) with the lines beside it
(``core/storage/batches.py``); its fingerprint covers the digest of every line, so a line
changed behind the card stops the release. Fees and exact rates are Whalet's per line at
release; the card shows Whalet's indicative rate per currency pair, and a line whose quote moves
beyond ``max_rate_drift_bps`` from it sends the batch back for approval (``batch_release``).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from core.i18n import later, translator
from core.storage import batches
from core.storage.claims import serialize_on
from services.approvals import copies, repo
from services.approvals.batch_policy import BatchLine, BatchRefused, checked, indicative_rates, line_flags, totals
from services.approvals.batch_views import digest, line_table, lines_csv, summary_of
from services.approvals.fingerprint import fingerprint
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.slack.thread_files import queue_file

if TYPE_CHECKING:
    from services.container import Services

__all__ = ["BatchLine", "BatchRefused", "create_batch"]


def new_batch_id() -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "BT-" + "".join(secrets.choice(letters) for _ in range(8))


async def create_batch(
    services: Services, requester: str, file_name: str, note: str, lines: list[BatchLine], origin_channel: str
) -> ApprovalRequest:
    """Checks, the batch and its lines, the card and its thread, in one transaction."""
    whalet_user = services.config.whalet.user_id
    approvals = services.config.approvals
    if whalet_user is None or approvals is None:
        raise BatchRefused([later("No Whalet user id or approval policy is configured, so nothing can be paid.")])
    rates = await indicative_rates(services, whalet_user, lines)
    people = await copies.audience(services, requester, lines[0].amount)
    now = services.clock.now()
    batch_id = new_batch_id()
    with services.store.transaction() as db:
        serialize_on(db, f"requester:{requester}", *sorted({f"party:{ln.beneficiary.id}" for ln in lines}))
        needed, flags, deciding = checked(services, db, requester, lines)
        flagged = line_flags(db, lines, now)
        rows: list[dict[str, object]] = [
            {
                "line_no": ln.line_no,
                "beneficiary_id": ln.beneficiary.id,
                "beneficiary_name": ln.beneficiary.name,
                "account_tail": ln.beneficiary.account_tail,
                "amount": str(ln.amount.quantized().amount),
                "currency": ln.amount.currency,
                "to_currency": ln.to_currency,
                "purpose": ln.purpose,
                "reference": ln.reference,
                "flags": json.dumps(flagged[ln.line_no]),
            }
            for ln in lines
        ]
        batches.insert(db, batch_id, file_name, json.dumps(rates, sort_keys=True), rows)
        tier = approvals.tier_for(deciding, totals(lines)[deciding])
        layers = tuple(tuple(layer) for layer in tier.layers) if tier is not None and tier.layers else ()
        marks = sorted({m for ms in flagged.values() for m in ms})
        request = ApprovalRequest(
            id=batch_id,
            kind="payout",  # a batch of payouts; is_batch: it has lines (the kind column admits payout and pay)
            state=State.PENDING,
            version=1,
            requester=requester,
            user_id=whalet_user,
            fund_source=services.config.whalet.default_fund_source,
            amount=totals(lines)[deciding],
            currency=deciding,
            mer_order_no=f"WBB{batch_id[3:]}",  # never sent: each line has its own order
            created_at=now,
            purpose=note,
            reference=file_name,
            flags=tuple(flags + marks),
            expires_at=now + timedelta(minutes=approvals.ttl_minutes),
            required_approvals=needed,
            layers=layers if len(layers) == needed else (),
            origin_channel=origin_channel,
            summary=summary_of(lines, flagged, rates, translator(services.locales.channel(approvals.channel))),
            lines_digest=digest(rows),
        )
        request = request.with_(fingerprint=fingerprint(request))
        repo.insert(db, request)
        repo.audit(services, db, request, requester, "batch.request", lines=len(lines), file=file_name)
        repo.post_card(services, db, request, people)
        t = translator(services.locales.channel(approvals.channel))  # the card's thread: its channel's language
        for part in line_table(rows, t):
            repo.tell_thread(services, db, request, part)
        queue_file(
            db,
            (repo.REF_KIND, batch_id),
            approvals.channel,
            f"{batch_id}-lines.csv",
            t.gettext("Every line"),
            lines_csv(rows, bom=services.config.export.bom, locale=t.locale),
        )
    services.wake_outbox()
    return request
