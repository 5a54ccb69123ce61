"""A batch's lines as they are being released: each line's status, the batch's progress, its results.

``settle_in`` runs in the transaction of whatever moved a line (the release, or the relay storing
Whalet's result notification): the card shows "2 paid · 1 failed · 0 waiting"; the batch becomes
CONFIRMED once every line went to Whalet and SUCCEEDED once every line settled, and then its
results table goes to its thread once (a claim on ``batches.results_posted_at``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from core.clock import iso
from core.i18n import N_, Translator, translator
from core.storage import batches
from services.approvals import repo
from services.approvals.lease import is_frozen
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.csv_cells import amount, cell, encode
from services.slack.thread_files import queue_file
from services.slack.blocks import esc
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

SENT = (State.CONFIRMED, State.SUCCEEDED, State.FAILED, State.EXPIRED, State.CONFIRM_UNKNOWN)
SETTLED = (State.SUCCEEDED, State.FAILED, State.EXPIRED)


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


def read(db: Database, batch_id: str) -> tuple[ApprovalRequest | None, list[Line]]:
    """The batch and each line with its current payout request: two queries whatever its size (a
    500-line batch is read at every line's result)."""
    parent = repo.load(db, batch_id)
    rows = batches.lines(db, batch_id)
    requests = {r.id: r for r in repo.of_batch(db, batch_id)}
    return parent, [Line(row, requests.get(row["request_id"] or "")) for row in rows]


def settle(services: Services, batch_id: str) -> str | None:
    with services.store.transaction() as db:
        settle_in(services, db, batch_id)
    services.wake_outbox()
    return None


def settle_in(services: Services, db: Database, batch_id: str) -> None:
    """The batch's progress on its card; CONFIRMED / SUCCEEDED when every line went / settled; the
    results in its thread once. In the caller's transaction (a line's result arrives in the
    relay's)."""
    parent, lines = read(db, batch_id)
    if parent is None or parent.state not in (State.APPROVED, State.CONFIRMED):
        return None
    counts = {status: sum(1 for line in lines if line.status() == status) for status in ("paid", "failed", "waiting")}
    # the card's note, in the card's channel's language
    t = translator(services.locales.channel(services.config.approvals.channel if services.config.approvals else None))
    progress = {"paid": counts["paid"], "failed": counts["failed"], "waiting": counts["waiting"]}
    note = t.gettext("%(paid)s paid · %(failed)s failed · %(waiting)s waiting", **progress)
    if counts["waiting"] and is_frozen(services):
        note = t.gettext(
            "%(paid)s paid · %(failed)s failed · %(waiting)s waiting. Frozen by an admin: the lines not yet "
            "confirmed wait for `/whalet unfreeze`.",
            **progress,
        )
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
            assert services.config.approvals is not None
            channel = services.config.approvals.channel
            t = translator(services.locales.channel(channel))  # the card's thread: its channel's language
            for part in results_table(lines, t):
                repo.tell_thread(services, db, parent, part)
            queue_file(
                db,
                (repo.REF_KIND, batch_id),
                channel,
                f"{batch_id}-results.csv",
                t.gettext("Results, line by line"),
                results_csv(lines, bom=services.config.export.bom, locale=t.locale),
            )
    elif parent.note != note:
        parent = repo.bump(db, parent, note=note)
    if (parent.state, parent.note) == before:
        return None
    repo.audit(services, db, parent, "system", "batch.progress", **counts)
    repo.update_card(services, db, parent)
    return None


RESULTS_CHUNK = 40


def results_table(lines: list[Line], t: Translator | None = None) -> list[str]:
    """line, beneficiary, amount, order, status, Whalet's reason: in replies of RESULTS_CHUNK, in
    ``t``'s language (the channel's)."""
    t = t or translator("en")
    parts = []
    for start in range(0, len(lines), RESULTS_CHUNK):
        chunk = lines[start : start + RESULTS_CHUNK]
        body = "\n".join(_result_row(line, t) for line in chunk)
        heading = t.gettext(
            "Results, lines %(first)s–%(last)s of %(total)s:", first=chunk[0].no, last=chunk[-1].no, total=len(lines)
        )
        parts.append(f"{heading}\n```{esc(body)}```")
    return parts


def _reason(line: Line, t: Translator) -> str:
    """Why a line was not paid: the bot's own reasons (catalog sentences) in ``t``'s language,
    Whalet's as Whalet gave them."""
    r, row = line.request, line.row
    reason = row["reason"] or (r.fail_reason if r is not None else "") or ""
    return t.gettext(reason) if reason and t.locale != "en" else reason


def _result_row(line: Line, t: Translator) -> str:
    r, row = line.request, line.row
    money = Money(Decimal(str(row["amount"])), str(row["currency"])).format()
    order = r.mer_order_no if r is not None and r.state is not State.ABANDONED else "—"
    reason = _reason(line, t)
    status = r.state.value if r is not None and not line.ended else str(row["outcome"] or "").upper()
    return (
        f"{line.no:>4}  {str(row['beneficiary_name'])[:24]:<24}  {money:>16}  {order:<18}  {status:<10}  {reason[:60]}"
    )


# The CSV's header row, in the language of the channel the file goes to (English as always).
RESULT_COLUMNS = (
    N_("line"),
    N_("beneficiary"),
    N_("amount"),
    N_("currency"),
    N_("order"),
    N_("status"),
    N_("whalet_reason"),
)


def results_csv(lines: list[Line], *, bom: bool = True, locale: str | None = None) -> bytes:
    """line, beneficiary, amount, order, status, Whalet's reason (UTF-8; a BOM for Excel per
    ``[export] bom``); the header row in ``locale`` (the channel's language)."""
    t = translator(locale)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([t.gettext(name) for name in RESULT_COLUMNS])
    for line in lines:
        r, row = line.request, line.row
        sent = r is not None and r.state is not State.ABANDONED
        writer.writerow(
            [
                line.no,
                cell(row["beneficiary_name"], free_text=True),
                amount(Money(Decimal(str(row["amount"])), str(row["currency"]))),
                row["currency"],
                cell(r.mer_order_no) if r is not None and sent else "",
                r.state.value if r is not None and not line.ended else str(row["outcome"] or "").upper(),
                cell(_reason(line, t), free_text=True),
            ]
        )
    return encode(buffer.getvalue(), bom=bom)
