"""Handlers for beneficiaries, record queries, replenish, connectivity and the mock collection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import seed
from .documents import read_materials
from .events import Collections
from .orders import order_record
from .state import State
from .wire import Body, parameter_error

Head = dict[str, str]
ORDER_STATUSES = ("WAIT_CONFIRM", "PROCESSING", "SUCCESS", "FAIL", "EXPIRED")


def query_beneficiary_countries(state: State, body: Body, head: Head) -> list[dict[str, Any]]:
    return [{"country": country, "currencies": list(spec[0])} for country, spec in seed.COUNTRIES.items()]


def query_beneficiary_fields(state: State, body: Body, head: Head) -> list[dict[str, Any]]:
    country = body.req("country", 2)
    currency = body.currency("currency")
    if country not in seed.COUNTRIES or currency not in seed.COUNTRIES[country][0]:
        raise parameter_error(f"{country}/{currency} is not a supported beneficiary country and currency")
    return seed.beneficiary_fields(country)


def beneficiary_apply(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    return state.beneficiaries.apply(body, user_id)


def beneficiary_delete(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    return state.beneficiaries.delete(body.req("beneficiaryId", 32), user_id)


def _page(
    state: State, body: Body, rows: Callable[[str], list[tuple[datetime, dict[str, Any]]]], statuses: tuple[str, ...]
) -> dict[str, Any]:
    """Shared paging and filters of the four record queries (newest first)."""
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    start, end = body.time("startTime"), body.time("endTime")
    assert start is not None and end is not None
    if start > end:
        raise parameter_error("startTime is after endTime")
    status = body.choice("status", statuses, required=False)
    mer_order_no = body.text("merOrderNo", required=False, max_len=30)
    page_num = body.page("pageNum", 1, 1, 1_000_000)
    page_size = body.page("pageSize", 10, 1, 100)
    selected = [
        record
        for created, record in rows(user_id)
        if start <= created.replace(microsecond=0) <= end
        and status in (None, record["status"])
        and mer_order_no in (None, record.get("merOrderNo"))
    ]
    first = (page_num - 1) * page_size
    return {
        "total": len(selected),
        "pageNum": page_num,
        "pageSize": page_size,
        "records": selected[first : first + page_size],
    }


def _orders(
    state: State, kind: str, payout_type: str | None = None
) -> Callable[[str], list[tuple[datetime, dict[str, Any]]]]:
    def rows(user_id: str) -> list[tuple[datetime, dict[str, Any]]]:
        chosen = [o for o in state.orders.select(kind, user_id) if payout_type in (None, o.payout_type)]
        return [(o.create_time, order_record(o)) for o in sorted(chosen, key=lambda o: o.create_time, reverse=True)]

    return rows


def query_collection_records(state: State, body: Body, head: Head) -> dict[str, Any]:
    def rows(user_id: str) -> list[tuple[datetime, dict[str, Any]]]:
        return [
            (r["created"], Collections.wire(r)) for r in reversed(state.collections.records) if r["userId"] == user_id
        ]

    return _page(state, body, rows, ("SUCCESS",))


def query_withdraw_records(state: State, body: Body, head: Head) -> dict[str, Any]:
    """Every payout order (Whalet's one apply covers withdrawals and payments)."""
    return _page(state, body, _orders(state, "payout"), ORDER_STATUSES)


def query_payment_records(state: State, body: Body, head: Head) -> dict[str, Any]:
    """Payouts to third-party beneficiaries only (payoutType PAYMENT)."""
    return _page(state, body, _orders(state, "payout", "PAYMENT"), ORDER_STATUSES)


def query_pay_records(state: State, body: Body, head: Head) -> dict[str, Any]:
    return _page(state, body, _orders(state, "pay"), ORDER_STATUSES)


def edd_replenish_query(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    wanted = body.text("replenishId", required=False, max_len=32)
    records = [
        state.replenishments.public(r)
        for r in state.replenishments.records.values()
        if r["userId"] == user_id and r["kind"] == "EDD" and wanted in (None, r["replenishId"])
    ]
    return {"records": records}


def _submit(state: State, body: Body, kind: str) -> dict[str, Any]:
    """The spec leaves the materials' shape open: a non-empty list or object is accepted, and the
    files in it (either encoding of ``documents.read_materials``) are recorded."""
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    replenish_id = body.req("replenishId", 32)
    materials = body.data.get("materials")
    if not isinstance(materials, (list, dict)) or not materials:
        raise parameter_error("materials is required: a non-empty list or object of documents")
    record = state.replenishments.get(replenish_id, user_id, kind)
    trade_id = body.text("tradeId", required=False, max_len=32)
    if trade_id is not None and trade_id != record.get("tradeId"):
        raise parameter_error(f"tradeId {trade_id} does not belong to replenish request {replenish_id}")
    remark = body.text("remark", required=False, max_len=500)
    return state.replenishments.submit(replenish_id, user_id, kind, read_materials(materials), remark)


def edd_replenish_submit(state: State, body: Body, head: Head) -> dict[str, Any]:
    return _submit(state, body, "EDD")


def trade_replenish_submit(state: State, body: Body, head: Head) -> dict[str, Any]:
    return _submit(state, body, "TRADE")


def trade_order_bind_apply(state: State, body: Body, head: Head) -> dict[str, Any]:
    currency = body.currency("currency")
    assert currency is not None
    contract = body.data.get("contract")
    if contract is not None and not isinstance(contract, (list, dict)):
        raise parameter_error("contract must be a list or object of documents")
    return state.trade_orders.bind(
        body.req("userId", 30),
        body.req("collectionId", 32),
        body.req("tradeOrderNo", 64),
        body.amount("amount", currency),
        currency,
        body.req("buyerName", 140),
        contract,
    )


def connectivity(state: State, body: Body, head: Head) -> dict[str, Any]:
    message = body.req("message", 256)
    state.ledger.notify("connectivityNotify", {"message": message, "requestNo": head["requestNo"]})
    return {"message": message}


def mock_payee_notify(state: State, body: Body, head: Head) -> dict[str, Any]:
    user_id = body.req("userId", 30)
    state.ledger.check_user(user_id)
    currency = body.currency("currency")
    assert currency is not None
    record = state.collections.receive(
        user_id,
        body.fund_source(required=False, default="B2C"),
        currency,
        body.amount("amount", currency),
        body.text("payerName", required=False, max_len=140),
        body.text("virtualAccountNo", required=False, max_len=34),
    )
    return {"collectionId": record["collectionId"], "status": record["status"]}
