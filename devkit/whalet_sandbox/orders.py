"""Payouts and pays: apply freezes, confirm starts processing, the result debits or releases.

Lifecycle (protocol spec §4): WAIT_CONFIRM -> PROCESSING -> SUCCESS | FAIL, or EXPIRED when never
confirmed before ``expireTime``. Funds: apply moves amount + fee from available to frozen;
SUCCESS removes them from frozen (a pay also credits the payee); FAIL and EXPIRED move them back
to available. Sandbox rule: an amount whose last two minor-unit digits are 13 (100.13 USD) FAILs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from whalet.money import Money

from .clock import wire_time
from .ledger import Ledger
from .wire import GatewayError, failure, money_obj, parameter_error

FAIL_REASON = "Beneficiary bank rejected the transfer (sandbox rule: amounts ending in .13)"
ID_FIELD = {"payout": "payoutId", "pay": "payId"}
RESULT_NOTIFY = {"payout": "payoutResultNotify", "pay": "payResultNotify"}
MoneyWriter = Callable[[Decimal, str], Any]


@dataclass
class Order:
    kind: str  # "payout" | "pay"
    order_id: str
    user_id: str
    mer_order_no: str
    fund_source: str
    currency: str
    amount: Decimal
    fee: Decimal
    purpose: str
    remark: str | None
    create_time: datetime
    expire_time: datetime
    status: str = "WAIT_CONFIRM"
    to_currency: str | None = None
    to_amount: Decimal | None = None
    rate: Decimal | None = None
    rate_id: str | None = None
    beneficiary_id: str | None = None
    payout_type: str | None = None  # WITHDRAW (own account) or PAYMENT (third party)
    payee_user_id: str | None = None
    confirm_count: int = 0
    confirm_time: datetime | None = None
    finish_time: datetime | None = None
    fail_reason: str | None = None
    # [started, finished] of every confirm call's handler (seconds on a monotonic clock; finished
    # None while it runs), so a test can see whether two confirms of one order ever overlapped
    # here, as a real server keeps working on a call after its client gave up.
    confirm_spans: list[list[float | None]] = field(default_factory=list)

    def overlapping_confirms(self) -> int:
        """Pairs of this order's confirm calls that ran at the same time."""
        spans = sorted((start or 0.0, float("inf") if end is None else end) for start, end in self.confirm_spans)
        return sum(1 for i, (_, end) in enumerate(spans) for later, _ in spans[i + 1 :] if later < end)

    @property
    def held(self) -> Decimal:
        return self.amount + self.fee


def fails_by_rule(amount: Decimal, currency: str) -> bool:
    return Money(amount, currency).minor_units % 100 == 13


class OrderBook:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.orders: dict[str, Order] = {}
        self._by_mer_order_no: dict[tuple[str, str], str] = {}

    def check_new(self, kind: str, mer_order_no: str) -> None:
        if (kind, mer_order_no) in self._by_mer_order_no:
            existing = self._by_mer_order_no[(kind, mer_order_no)]
            raise GatewayError("IDEMPOTENT_ERROR", f"merOrderNo {mer_order_no} already used by {existing}")

    def apply(self, order: Order) -> Order:
        self.check_new(order.kind, order.mer_order_no)
        self.ledger.freeze(order.user_id, order.fund_source, order.currency, order.held)
        self.orders[order.order_id] = order
        self._by_mer_order_no[(order.kind, order.mer_order_no)] = order.order_id
        self.ledger.timeline.at(order.expire_time, lambda: self._expire(order))
        return order

    def get(self, kind: str, order_id: str, user_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.kind != kind or order.user_id != user_id:
            raise parameter_error(f"{kind} not found: {order_id}")
        return order

    def confirm(self, kind: str, order_id: str, user_id: str) -> Order:
        """Counts every call; a repeat returns the current status (idempotent)."""
        order = self.get(kind, order_id, user_id)
        order.confirm_count += 1
        self._expire(order)
        if order.status == "EXPIRED":
            raise failure(f"{kind} {order_id} expired at {wire_time(order.expire_time)}; apply again")
        if order.status == "WAIT_CONFIRM":
            order.status = "PROCESSING"
            order.confirm_time = self.ledger.clock.now()
            self.ledger.timeline.at(self.ledger.after_delay(), lambda: self._settle(order))
        return order

    def count_replayed_confirm(self, order_id: str) -> None:
        if order_id in self.orders:
            self.orders[order_id].confirm_count += 1

    def _expire(self, order: Order) -> None:
        if order.status == "WAIT_CONFIRM" and self.ledger.clock.now() > order.expire_time:
            order.status = "EXPIRED"
            order.finish_time = self.ledger.clock.now()
            self.ledger.release(order.user_id, order.fund_source, order.currency, order.held)

    def _settle(self, order: Order) -> None:
        if order.status != "PROCESSING":
            return
        ledger = self.ledger
        order.finish_time = ledger.clock.now()
        if fails_by_rule(order.amount, order.currency):
            order.status, order.fail_reason = "FAIL", FAIL_REASON
            ledger.release(order.user_id, order.fund_source, order.currency, order.held)
        else:
            order.status = "SUCCESS"
            ledger.debit_frozen(order.user_id, order.fund_source, order.currency, order.held)
            if order.payee_user_id:
                ledger.credit(order.payee_user_id, order.fund_source, order.currency, order.amount)
        ledger.notify(RESULT_NOTIFY[order.kind], self.result_body(order))

    def result_body(self, order: Order) -> dict[str, Any]:
        body: dict[str, Any] = {
            "userId": order.user_id,
            ID_FIELD[order.kind]: order.order_id,
            "merOrderNo": order.mer_order_no,
            "status": order.status,
            "currency": order.currency,
            "amount": money_obj(order.amount, order.currency),
            "fee": money_obj(order.fee, order.currency),
        }
        if order.kind == "payout":
            assert order.to_currency is not None and order.to_amount is not None
            body["toCurrency"] = order.to_currency
            body["toAmount"] = money_obj(order.to_amount, order.to_currency)
        if order.fail_reason:
            body["failReason"] = order.fail_reason
        body["finishTime"] = wire_time(order.finish_time or self.ledger.clock.now())
        return body

    def select(self, kind: str, user_id: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.kind == kind and user_id in (None, o.user_id)]


def order_record(order: Order, money: MoneyWriter = money_obj) -> dict[str, Any]:
    """The record queries' shape; the operator endpoints pass a string-amount ``money``."""
    record: dict[str, Any] = {
        ID_FIELD[order.kind]: order.order_id,
        "merOrderNo": order.mer_order_no,
        "userId": order.user_id,
        "fundSource": order.fund_source,
        "status": order.status,
        "currency": order.currency,
        "amount": money(order.amount, order.currency),
        "fee": money(order.fee, order.currency),
    }
    if order.kind == "payout":
        assert order.to_currency is not None and order.to_amount is not None
        record.update(
            {
                "payoutType": order.payout_type,
                "beneficiaryId": order.beneficiary_id,
                "toCurrency": order.to_currency,
                "toAmount": money(order.to_amount, order.to_currency),
                "rate": order.rate,
            }
        )
    else:
        record["payeeUserId"] = order.payee_user_id
    record.update(
        {
            "purpose": order.purpose,
            "remark": order.remark,
            "createTime": wire_time(order.create_time),
            "expireTime": wire_time(order.expire_time),
            "finishTime": wire_time(order.finish_time) if order.finish_time else None,
        }
    )
    if order.fail_reason:
        record["failReason"] = order.fail_reason
    return record
