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

import csv
import hashlib
import io
import json
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlite_utils import Database

from core.storage import batches
from core.storage.claims import serialize_on
from services.approvals import copies, policy, repo
from services.approvals.confirm import is_frozen
from services.approvals.fingerprint import fingerprint
from services.approvals.request import ApprovalRequest
from services.approvals.service import FLAG_POSSIBLE_SPLIT
from services.approvals.states import State
from services.book import BookEntry, is_new
from services.csv_cells import amount, cell, encode
from services.slack.blocks import esc
from services.slack.thread_files import queue_file
from whalet.errors import WhaletError, explain
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

FLAG_DUPLICATE = "duplicate line"
FLAG_NEW = "new beneficiary"
FIRST_REASONS = 20  # a refused file lists this many reasons, then a count


@dataclass(frozen=True)
class BatchLine:
    line_no: int  # 1-based, in file order
    row: int  # the file's row (the header is row 1), for messages
    beneficiary: BookEntry
    amount: Money
    to_currency: str
    purpose: str
    reference: str


class BatchRefused(Exception):
    """The file was refused; ``reasons`` are the sentences (by line), nothing was created."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def summed(reasons: list[str]) -> str:
    """The first FIRST_REASONS reasons, one per line, then how many more."""
    shown = [f"• {esc(r)}" for r in reasons[:FIRST_REASONS]]
    more = len(reasons) - FIRST_REASONS
    return "\n".join(shown + ([f"…and {more} more."] if more > 0 else []))


def totals(lines: list[BatchLine]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        found[line.amount.currency] += line.amount.amount
    return dict(sorted(found.items()))


def digest(rows: list[dict[str, object]]) -> str:
    """SHA-256 of the lines as stored, in order: what the batch's fingerprint covers."""
    canonical = [{name: str(row[name] or "") for name in batches.LINE_FIELDS} for row in rows]
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def pair(currency: str, to_currency: str) -> str:
    return f"{currency}>{to_currency}"


async def indicative_rates(services: Services, user_id: str, lines: list[BatchLine]) -> dict[str, str]:
    """Whalet's rate for each currency pair that converts, shown on the card and the base the
    release's quotes are held to."""
    rates: dict[str, str] = {}
    for line in lines:
        key = pair(line.amount.currency, line.to_currency)
        if line.to_currency == line.amount.currency or key in rates:
            continue
        fund_source = services.config.whalet.default_fund_source
        try:
            quote = await services.whalet.query_rate(user_id, line.amount.currency, line.to_currency, fund_source)
        except WhaletError as exc:
            raise BatchRefused(
                [f"Whalet did not give the {line.amount.currency} to {line.to_currency} rate: {explain(exc)}"]
            ) from exc
        rates[key] = str(quote.rate)
    return rates


def _checked(services: Services, db: Database, requester: str, lines: list[BatchLine]) -> tuple[int, list[str], str]:
    """Approvals needed, flags and the deciding currency; raises BatchRefused with every reason."""
    config = services.config
    approvals = config.approvals
    reasons: list[str] = []
    if approvals is None:
        raise BatchRefused(["No approval policy is configured, so the bot cannot send payouts."])
    for line in lines:
        ceiling = approvals.ceiling_for(line.amount.currency)
        if ceiling is not None and line.amount.amount > ceiling:
            reasons.append(
                f"Row {line.row}: {line.amount.format()} is above the bot's ceiling of "
                f"{Money(ceiling, line.amount.currency).format()} for one payment."
            )
    now = services.clock.now()
    needed, deciding = 0, ""
    for currency, total in totals(lines).items():
        spent = repo.spent_today(db, requester, currency, policy.today_start(config, now))
        try:
            wanted = policy.required_approvals(
                config, Money(total, currency), frozen=is_frozen(services), spent_today=spent, requester=requester
            )
        except policy.PolicyRefused as exc:
            reasons.append(f"The {currency} total: {exc}")
            continue
        if wanted > needed:
            needed, deciding = wanted, currency
    flags: list[str] = []
    if approvals.aggregate_window_hours is not None:
        since = now - timedelta(hours=approvals.aggregate_window_hours)
        for (party, currency), amount in _by_party(lines).items():
            earlier = repo.window_totals(db, requester, party, since).get(currency, Decimal(0))
            tier = approvals.tier_for(currency, earlier + amount)
            top = [t for t in approvals.tiers if t.currency == currency]
            aggregate = tier or (top[-1] if top else None)
            if aggregate is not None and aggregate.approvals > needed:
                needed, deciding = aggregate.approvals, currency
                flags = [FLAG_POSSIBLE_SPLIT]
    if reasons:
        raise BatchRefused(reasons)
    return needed, flags, deciding


