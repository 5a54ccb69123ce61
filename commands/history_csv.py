"""`/whalet history KIND --days N --csv`: every record of the period as a CSV in the person's DM.

Every page is fetched (100 records a page, at most ``EXPORT_CONCURRENCY`` pages at once, in
order in the file), so the file is the whole period, not the first screen. Amounts are exact
decimal strings with the currency's minor digits ("1200.50", "3500000"), never floats; times are
ISO 8601 with their zone ("2026-12-02T09:30:00+08:00", Whalet's). Account numbers inside
free text are masked as on screen, and a text cell that a spreadsheet would run as a formula
(= + - @ first) is quoted with a leading apostrophe. The header row is in the reader's language
(the English one is the column names scripts have always read); the cells are data, as Whalet
wrote them.

The file goes to the person's DM with the bot (``conversations.open`` then ``files_upload_v2``):
an export is theirs, not the channel's. An export of more than one page is announced first
("working on it"), and a Slack refusal becomes a sentence like Whalet's errors do.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import N_, Translator, translator
from services.slack.blocks import esc
from services.csv_cells import amount as _amount
from services.csv_cells import cell, encode
from whalet.models import Record, RecordPage

EXPORT_PAGE_SIZE = 100  # Whalet's largest page
EXPORT_CONCURRENCY = 4
# The header row: in English the column names as they always were (scripts read them); each is
# a catalog message, so a Chinese reader's spreadsheet has Chinese headers.
# TRANSLATORS: CSV column headers of the history export.
COLUMNS = (
    N_("record_id"),
    N_("status"),
    N_("amount"),
    N_("currency"),
    N_("fee"),
    N_("fee_currency"),
    N_("to_amount"),
    N_("to_currency"),
    N_("mer_order_no"),
    N_("counterparty"),
    N_("created_at"),
    N_("finished_at"),
    N_("request_id"),
    N_("requester"),
    N_("approvers"),
)

Query = Callable[[int], Awaitable[RecordPage]]  # page number -> that page


async def fetch_all(query: Query) -> list[Record]:
    """Every page in order: the first says how many there are, the rest come concurrently."""
    first = await query(1)
    pages = max(1, -(-first.total // EXPORT_PAGE_SIZE))
    gate = asyncio.Semaphore(EXPORT_CONCURRENCY)

    async def page(number: int) -> list[Record]:
        async with gate:
            return (await query(number)).records

    rest = await asyncio.gather(*(page(number) for number in range(2, pages + 1)))
    return [*first.records, *(record for records in rest for record in records)]


def _time(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def headers(columns: tuple[str, ...], locale: str | None) -> list[str]:
    """A CSV's header row in the reader's language (English: the column names as they were)."""
    t = translator(locale)
    return [t.gettext(column) for column in columns]


def to_csv(
    records: list[Record],
    made_here: dict[str, tuple[str, str, list[str]]] | None = None,
    *,
    bom: bool = True,
    locale: str | None = None,
) -> bytes:
    """``made_here``: order number -> (request id, requester, approvers) for the records that went
    through the bot's approvals (``core.storage.audit.bot_orders``); the others leave them empty.
    ``locale``: the language of the header row (the cells are data, as Whalet wrote them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers(COLUMNS, locale))
    for record in records:
        request_id, requester, approvers = (made_here or {}).get(record.mer_order_no or "", ("", "", []))
        extra = record.model_extra or {}
        who = extra.get("payerName") or extra.get("beneficiaryId") or extra.get("payeeUserId") or ""
        writer.writerow(
            [
                cell(record.record_id),
                cell(record.status),
                _amount(record.amount),
                record.amount.currency if record.amount else (record.currency or ""),
                _amount(record.fee),
                record.fee.currency if record.fee else "",
                _amount(record.to_amount),
                record.to_amount.currency if record.to_amount else (record.to_currency or ""),
                cell(record.mer_order_no),
                cell(who, free_text=True),
                _time(record.create_time),
                _time(record.finish_time),
                cell(request_id),
                cell(requester),
                cell(" ".join(approvers)),
            ]
        )
    return encode(buffer.getvalue(), bom=bom)


async def send_to_dm(
    client: AsyncWebClient, user_id: str, data: bytes, filename: str, comment: str, t: Translator | None = None
) -> str | None:
    """Upload into the person's DM; None when done, else the sentence to answer with (in ``t``'s language)."""
    try:
        opened = await client.conversations_open(users=user_id)
        dm = str(opened["channel"]["id"])
        await client.files_upload_v2(channel=dm, file=data, filename=filename, title=filename, initial_comment=comment)
    except SlackApiError as exc:
        return (t or translator("en")).gettext(
            "I could not send the CSV to your DM: Slack answered `%(error)s`.",
            error=esc(exc.response.get("error") or "error"),
        )
    return None
