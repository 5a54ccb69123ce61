"""The one table of what differs between a payout and a pay: ids, Whalet operations, wording.

Everything else in the approvals code is the same for both, so it asks ``KINDS[request.kind]``
instead of branching on ``kind == "payout"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from whalet.money import Money

if TYPE_CHECKING:
    from services.approvals.request import ApprovalRequest
    from whalet.client import WhaletClient
    from whalet.models import RecordPage


@dataclass(frozen=True)
class ApplyAnswer:
    """Whalet's apply answer, reduced to what the request is checked against and stores."""

    whalet_id: str
    mer_order_no: str
    amount: Money
    fee: Money
    expire_time: datetime | None  # None: Whalet gave none we could read, so our TTL alone decides
    party: str | None = None  # beneficiaryId / payeeUserId, when Whalet echoes it
    to_amount: Money | None = None
    rate: Decimal | None = None


@dataclass(frozen=True)
class Kind:
    name: str  # "payout" | "pay", the approval_requests.kind value
    id_prefix: str  # request ids: "PO-7K3QX9AB"
    order_prefix: str  # merOrderNo prefix
    noun: str  # "payout" / "payment", in sentences
    party_label: str  # the card's field for who receives the money
    to_account: bool  # True: a beneficiary's bank account (rate, what they get); False: a Whalet user
    apply: Callable[[WhaletClient, ApprovalRequest], Awaitable[ApplyAnswer]]
    confirm: Callable[[WhaletClient, ApprovalRequest], Awaitable[str]]  # -> Whalet's status
    lookup: Callable[[WhaletClient, str, datetime, datetime, str], Awaitable[RecordPage]]


def _extra(answer: object, key: str) -> str | None:
    value = (getattr(answer, "model_extra", None) or {}).get(key)
    return None if value is None else str(value)


async def _payout_apply(whalet: WhaletClient, r: ApprovalRequest) -> ApplyAnswer:
    a = await whalet.payout_apply(
        r.user_id,
        r.mer_order_no,
        r.fund_source,
        r.money,
        r.to_currency or r.currency,
        r.beneficiary_id or "",
        r.purpose,
        remark=r.reference or None,
    )
    return ApplyAnswer(
        a.payout_id, a.mer_order_no, a.amount, a.fee, a.expire_time, _extra(a, "beneficiaryId"), a.to_amount, a.rate
    )


async def _pay_apply(whalet: WhaletClient, r: ApprovalRequest) -> ApplyAnswer:
    a = await whalet.pay_apply(
        r.user_id, r.mer_order_no, r.payee_user_id or "", r.money, r.purpose, remark=r.reference or None
    )
    return ApplyAnswer(a.pay_id, a.mer_order_no, a.amount, a.fee, a.expire_time, _extra(a, "payeeUserId"))


async def _payout_confirm(whalet: WhaletClient, r: ApprovalRequest) -> str:
    return (await whalet.payout_confirm(r.user_id, r.whalet_id or "")).status


async def _pay_confirm(whalet: WhaletClient, r: ApprovalRequest) -> str:
    return (await whalet.pay_confirm(r.user_id, r.whalet_id or "")).status


async def _payout_lookup(whalet: WhaletClient, user_id: str, start: datetime, end: datetime, order: str) -> RecordPage:
    return await whalet.query_withdraw_records(user_id, start, end, mer_order_no=order, page_num=1, page_size=10)


async def _pay_lookup(whalet: WhaletClient, user_id: str, start: datetime, end: datetime, order: str) -> RecordPage:
    return await whalet.query_pay_records(user_id, start, end, mer_order_no=order, page_num=1, page_size=10)


KINDS: dict[str, Kind] = {
    "payout": Kind(
        "payout", "PO-", "WBO", "payout", "Beneficiary", True, _payout_apply, _payout_confirm, _payout_lookup
    ),
    "pay": Kind("pay", "PY-", "WBP", "payment", "Payee", False, _pay_apply, _pay_confirm, _pay_lookup),
}


def mismatch_of(r: ApprovalRequest, answer: ApplyAnswer) -> str | None:
    """Why Whalet's apply answer is not the request we made, or None."""
    if answer.mer_order_no != r.mer_order_no:
        return f"order number {answer.mer_order_no} instead of {r.mer_order_no}"
    if answer.amount.currency != r.currency or Decimal(answer.amount.amount) != r.amount:
        return f"amount {answer.amount.format()} instead of {r.money.format()}"
    if answer.party is not None and answer.party != r.party:
        return f"{KINDS[r.kind].party_label.lower()} {answer.party} instead of {r.party}"
    if answer.to_amount is not None and r.to_currency and answer.to_amount.currency != r.to_currency:
        return f"paid out in {answer.to_amount.currency} instead of {r.to_currency}"
    return None


def with_quote(r: ApprovalRequest, answer: ApplyAnswer) -> ApprovalRequest:
    """``r`` with the terms of Whalet's apply answer: the order, fee, rate, amount received and
    when the quote ends (at creation, and when a quote is renewed at release)."""
    return r.with_(
        whalet_id=answer.whalet_id,
        fee=answer.fee.quantized().amount,
        fee_currency=answer.fee.currency,
        to_amount=answer.to_amount.quantized().amount if answer.to_amount else None,
        to_currency=answer.to_amount.currency if answer.to_amount else r.to_currency,
        rate=answer.rate,
        quote_expires_at=answer.expire_time,
    )
