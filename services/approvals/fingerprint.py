"""A fingerprint of exactly what an approval card shows, so what is approved is what was seen.

The card's details (amount, fee, rate, beneficiary, purpose, requester, ...) are hashed when
the request is created and stored with it. Every click recomputes the hash from the database
row and compares it with the stored one (the row was not changed behind the card) AND with the
one the card carried in its block_id (the click belongs to this request's card: a button whose
value was edited to point at another request carries the wrong card's fingerprint).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.approvals.request import ApprovalRequest

# The fields a card displays, in a fixed order. Adding one changes every fingerprint, so only
# ever add fields together with a migration that recomputes stored fingerprints.
FIELDS: tuple[str, ...] = (
    "id",
    "kind",
    "amount",
    "currency",
    "fee",
    "to_amount",
    "to_currency",
    "rate",
    "beneficiary_id",
    "payee_user_id",
    "account_tail",
    "purpose",
    "reference",
    "requester",
)


def fingerprint(request: ApprovalRequest) -> str:
    """SHA-256 (hex) of the canonical JSON of the shown fields; missing fields count as empty."""
    row = request.to_row()
    canonical = {name: "" if row.get(name) is None else str(row.get(name)) for name in FIELDS}
    if request.layers:  # who must approve, in which order (absent before layers existed)
        canonical["layers"] = row["layers"]
    if request.is_batch:  # what the batch card sums up, and every line (core/storage/batches.py)
        canonical["summary"] = str(row.get("summary") or "")
        canonical["lines"] = str(row.get("lines_digest") or "")
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def matches(expected: str | None, actual: str | None) -> bool:
    """Constant-time comparison; None never matches."""
    if not expected or not actual:
        return False
    return hmac.compare_digest(expected.encode(), actual.encode())


def intact(request: ApprovalRequest) -> bool:
    """The stored request still hashes to the fingerprint recorded when its card was made."""
    return matches(fingerprint(request), request.fingerprint)


def verify(request: ApprovalRequest, carried: str | None) -> str | None:
    """None when the row, its stored fingerprint and the clicked card agree; else why not."""
    recomputed = fingerprint(request)
    if not matches(recomputed, request.fingerprint):
        return "the stored request no longer matches what was shown when it was created"
    if not matches(recomputed, carried):
        return "the button you clicked does not belong to this request's card"
    return None
