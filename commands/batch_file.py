"""Reading a batch payout file: a CSV with a header row, every row checked before anything is made.

Columns (any order, names in any case): ``beneficiary`` (id or nickname in the book), ``amount``,
``currency``, and optionally ``target_currency`` (what the beneficiary receives; it must be the
beneficiary's currency, which is also the default), ``purpose`` and ``reference``. UTF-8 with or
without a byte-order mark (what Excel writes as "CSV UTF-8"); comma- or semicolon-separated
(the header row decides). Amounts are written as in `/whalet payout`: 1200.50 or 1,200.50, no
more decimals than the currency has. Every problem is reported with its row (the header is row 1),
never only the first; the policy's checks over the whole batch follow in ``batch_create``.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from commands import args
from core.i18n import Later, later
from services import book
from services.approvals.batch_create import BatchLine
from services.slack.subcommands import UsageError

if TYPE_CHECKING:
    from services.container import Services

REQUIRED = ("beneficiary", "amount", "currency")
OPTIONAL = ("target_currency", "purpose", "reference")
DEFAULT_PURPOSE = "Batch payout"
MAX_PURPOSE, MAX_REFERENCE = 128, 64


def read_batch(services: Services, content: bytes, max_lines: int) -> tuple[list[BatchLine], list[Later]]:
    """(lines, reasons): the lines when there is no reason to refuse the file. The reasons are
    ``Later`` sentences, shown in the language of whoever sent the file (``str()``: English)."""
    try:
        text = content.decode("utf-8-sig")
        if "\x00" in text:  # UTF-16 (Excel's "Unicode text") decodes as UTF-8 with NULs between letters
            raise UnicodeDecodeError("utf-8", content, 0, 1, "NUL")
    except UnicodeDecodeError:
        return [], [later('The file is not UTF-8 text: save it as "CSV UTF-8" and try again.')]
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=_delimiter(text)) if any(c.strip() for c in row)]
    if not rows:
        return [], [later("The file is empty: it needs a header row and at least one payment.")]
    header = [name.strip().lower() for name in rows[0]]
    reasons = _header_problems(header)
    if reasons:
        return [], reasons
    data = rows[1:]
    if not data:
        return [], [later("The file has a header row but no payments.")]
    if len(data) > max_lines:
        return [], [
            later(
                "The file has %(count)s payments; a batch takes at most %(max)s. Split it into several.",
                count=len(data),
                max=max_lines,
            )
        ]
    entries = book.entries(services)
    known = {e.id: e for e in entries} | {e.nickname.lower(): e for e in entries}
    tiers = {t.currency for t in services.config.approvals.tiers} if services.config.approvals else set()
    lines: list[BatchLine] = []
    for index, row in enumerate(data, start=2):
        if len(row) != len(header):
            reasons.append(
                later(
                    "Row %(row)s: %(fields)s fields, but the header names %(columns)s.",
                    row=index,
                    fields=len(row),
                    columns=len(header),
                )
            )
            continue
        line, problem = _line(dict(zip(header, (cell.strip() for cell in row), strict=True)), index, len(lines) + 1)
        if line is not None and problem is None:
            problem = _known(line, known, tiers)
        if problem or line is None:
            reasons.append(later("Row %(row)s: %(problem)s", row=index, problem=problem))
            continue
        lines.append(_resolved(line, known))
    return (lines, []) if not reasons else ([], reasons)


def _delimiter(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return ";" if first.count(";") > first.count(",") else ","


def _header_problems(header: list[str]) -> list[Later]:
    reasons = []
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        reasons.append(
            later(
                "The header row lacks %(missing)s (columns: %(columns)s).",
                missing=", ".join(missing),
                columns=", ".join(REQUIRED + OPTIONAL),
            )
        )
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    if unknown:
        reasons.append(later("The header row has columns this bot does not know: %(names)s.", names=", ".join(unknown)))
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        reasons.append(later("The header row names %(names)s twice.", names=", ".join(twice)))
    return reasons


def _line(cells: dict[str, str], row: int, line_no: int) -> tuple[dict[str, object] | None, Later | None]:
    """The row's own checks (no book, no policy): amount digits, currencies, text lengths."""
    try:
        currency = args.currency(cells["currency"])
        money = args.amount(cells["amount"], currency)
        target = args.currency(cells["target_currency"]) if cells.get("target_currency") else None
    except UsageError as exc:
        return None, exc.later
    purpose, reference = cells.get("purpose") or DEFAULT_PURPOSE, cells.get("reference", "")
    if len(purpose) > MAX_PURPOSE or len(reference) > MAX_REFERENCE:
        return None, later(
            "the purpose can have at most %(purpose)s characters and the reference %(reference)s",
            purpose=MAX_PURPOSE,
            reference=MAX_REFERENCE,
        )
    if not cells["beneficiary"]:
        return None, later("no beneficiary")
    values = {"beneficiary": cells["beneficiary"], "amount": money, "target": target, "purpose": purpose}
    return {**values, "reference": reference, "row": row, "line_no": line_no}, None


def _known(line: dict[str, object], known: dict[str, book.BookEntry], tiers: set[str]) -> Later | None:
    ref = str(line["beneficiary"])
    entry = known.get(ref) or known.get(ref.lower())
    if entry is None:
        return later("'%(ref)s' is not in the beneficiary book (see `/whalet beneficiaries`).", ref=args.shown(ref))
    currency = line["amount"].currency  # type: ignore[attr-defined]
    if currency not in tiers:
        return later(
            "the approval policy has no tiers for %(currency)s, so the bot will not send it.", currency=currency
        )
    target = line["target"]
    if target is not None and target != entry.currency:
        return later(
            "%(beneficiary)s receives %(currency)s, not %(wanted)s.",
            beneficiary=entry.nickname,
            currency=entry.currency,
            wanted=target,
        )
    return None


def _resolved(line: dict[str, object], known: dict[str, book.BookEntry]) -> BatchLine:
    ref = str(line["beneficiary"])
    entry = known.get(ref) or known[ref.lower()]
    return BatchLine(
        line_no=int(str(line["line_no"])),
        row=int(str(line["row"])),
        beneficiary=entry,
        amount=line["amount"],  # type: ignore[arg-type]
        to_currency=entry.currency,
        purpose=str(line["purpose"]),
        reference=str(line["reference"]),
    )
