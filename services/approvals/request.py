"""``ApprovalRequest``: one approval request as the code sees it, typed, to and from its row.

Rows are TEXT in SQLite (exact decimals as strings, times as ISO-8601); everything above the
repository works with this frozen dataclass instead, so a typo in a column name is an
AttributeError at once rather than a silent ``None`` from ``dict.get``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.clock import iso, parse_iso
from services.approvals.states import State
from whalet.money import Money


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _time(value: Any) -> datetime | None:
    return None if not value else parse_iso(str(value))


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    kind: str
    state: State
    version: int
    requester: str
    user_id: str
    amount: Decimal
    currency: str
    mer_order_no: str
    created_at: datetime
    fund_source: str = ""
    fee: Decimal | None = None
    fee_currency: str | None = None
    to_amount: Decimal | None = None
    to_currency: str | None = None
    rate: Decimal | None = None
    beneficiary_id: str | None = None
    beneficiary_name: str | None = None
    payee_user_id: str | None = None
    payee_name: str | None = None  # a pay's payee as the policy's [whalet] users name them
    account_tail: str | None = None
    purpose: str = ""
    reference: str = ""
    flags: tuple[str, ...] = ()
    whalet_id: str | None = None
    expires_at: datetime | None = None
    required_approvals: int = 1
    fingerprint: str | None = None
    origin_channel: str | None = None
    response_url: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    result_status: str | None = None
    fail_reason: str | None = None
    note: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    confirm_attempts: int = 0
    checked_attempt: int = 0
    lookups: int = 0
    whalet_calls: int = 0
    next_attempt_at: datetime | None = None
    # Set when Whalet reported a result that contradicts this request (see approvals.results):
    # what it reported, in words. The request is not settled by it; a person has to look.
    attention: str | None = None
    # The tier's approval layers when the request was made (user and group ids per layer);
    # empty: any distinct approvers, ``required_approvals`` of them.
    layers: tuple[tuple[str, ...], ...] = ()
    # When Whalet's quote (the order) ends; the request itself lives until ``expires_at``. A
    # quote renewed at release replaces the order number; the old ones are kept, never confirmed.
    quote_expires_at: datetime | None = None
    requotes: int = 0
    superseded_orders: tuple[str, ...] = ()
    # A batch line's payout: the batch request it belongs to and its line (1-based); the batch
    # itself carries what its card shows and the digest of its lines (``is_batch``).
    batch_id: str | None = None
    line_no: int | None = None
    summary: str | None = None
    lines_digest: str | None = None

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def is_batch(self) -> bool:
        """A batch payout request: approved as one, released as one payout request per line."""
        return self.lines_digest is not None

    @property
    def party(self) -> str | None:
        """Who receives the money: the beneficiary id (payout) or the payee's Whalet user id (pay);
        a request names exactly one of them."""
        return self.beneficiary_id or self.payee_user_id

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def lease_held(self, now: datetime) -> bool:
        return self.lease_owner is not None and self.lease_until is not None and self.lease_until > now

    def with_(self, **changes: Any) -> ApprovalRequest:
        return replace(self, **changes)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApprovalRequest:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in known}
        for name in ("amount", "fee", "to_amount", "rate"):
            data[name] = _dec(data.get(name))
        for name in ("created_at", "expires_at", "decided_at", "lease_until", "next_attempt_at", "quote_expires_at"):
            data[name] = _time(data.get(name))
        data["state"] = State(data["state"])
        data["flags"] = tuple(json.loads(data.get("flags") or "[]"))
        data["layers"] = tuple(tuple(layer) for layer in json.loads(data.get("layers") or "[]"))
        data["superseded_orders"] = tuple(json.loads(data.get("superseded_orders") or "[]"))
        for name in (
            "version",
            "required_approvals",
            "confirm_attempts",
            "checked_attempt",
            "lookups",
            "whalet_calls",
            "requotes",
            "line_no",
        ):
            if data.get(name) is not None:
                data[name] = int(data[name])
        return cls(**data)

    def to_row(self) -> dict[str, Any]:
        return {f.name: column(getattr(self, f.name)) for f in fields(self)}


def column(value: Any) -> Any:
    """One value as stored in SQLite."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, State):
        return value.value
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return value


@dataclass(frozen=True)
class Approval:
    """One approval given on a request."""

    approver: str
    at: str
    counts: bool = True  # False once the giver no longer holds the approver role
    layer: int | None = None  # the layer it satisfied (0-based), for a request with layers
    terms: Terms | None = None  # what the card showed when it was given (None: before terms were kept)


@dataclass(frozen=True)
class Terms:
    """The part of a request Whalet's quote decides, as an approver saw it."""

    rate: Decimal | None
    fee: Decimal | None
    fee_currency: str | None
    to_amount: Decimal | None
    to_currency: str | None

    @classmethod
    def of(cls, r: ApprovalRequest) -> Terms:
        return cls(r.rate, r.fee, r.fee_currency or r.currency, r.to_amount, r.to_currency)

    def to_json(self) -> str:
        return json.dumps(
            {name: column(getattr(self, name)) for name in ("rate", "fee", "fee_currency", "to_amount", "to_currency")}
        )

    @classmethod
    def from_json(cls, text: str | None) -> Terms | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(
            _dec(data.get("rate")),
            _dec(data.get("fee")),
            data.get("fee_currency"),
            _dec(data.get("to_amount")),
            data.get("to_currency"),
        )
