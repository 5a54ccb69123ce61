"""Handlers that read or move money: balances, rates, payouts, pays (protocol spec §4)."""

from __future__ import annotations

from typing import Any

from . import seed
from .clock import wire_time
from .ledger import Balance
from .orders import Order
from .state import State
from .wire import Body, money_obj, parameter_error

Head = dict[str, str]
MER_ORDER_NO = r"[A-Za-z0-9_\-]{1,30}"


def query_currency_balance(state: State, body: Body, head: Head) -> list[dict[str, Any]]:
    """A BARE ARRAY, exactly like Whalet's published example."""
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    fund_source = body.fund_source()
    currency = body.currency("currency", required=False)
    if currency:
        return [state.ledger.balance_record(state.ledger.balance(user_id, fund_source, currency))]
    return [
        state.ledger.balance_record(balance)
        for (user, source, _), balance in sorted(state.ledger.balances.items())
        if user == user_id and source == fund_source
    ]


def query_platform_balance(state: State, body: Body, head: Head) -> dict[str, Any]:
    """Partner-wide totals per currency, wrapped as ``{"records": [...]}``."""
    fund_source = body.choice("fundSource", ("B2C", "B2B", "Acquiring"), required=False)
    currency = body.currency("currency", required=False)
    totals: dict[str, list[Any]] = {}
    for (_, source, cur), balance in sorted(state.ledger.balances.items()):
        if fund_source not in (None, source) or currency not in (None, cur):
            continue
        total = totals.setdefault(cur, [0, 0, 0, 0])
        for index, value in enumerate((balance.available, balance.pending, balance.frozen, balance.order_quota)):
            total[index] += value
    return {"records": [state.ledger.balance_record(Balance(cur, *values)) for cur, values in sorted(totals.items())]}


def query_rate(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    body.fund_source()
    currency, to_currency = body.currency("currency"), body.currency("toCurrency")
    assert currency and to_currency
    quote = state.ledger.quote(user_id, currency, to_currency)
    return {
        "rateId": quote.rate_id,
        "currency": currency,
        "toCurrency": to_currency,
        "rate": quote.rate,
        "expireTime": wire_time(quote.expire_time),
    }


def _common(state: State, body: Body, kind: str) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    mer_order_no = body.text("merOrderNo", max_len=30, pattern=MER_ORDER_NO)
    currency = body.currency("currency")
    assert currency is not None and mer_order_no is not None
    amount = body.amount("amount", currency)
    purpose = body.req("purpose", 128)
    remark = body.text("remark", required=False, max_len=256)
    state.orders.check_new(kind, mer_order_no)
    now = state.ledger.clock.now()
    return dict(
        kind=kind,
        order_id=state.ledger.next_id("PO" if kind == "payout" else "PY"),
        user_id=user_id,
        mer_order_no=mer_order_no,
        currency=currency,
        amount=amount,
        fee=state.ledger.fee(amount, currency),
        purpose=purpose,
        remark=remark,
        create_time=now,
        expire_time=state.ledger.clock.after(seed.ORDER_TTL_S),
    )


def payout_apply(state: State, body: Body, head: Head) -> dict[str, Any]:
    fields = _common(state, body, "payout")
    fund_source = body.fund_source()
    to_currency = body.currency("toCurrency")
    assert to_currency is not None
    beneficiary = state.beneficiaries.usable(body.req("beneficiaryId", 32), fields["user_id"])
    if beneficiary["currency"] != to_currency:
        raise parameter_error(f"toCurrency must be the beneficiary's account currency {beneficiary['currency']}")
    rate_id = body.text("rateId", required=False, max_len=32)
    if rate_id:
        quote = state.ledger.use_quote(rate_id, fields["user_id"], fields["currency"], to_currency)
        rate, fields["expire_time"] = quote.rate, min(fields["expire_time"], quote.expire_time)
    else:
        rate = state.ledger.customer_rate(fields["currency"], to_currency)
    own = beneficiary["accountName"].casefold() == state.ledger.users[fields["user_id"]].casefold()
    order = state.orders.apply(
        Order(
            **fields,
            fund_source=fund_source,
            to_currency=to_currency,
            rate=rate,
            to_amount=state.ledger.convert(fields["amount"], rate, to_currency),
            rate_id=rate_id,
            beneficiary_id=beneficiary["beneficiaryId"],
            payout_type="WITHDRAW" if own else "PAYMENT",
        )
    )
    assert order.to_amount is not None and order.to_currency is not None
    return {
        "payoutId": order.order_id,
        "merOrderNo": order.mer_order_no,
        "status": order.status,
        "amount": money_obj(order.amount, order.currency),
        "fee": money_obj(order.fee, order.currency),
        "toAmount": money_obj(order.to_amount, order.to_currency),
        "rate": order.rate,
        "expireTime": wire_time(order.expire_time),
    }


def pay_apply(state: State, body: Body, head: Head) -> dict[str, Any]:
    fields = _common(state, body, "pay")
    payee = body.req("payeeUserId", 30)
    state.ledger.check_user(payee)
    if payee == fields["user_id"]:
        raise parameter_error("payeeUserId must differ from userId")
    fund_source = body.fund_source(required=False, default="B2C")  # not in the spec's fields: optional
    order = state.orders.apply(Order(**fields, fund_source=fund_source, payee_user_id=payee))
    return {
        "payId": order.order_id,
        "merOrderNo": order.mer_order_no,
        "status": order.status,
        "amount": money_obj(order.amount, order.currency),
        "fee": money_obj(order.fee, order.currency),
        "expireTime": wire_time(order.expire_time),
    }


def payout_confirm(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    order = state.orders.confirm("payout", body.req("payoutId", 32), user_id)
    return {"payoutId": order.order_id, "status": order.status}


def pay_confirm(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    order = state.orders.confirm("pay", body.req("payId", 32), user_id)
    return {"payId": order.order_id, "status": order.status}