def _by_party(lines: list[BatchLine]) -> dict[tuple[str, str], Decimal]:
    found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        found[(line.beneficiary.id, line.amount.currency)] += line.amount.amount
    return found


def line_flags(db: Database, lines: list[BatchLine], now: object) -> dict[int, list[str]]:
    same = Counter((ln.beneficiary.id, ln.amount.amount, ln.amount.currency, ln.reference) for ln in lines)
    flagged: dict[int, list[str]] = {}
    for ln in lines:
        marks = []
        if same[(ln.beneficiary.id, ln.amount.amount, ln.amount.currency, ln.reference)] > 1:
            marks.append(FLAG_DUPLICATE)
        if is_new(db, ln.beneficiary, now):  # type: ignore[arg-type]
            marks.append(FLAG_NEW)
        flagged[ln.line_no] = marks
    return flagged


def summary_of(lines: list[BatchLine], flagged: dict[int, list[str]], rates: dict[str, str]) -> str:
    """One line for the card's headline and the fingerprint: count, totals, flags, rates."""
    money = " + ".join(Money(total, currency).format() for currency, total in totals(lines).items())
    parts = [f"{len(lines)} line{'s' if len(lines) != 1 else ''}, {money}"]
    for mark in (FLAG_DUPLICATE, FLAG_NEW):
        count = sum(1 for marks in flagged.values() if mark in marks)
        if count:
            parts.append(f"{count} flagged {mark}")
    parts += [f"indicative {key.replace('>', '→')} {rate}" for key, rate in sorted(rates.items())]
    return "; ".join(parts)


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
        raise BatchRefused(["No Whalet user id or approval policy is configured, so nothing can be paid."])
    rates = await indicative_rates(services, whalet_user, lines)
    people = await copies.audience(services, requester, lines[0].amount)
    now = services.clock.now()
    batch_id = new_batch_id()
    with services.store.transaction() as db:
        serialize_on(db, f"requester:{requester}", *sorted({f"party:{ln.beneficiary.id}" for ln in lines}))
        needed, flags, deciding = _checked(services, db, requester, lines)
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
            summary=summary_of(lines, flagged, rates),
            lines_digest=digest(rows),
        )
        request = request.with_(fingerprint=fingerprint(request))
        repo.insert(db, request)
        repo.audit(services, db, request, requester, "batch.request", lines=len(lines), file=file_name)
        repo.post_card(services, db, request, people)
        for part in line_table(rows):
            repo.tell_thread(services, db, request, part)
        queue_file(
            db,
            (repo.REF_KIND, batch_id),
            approvals.channel,
            f"{batch_id}-lines.csv",
            "Every line",
            lines_csv(rows, bom=services.config.export.bom),
        )
    services.wake_outbox()
    return request


TABLE_CHUNK = 40  # lines per thread reply: well inside Slack's text limits
LINE_COLUMNS = (
    "line",
    "beneficiary_id",
    "beneficiary",
    "amount",
    "currency",
    "target_currency",
    "purpose",
    "reference",
    "flags",
)


def lines_csv(rows: list[dict[str, object]], *, bom: bool = True) -> bytes:
    """The batch as approved, one row per line, for the card's thread (UTF-8; a BOM for Excel per ``[export] bom``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LINE_COLUMNS)
    for row in rows:
        money = Money(Decimal(str(row["amount"])), str(row["currency"]))
        writer.writerow(
            [
                row["line_no"],
                cell(row["beneficiary_id"]),
                cell(row["beneficiary_name"], free_text=True),
                amount(money),
                row["currency"],
                row["to_currency"],
                cell(row["purpose"], free_text=True),
                cell(row["reference"], free_text=True),
                "; ".join(json.loads(str(row["flags"]))),
            ]
        )
    return encode(buffer.getvalue(), bom=bom)


def line_table(rows: list[dict[str, object]]) -> list[str]:
    """The full list for the card's thread, in replies of TABLE_CHUNK lines (code blocks)."""
    parts = []
    for start in range(0, len(rows), TABLE_CHUNK):
        chunk = rows[start : start + TABLE_CHUNK]
        body = "\n".join(
            f"{row['line_no']:>4}  {str(row['beneficiary_name'])[:28]:<28}  "
            f"{Money(Decimal(str(row['amount'])), str(row['currency'])).format():>18}"
            f"  → {row['to_currency']}  {str(row['reference'])[:24]}"
            + (f"  ⚠ {', '.join(json.loads(str(row['flags'])))}" if json.loads(str(row["flags"])) else "")
            for row in chunk
        )
        parts.append(f"Lines {chunk[0]['line_no']}–{chunk[-1]['line_no']} of {len(rows)}:\n```{esc(body)}```")
    return parts
