"""The client against the real sandbox over loopback HTTP: every operation, every error branch."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devkit.serving import ThreadedServer
from tests.fixtures.whalet import BOTH_PROTOCOLS
from whalet.client import WhaletClient, new_order_no, new_request_no
from whalet.envelope import EnvelopeCodec, dumps_compact, generate_key_pair, load_private_key, load_public_key
from whalet.errors import (
    AuthenticationFailed,
    BadParameters,
    DuplicateRequest,
    OutcomeUnknown,
    RateLimited,
    RequestNotSent,
    WhaletRejected,
    explain,
)
from whalet.models import WHALET_TZ
from whalet.money import Money

USER, PAYEE = "U10001", "U20001"


def _client(sandbox: Any, **options: Any) -> WhaletClient:
    options = {"timeout": 5.0, "backoff_base": 0.001, **options}
    return WhaletClient(sandbox.api_url, sandbox.partner_id, sandbox.partner_transport(), **options)


@pytest.fixture
async def whalet(sandbox) -> AsyncIterator[WhaletClient]:
    async with _client(sandbox) as client:
        yield client


def _faults(sandbox, *rules: dict[str, Any]) -> None:
    sandbox.operator.post("/faults", json={"rules": list(rules)}).raise_for_status()


def _fired(sandbox) -> list[dict[str, Any]]:
    return sandbox.operator.get("/faults").json()["fired"]


def _payouts(sandbox) -> dict[str, dict[str, Any]]:
    return {r["merOrderNo"]: r for r in sandbox.operator.get("/payouts").json()["records"]}


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(WHALET_TZ)
    return now - timedelta(days=1), now + timedelta(days=1)


async def _apply_payout(
    whalet: WhaletClient, amount: str = "1200.50", beneficiary: str = "BEN001", to_currency: str = "HKD"
):
    order_no = new_order_no("T")
    result = await whalet.payout_apply(
        USER, order_no, "B2C", Money.of(amount, "USD"), to_currency, beneficiary, "supplier invoice"
    )
    return order_no, result


# --- every operation -------------------------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_balances_rates_and_connectivity(whalet):
    rows = {row.currency: row for row in await whalet.query_currency_balance(USER, "B2C")}
    assert rows["USD"].balance == Money(Decimal("250000.00"), "USD")
    assert rows["JPY"].balance == Money(Decimal("3500000"), "JPY")
    (jpy,) = await whalet.query_currency_balance(USER, "B2C", "JPY")
    assert jpy.pending_amount == Money(Decimal("0"), "JPY")
    platform = {row.currency: row for row in await whalet.query_platform_balance(fund_source="B2B")}
    assert platform["USD"].balance == Money(Decimal("122340.55"), "USD")  # U10001 + U10002
    quote = await whalet.query_rate(USER, "USD", "HKD", "B2C")
    assert quote.rate > 0 and quote.currency == "USD" and quote.to_currency == "HKD"
    assert quote.expire_time.utcoffset() == timedelta(hours=8)
    assert await whalet.connectivity("ping 鲸") == "ping 鲸"


@BOTH_PROTOCOLS
async def test_payout_apply_confirm_and_records(whalet, sandbox):
    quote = await whalet.query_rate(USER, "USD", "USD", "B2C")
    order_no = new_order_no("T")
    applied = await whalet.payout_apply(
        USER,
        order_no,
        "B2C",
        Money.of("1200.5", "USD"),
        "USD",
        "BEN002",
        "supplier invoice",
        rate_id=quote.rate_id,
        remark="Q3",
    )
    assert (applied.status, applied.mer_order_no) == ("WAIT_CONFIRM", order_no)
    assert applied.amount == Money(Decimal("1200.50"), "USD") and applied.fee.currency == "USD"
    assert applied.to_amount.currency == "USD"
    confirmed = await whalet.payout_confirm(USER, applied.payout_id)
    assert (confirmed.payout_id, confirmed.status) == (applied.payout_id, "PROCESSING")
    start, end = _window()
    for query in (whalet.query_withdraw_records, whalet.query_payment_records):  # BEN002 is a third party
        page = await query(USER, start, end, mer_order_no=order_no)
        assert page.total == 1 and page.records[0].record_id == applied.payout_id
    assert _payouts(sandbox)[order_no]["confirmCount"] == 1


@BOTH_PROTOCOLS
async def test_pay_apply_confirm_and_records(whalet):
    order_no = new_order_no("Y")
    applied = await whalet.pay_apply(USER, order_no, PAYEE, Money.of("300", "USD"), "sample order")
    assert applied.status == "WAIT_CONFIRM" and applied.amount == Money(Decimal("300"), "USD")
    confirmed = await whalet.pay_confirm(USER, applied.pay_id)
    assert confirmed.pay_id == applied.pay_id
    start, end = _window()
    page = await whalet.query_pay_records(USER, start, end, page_size=100)
    assert applied.pay_id in {record.record_id for record in page.records}


@BOTH_PROTOCOLS
async def test_beneficiary_countries_fields_apply_and_delete(whalet):
    countries = {c.country: c for c in await whalet.query_beneficiary_countries()}
    assert "HKD" in countries["HK"].currencies
    fields = {f.name: f for f in await whalet.query_beneficiary_fields("HK", "HKD")}
    assert fields["accountNo"].required and fields["accountNo"].pattern
    applied = await whalet.beneficiary_apply(
        USER,
        "MB-" + new_request_no()[-8:],
        "HK",
        "HKD",
        "Acme Trading Ltd",
        "123456789012",
        "HSBC Hong Kong",
        swift_code="HSBCHKHHHKH",
        extra={"bankCode": "004"},
    )
    assert applied.status == "PROCESSING"
    deleted = await whalet.beneficiary_delete(USER, applied.beneficiary_id)
    assert deleted.beneficiary_id == applied.beneficiary_id


@BOTH_PROTOCOLS
async def test_mock_collection_and_collection_records(whalet):
    received = await whalet.mock_payee_notify(USER, Money.of("500.25", "USD"), payer_name="Globex")
    assert received.collection_id
    start, end = _window()
    page = await whalet.query_collection_records(USER, start, end)
    (record,) = [r for r in page.records if r.record_id == received.collection_id]
    assert record.amount == Money(Decimal("500.25"), "USD")


@BOTH_PROTOCOLS
async def test_replenish_query_and_submit(whalet, sandbox):
    edd = sandbox.operator.post("/replenish", json={"kind": "EDD", "userId": USER}).json()
    trade = sandbox.operator.post("/replenish", json={"kind": "TRADE", "userId": USER}).json()
    (item,) = await whalet.edd_replenish_query(USER, edd["replenishId"])
    assert item.status == "WAIT" and item.required_materials and item.deadline is not None
    submitted = await whalet.edd_replenish_submit(USER, edd["replenishId"], {"Business licence": "file-1"})
    assert submitted.status == "PROCESSING"
    traded = await whalet.trade_replenish_submit(USER, trade["replenishId"], trade["tradeId"], ["invoice.pdf"])
    assert traded.replenish_id == trade["replenishId"]


@BOTH_PROTOCOLS
async def test_documents_travel_in_either_materials_encoding_and_arrive_whole(whalet, sandbox):
    """Both encodings of ``[whalet] replenish_materials`` (services.documents), read back by the
    sandbox as names, sizes and SHA-256; the note travels as ``remark``."""
    import hashlib

    from services.documents import encode
    from services.slack.files import SlackFile

    scan = SlackFile("F1", "licence.pdf", "application/pdf", b"%PDF licence")
    for encoding in ("base64", "base64_map"):
        edd = sandbox.operator.post("/replenish", json={"kind": "EDD", "userId": USER}).json()
        answer = await whalet.edd_replenish_submit(USER, edd["replenishId"], encode([scan], encoding), "see attached")
        assert answer.status == "PROCESSING"
        records = sandbox.operator.get("/replenish").json()["records"]
        [sent] = next(r for r in records if r["replenishId"] == edd["replenishId"])["submissions"]
        assert sent["remark"] == "see attached"
        assert [(f["name"], f["size"], f["sha256"]) for f in sent["files"]] == [
            ("licence.pdf", 12, hashlib.sha256(b"%PDF licence").hexdigest())
        ]


@BOTH_PROTOCOLS
async def test_trade_order_bind_apply(whalet, sandbox):
    """tradeOrderBindApply (provisional): legacy apiCode and v1 path; the amount in its digits."""
    received = await whalet.mock_payee_notify(USER, Money(Decimal("5000"), "USD"))
    assert received.collection_id
    refused = sandbox.operator.post(
        "/collect", json={"userId": USER, "currency": "USD", "amount": "7", "fundSource": "B2B"}
    )
    b2b = refused.json()["collectionId"]
    with pytest.raises(WhaletRejected, match="only B2B"):
        await whalet.trade_order_bind_apply(
            USER, received.collection_id, "SO-1", Money(Decimal("5000"), "USD"), "Initech"
        )
    bound = await whalet.trade_order_bind_apply(USER, b2b, "SO-2", Money(Decimal("7.00"), "USD"), "Initech")
    assert bound.status == "PROCESSING" and bound.bind_id and bound.trade_order_no == "SO-2"
    [record] = sandbox.operator.get("/trade-orders").json()["records"]
    assert (record["collectionId"], record["amount"], record["currency"]) == (b2b, "7.00", "USD")
    with pytest.raises(WhaletRejected, match="already bound"):
        await whalet.trade_order_bind_apply(USER, b2b, "SO-2", Money(Decimal("7"), "USD"), "Initech")


# --- rejections: Whalet said no, signed ------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_parameter_error_is_bad_parameters_with_whalets_reason(whalet):
    with pytest.raises(BadParameters) as refused:
        await whalet.query_rate(USER, "USD", "CHF", "B2C")  # a real currency the sandbox does not support
    assert refused.value.code == "PARAMETER_ERROR" and "CHF" in refused.value.detail
    assert explain(refused.value).startswith("Whalet refused the request: ") and "CHF" in explain(refused.value)


@BOTH_PROTOCOLS
async def test_same_order_number_twice_is_a_duplicate(whalet, sandbox):
    order_no, _ = await _apply_payout(whalet)
    with pytest.raises(DuplicateRequest) as duplicate:
        await whalet.payout_apply(USER, order_no, "B2C", Money.of("5", "USD"), "HKD", "BEN001", "again")
    assert duplicate.value.code == "IDEMPOTENT_ERROR"


async def test_wrong_partner_wrong_key_and_unknown_api_code_fail_authentication(sandbox):
    async with WhaletClient(sandbox.api_url, "PNOBODY", sandbox.partner_codec()) as stranger:
        with pytest.raises(AuthenticationFailed, match="PARTNER_NOT_EXIST"):
            await stranger.connectivity("hi")
    impostor_key, _ = generate_key_pair()
    codec = EnvelopeCodec(load_private_key(impostor_key), load_public_key(sandbox.keys.whalet_public.read_bytes()))
    async with WhaletClient(sandbox.api_url, sandbox.partner_id, codec) as impostor:
        with pytest.raises(AuthenticationFailed, match="UNAUTHENTICATED_ERROR"):
            await impostor.connectivity("hi")
    async with _client(sandbox, api_codes={"queryPlatformBalance": "queryPlatformBalanceV9"}) as renamed:
        with pytest.raises(AuthenticationFailed, match="INTERFACE_UNAUTHORIZED") as refused:
            await renamed.query_platform_balance()
    assert "administrator" in refused.value.sentence


@BOTH_PROTOCOLS
async def test_confirming_an_expired_payout_is_a_plain_rejection(whalet, sandbox):
    _, applied = await _apply_payout(whalet)
    sandbox.operator.post("/clock", json={"advance_seconds": 3600}).raise_for_status()
    with pytest.raises(WhaletRejected) as refused:
        await whalet.payout_confirm(USER, applied.payout_id)
    assert type(refused.value) is WhaletRejected and refused.value.code == "FAILURE"


# --- faults -------------------------------------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_read_query_is_retried_after_too_many_requests_with_a_new_request_no(whalet, sandbox):
    _faults(sandbox, {"apiCode": "queryCurrencyBalance", "kind": "too_many_requests", "times": 2})
    assert await whalet.query_currency_balance(USER, "B2B", "USD")
    fired = _fired(sandbox)
    assert [f["kind"] for f in fired] == ["too_many_requests"] * 2
    assert len({f["requestNo"] for f in fired}) == 2


@BOTH_PROTOCOLS
async def test_rate_limiting_that_persists_ends_in_rate_limited_after_the_retries(sandbox):
    _faults(sandbox, {"apiCode": "*", "kind": "too_many_requests", "times": None})
    async with _client(sandbox, read_retries=2) as whalet:
        with pytest.raises(RateLimited) as limited:
            await whalet.query_rate(USER, "USD", "HKD", "B2C")
    assert len(_fired(sandbox)) == 3
    assert explain(limited.value) == "Whalet is rate-limiting us, try again in a minute."


@BOTH_PROTOCOLS
async def test_money_moving_call_is_never_retried(whalet, sandbox):
    _faults(sandbox, {"apiCode": "payoutApply", "kind": "too_many_requests", "times": None})
    with pytest.raises(RateLimited):
        await _apply_payout(whalet)
    assert len(_fired(sandbox)) == 1


@BOTH_PROTOCOLS
async def test_confirm_timing_out_after_apply_is_outcome_unknown_and_was_applied_once(sandbox):
    async with _client(sandbox) as whalet:
        order_no, applied = await _apply_payout(whalet)
    _faults(sandbox, {"apiCode": "payoutConfirm", "kind": "timeout_after_apply", "seconds": 1.0})
    async with _client(sandbox, timeout=0.25) as impatient:
        with pytest.raises(OutcomeUnknown) as unknown:
            await impatient.payout_confirm(USER, applied.payout_id)
    assert "don't know yet whether it went through" in explain(unknown.value)
    record = _payouts(sandbox)[order_no]
    assert record["confirmCount"] == 1 and record["status"] != "WAIT_CONFIRM"


@BOTH_PROTOCOLS
@pytest.mark.parametrize(
    "kind,applied",
    [("http_500", False), ("http_500_after_apply", True), ("bad_signature", True), ("timeout_before_apply", False)],
)
async def test_untrustworthy_answers_are_outcome_unknown(whalet, sandbox, kind, applied):
    _faults(sandbox, {"apiCode": "payoutApply", "kind": kind, "seconds": 0.05})
    order_no = new_order_no("T")
    with pytest.raises(OutcomeUnknown):
        await whalet.payout_apply(USER, order_no, "B2C", Money.of("10", "USD"), "HKD", "BEN001", "x")
    assert (order_no in _payouts(sandbox)) is applied  # why the caller must look the order up


@BOTH_PROTOCOLS
async def test_a_read_whose_answer_timed_out_is_asked_again(sandbox):
    _faults(sandbox, {"apiCode": "queryRate", "kind": "latency", "seconds": 0.8})  # the first try only
    async with _client(sandbox, timeout=0.2) as whalet:
        quote = await whalet.query_rate(USER, "USD", "HKD", "B2C")
    assert quote.to_currency == "HKD" and len(_fired(sandbox)) == 1


@BOTH_PROTOCOLS
async def test_a_read_that_keeps_timing_out_ends_outcome_unknown(sandbox):
    _faults(sandbox, {"apiCode": "queryRate", "kind": "latency", "seconds": 0.8, "times": None})
    async with _client(sandbox, timeout=0.2) as whalet:
        with pytest.raises(OutcomeUnknown):
            await whalet.query_rate(USER, "USD", "HKD", "B2C")
    assert len(_fired(sandbox)) >= 2  # retried, then given up


@BOTH_PROTOCOLS
async def test_a_read_whose_answer_fails_its_signature_is_not_retried(sandbox):
    _faults(sandbox, {"apiCode": "queryRate", "kind": "bad_signature", "times": None})
    async with _client(sandbox) as whalet:
        with pytest.raises(OutcomeUnknown):
            await whalet.query_rate(USER, "USD", "HKD", "B2C")
    assert len(_fired(sandbox)) == 1  # a forged-looking answer is an alarm, not a hiccup


async def test_closed_port_is_request_not_sent_and_reads_retry_first():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key, public = generate_key_pair()
    codec = EnvelopeCodec(load_private_key(key), load_public_key(public))
    async with WhaletClient(f"http://127.0.0.1:{port}/api", "P", codec, backoff_base=0.001) as whalet:
        with pytest.raises(RequestNotSent) as not_sent:
            await whalet.query_rate(USER, "USD", "HKD", "B2C")
        assert not_sent.value.transient and "safe to try again" in explain(not_sent.value)
        with pytest.raises(RequestNotSent):
            await whalet.payout_confirm(USER, "PO1")


@BOTH_PROTOCOLS
async def test_requests_that_cannot_be_built_are_not_sent(whalet, sandbox):
    with pytest.raises(RequestNotSent) as not_sent:
        await whalet.payout_apply(USER, new_order_no(), "B2C", Money.of("1.005", "USD"), "HKD", "BEN001", "x")
    assert not not_sent.value.transient and "more decimals" in explain(not_sent.value)
    with pytest.raises(RequestNotSent):  # floats never reach the wire
        await whalet.beneficiary_apply(USER, "MB1", "HK", "HKD", "A", "123456", "B", extra={"fee": 0.1})
    assert _payouts(sandbox) == {}


@BOTH_PROTOCOLS
async def test_calls_are_logged_without_bodies_or_account_numbers(whalet, caplog):
    caplog.set_level(logging.DEBUG, logger="whalet.client")
    with pytest.raises(WhaletRejected):  # the account number fails the sandbox's HK pattern
        await whalet.beneficiary_apply(
            USER, "MB2", "HK", "HKD", "Acme", "ACCT99887766X", "HSBC", extra={"bankCode": "004"}
        )
    await whalet.connectivity("hello")
    lines = [r.getMessage() for r in caplog.records if r.name == "whalet.client"]
    assert any("beneficiaryApply" in line and "BadParameters" in line for line in lines)
    assert any(line.startswith("whalet connectivity requestNo=R") and "SUCCESS" in line for line in lines)
    assert not any("ACCT99887766X" in line or "hello" in line for line in lines)


# --- protocol edge cases, from a scripted stand-in that signs like Whalet ----------------------------


class ScriptedWhalet:
    """Answers each request as the test says: a real signed envelope, or deliberately not."""

    def __init__(self) -> None:
        whalet_private, whalet_public = generate_key_pair()
        partner_private, partner_public = generate_key_pair()
        self.whalet = EnvelopeCodec(load_private_key(whalet_private), load_public_key(partner_public))
        self.partner = EnvelopeCodec(load_private_key(partner_private), load_public_key(whalet_public))
        self.answer: Any = None  # (code, body) | (head override dict, code, body) | raw (status, bytes)
        self.url = ""
        self.app = Starlette(routes=[Route("/api", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        opened = self.whalet.decode_request(await request.body())
        if isinstance(self.answer, tuple) and isinstance(self.answer[0], int):
            return Response(self.answer[1], status_code=self.answer[0])
        head_changes, code, body = self.answer if len(self.answer) == 3 else ({}, *self.answer)
        envelope = self.whalet.encode_response({**opened.head, **head_changes}, code, "scripted", body)
        return Response(dumps_compact(envelope), media_type="application/json")


@pytest.fixture(scope="module")
def scripted() -> Any:
    stand_in = ScriptedWhalet()
    with ThreadedServer(stand_in.app) as server:
        stand_in.url = server.url + "/api"
        yield stand_in


async def test_empty_body_answers(scripted):
    scripted.answer = ("SUCCESS", None)
    async with WhaletClient(scripted.url, "P", scripted.partner) as whalet:
        assert await whalet.query_currency_balance(USER, "B2C") == []
        assert (await whalet.beneficiary_delete(USER, "BEN9")).beneficiary_id == "BEN9"
        with pytest.raises(OutcomeUnknown):  # accepted, but we cannot tell the status: look it up
            await whalet.payout_confirm(USER, "PO1")
        scripted.answer = ("PROCESSING", {"payoutId": "PO1", "status": "PROCESSING"})
        assert (await whalet.payout_confirm(USER, "PO1")).status == "PROCESSING"
        scripted.answer = ("SUCCESS", {"records": [{"currency": "USD", "balance": 5}]})
        (row,) = await whalet.query_currency_balance(USER, "B2C")
        assert row.balance == Money(Decimal(5), "USD")


@pytest.mark.parametrize(
    "answer",
    [
        ({"requestNo": "R-SOMEONE-ELSE"}, "SUCCESS", {"message": "hi"}),
        ({"apiCode": "queryRate"}, "SUCCESS", {"message": "hi"}),
        ("INTERNAL_ERROR", None),
        ("SUCCESS", {"unexpected": "shape"}),
        (200, b"<html>not json</html>"),
        (403, b"forbidden by a proxy"),
        (502, b"bad gateway"),
    ],
)
async def test_answers_we_cannot_trust_are_outcome_unknown(scripted, answer):
    scripted.answer = answer
    async with WhaletClient(scripted.url, "P", scripted.partner) as whalet:
        with pytest.raises(OutcomeUnknown):
            await whalet.connectivity("hi")


# --- numbers ----------------------------------------------------------------------------------------


def test_request_and_order_numbers_are_unique_short_and_sort_by_time():
    numbers = [new_request_no() for _ in range(5000)]
    assert len(set(numbers)) == len(numbers) and all(len(n) <= 30 for n in numbers)
    assert [n[:18] for n in numbers] == sorted(n[:18] for n in numbers)  # time part never goes back
    orders = [new_order_no("PAY") for _ in range(1000)]
    assert len(set(orders)) == 1000 and all(len(o) == 30 and o.startswith("PAY") for o in orders)
    with pytest.raises(ValueError):
        new_order_no("TOO-LONG-PREFIX")
