"""The bot's beneficiary book: whom a payout may name, by id or nickname.

Two sources: the ``[[beneficiaries]]`` of the policy file (reviewed with the file) and those
added through `/whalet beneficiaries add`, which count only once Whalet's
``beneficiaryResultNotify`` says SUCCESS. A beneficiary is "new" (flagged on the approval card)
when it was never paid through the bot, or was added within the last 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlite_utils import Database

from core.clock import iso, parse_iso
from core.storage import approvals, beneficiaries

if TYPE_CHECKING:
    from services.container import Services

NEW_DAYS = 30
ACTIVE = "SUCCESS"
PAID_STATES = ("CONFIRMED", "SUCCEEDED")


@dataclass(frozen=True)
class BookEntry:
    id: str
    nickname: str
    name: str
    country: str
    currency: str
    account_tail: str
    added_on: date | None
    source: str  # "config" or "bot"


def entries(services: Services, *, country: str | None = None) -> list[BookEntry]:
    """Every usable beneficiary, config file first, optionally only one country's."""
    found = [
        BookEntry(b.id, b.nickname, b.name, b.country, b.currency, b.account_tail, b.added_on, "config")
        for b in services.config.beneficiaries
    ]
    known = {e.id for e in found} | {e.nickname for e in found}
    with services.store.read() as db:
        rows = beneficiaries.with_status(db, ACTIVE)
    for row in rows:
        if row["id"] in known or row["nickname"] in known:
            continue  # the reviewed file wins over a later addition with the same name
        found.append(
            BookEntry(
                row["id"],
                row["nickname"],
                row["name"],
                row["country"],
                row["currency"],
                row["account_tail"],
                parse_iso(row["added_at"]).date(),
                "bot",
            )
        )
    return [e for e in found if country is None or e.country == country]


def lookup(services: Services, ref: str) -> BookEntry | None:
    """By id (exact) or nickname (case-insensitive)."""
    for entry in entries(services):
        if entry.id == ref or entry.nickname == ref.lower():
            return entry
    return None


def is_new(db: Database, entry: BookEntry, now: datetime) -> bool:
    if entry.added_on is not None and entry.added_on > (now - timedelta(days=NEW_DAYS)).date():
        return True
    return not approvals.beneficiary_paid(db, entry.id, PAID_STATES)


def reserve(
    db: Database,
    *,
    mer_beneficiary_no: str,
    nickname: str,
    name: str,
    country: str,
    currency: str,
    account_no: str,
    added_by: str,
    now: datetime,
) -> bool:
    """Hold ``nickname`` for an application about to go to Whalet; False when it is taken.

    Before Whalet is asked, not after: the nickname's UNIQUE constraint decides between two
    people (or two replicas) adding the same nickname at once, so only one application is ever
    sent for it (a check then an insert after Whalet's answer let both through to Whalet and
    lost the second on the constraint). The row joins the book when Whalet's result says
    SUCCESS; ``record_application`` adds Whalet's id, ``release`` drops a refused one."""
    return beneficiaries.add(
        db,
        mer_beneficiary_no=mer_beneficiary_no,
        beneficiary_id=None,
        nickname=nickname,
        name=name,
        country=country,
        currency=currency,
        account_tail=account_no[-4:],
        status="PROCESSING",
        added_by=added_by,
        added_at=iso(now),
    )


def record_application(db: Database, mer_beneficiary_no: str, beneficiary_id: str | None) -> None:
    """Whalet accepted the reserved application: keep the id it gave (a result may have set it)."""
    beneficiaries.set_id(db, mer_beneficiary_no, beneficiary_id)


def release(db: Database, mer_beneficiary_no: str) -> None:
    """Whalet refused the application: the nickname is free again."""
    beneficiaries.remove_unconfirmed(db, mer_beneficiary_no)


def nickname_taken(services: Services, nickname: str) -> bool:
    if any(e.nickname == nickname for e in entries(services)):
        return True
    with services.store.read() as db:
        return beneficiaries.nickname_used(db, nickname)


def apply_beneficiary_result(
    db: Database, *, mer_beneficiary_no: str, beneficiary_id: str, status: str, fail_reason: str | None = None
) -> dict[str, str] | None:
    """Called by the notifications package (inside its transaction) for beneficiaryResultNotify.

    Returns the book row (nickname, name, added_by, status) when it matched one the bot added,
    so the caller can tell the person who added it; None for beneficiaries added elsewhere.
    """
    entry = beneficiaries.by_application(db, mer_beneficiary_no)
    if entry is None:
        return None
    beneficiaries.set_result(
        db, mer_beneficiary_no, status=status, beneficiary_id=beneficiary_id, fail_reason=fail_reason
    )
    return {**entry, "status": status}
