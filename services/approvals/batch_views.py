"""What a batch looks like to people: the card's one-line summary, the lines in its thread as a
table and as a CSV, a refused file's reasons, and the digest its fingerprint covers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal

from core.i18n import N_, Translator, translator
from core.storage import batches
from services.approvals.batch_policy import FLAG_DUPLICATE, FLAG_NEW, BatchLine, totals
from services.csv_cells import amount, cell, encode
from services.slack.blocks import esc
from whalet.money import Money


def digest(rows: list[dict[str, object]]) -> str:
    """SHA-256 of the lines as stored, in order: what the batch's fingerprint covers."""
    canonical = [{name: str(row[name] or "") for name in batches.LINE_FIELDS} for row in rows]
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def summary_of(
    lines: list[BatchLine], flagged: dict[int, list[str]], rates: dict[str, str], t: Translator | None = None
) -> str:
    """One line for the card's headline and the fingerprint: count, totals, flags, rates; written
    once, in ``t``'s language (the card's channel's), and stored as written."""
    t = t or translator("en")
    money = " + ".join(t.amount(Money(total, currency)) for currency, total in totals(lines).items())
    parts = [t.ngettext("%(n)s line, %(money)s", "%(n)s lines, %(money)s", len(lines), money=money)]
    for mark in (FLAG_DUPLICATE, FLAG_NEW):
        count = sum(1 for marks in flagged.values() if mark in marks)
        if count:
            parts.append(t.gettext("%(count)s flagged %(mark)s", count=count, mark=t.gettext(mark)))
    parts += [indicative(t, key, rate) for key, rate in sorted(rates.items())]
    return ("；" if t.locale == "zh-Hans" else "; ").join(parts)


def indicative(t: Translator, key: str, rate: object) -> str:
    """A currency pair's indicative rate as the batch's summary writes it."""
    return t.gettext("indicative %(pair)s %(rate)s", pair=key.replace(">", "→"), rate=rate)


TABLE_CHUNK = 40  # lines per thread reply: well inside Slack's text limits
# The CSV's header row, in the language of the channel the file goes to (English as always).
LINE_COLUMNS = (
    N_("line"),
    N_("beneficiary_id"),
    N_("beneficiary"),
    N_("amount"),
    N_("currency"),
    N_("target_currency"),
    N_("purpose"),
    N_("reference"),
    N_("flags"),
)


def lines_csv(rows: list[dict[str, object]], *, bom: bool = True, locale: str | None = None) -> bytes:
    """The batch as approved, one row per line, for the card's thread (UTF-8 with a BOM: Excel);
    the header row in ``locale`` (the channel's language)."""
    t = translator(locale)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([t.gettext(name) for name in LINE_COLUMNS])
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
    return encode(buffer.getvalue(), bom=bom)  # a BOM for Excel per [export] bom


def line_table(rows: list[dict[str, object]], t: Translator | None = None) -> list[str]:
    """The full list for the card's thread, in replies of TABLE_CHUNK lines (code blocks), in
    ``t``'s language (the channel's)."""
    t = t or translator("en")
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
        heading = t.gettext(
            "Lines %(first)s–%(last)s of %(total)s:",
            first=chunk[0]["line_no"],
            last=chunk[-1]["line_no"],
            total=len(rows),
        )
        parts.append(f"{heading}\n```{esc(body)}```")
    return parts
