"""The Whalet sandbox over real HTTP, spoken to with raw envelopes and the partner's keys.

No client code is used here on purpose: these tests pin the sandbox to the protocol spec, so the
client and the sandbox are checked against the spec independently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devkit.serving import ThreadedServer
from tests.fixtures.loopback import loopback
from tests.fixtures.whalet import RunningSandbox
from whalet.envelope import EnvelopeCodec, SignatureInvalid, dumps_compact, generate_key_pair, load_private_key
from devkit.whalet_sandbox import SandboxConfig, create_sandbox

D = Decimal
MONEY_KEYS = {"amount", "cent", "centFactor", "currency"}
WIDE = {"startTime": "2000-01-01 00:00:00", "endTime": "2099-12-31 23:59:59"}


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until ``condition()`` is truthy (a liveness wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def ok(opened: Any) -> Any:
    assert opened.head["code"] == "SUCCESS", opened.head
    return opened.body


def balance(sandbox: RunningSandbox, user: str, source: str, currency: str) -> dict[str, D]:
    rows = sandbox.operator.get("/balances", params={"userId": user}).json()["balances"]
    row = next(r for r in rows if (r["fundSource"], r["currency"]) == (source, currency))
    return {key: D(row[key]) for key in ("available", "pending", "frozen")}


def advance(sandbox: RunningSandbox, seconds: float) -> None:
    assert sandbox.operator.post("/clock", json={"advance_seconds": seconds}).status_code == 200


def payout_body(mer: str, amount: str = "1000.00", **extra: Any) -> dict[str, Any]:
    return {
        "userId": "U10001",
        "merOrderNo": mer,
        "fundSource": "B2C",
        "currency": "USD",
        "amount": D(amount),
        "toCurrency": "USD",
        "beneficiaryId": "BEN002",
        "purpose": "supplier invoice",
        **extra,
    }


def payouts(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    return {r["merOrderNo"]: r for r in sandbox.operator.get("/payouts").json()["records"]}


# --- a tiny webhook receiver -----------------------------------------------------------------


@dataclass
class Receiver:
    codec: EnvelopeCodec
    fail_first: int = 0
    answer_code: str = "SUCCESS"
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> Response:
        opened = self.codec.decode_notification(await request.body())  # verify, then decrypt
        with self.lock:
            self.hits.append(opened.head["requestNo"])
            if len(self.hits) <= self.fail_first:
                return Response("busy", status_code=500)
            self.received.append((opened.head, opened.body))
        if self.answer_code != "SUCCESS":
            answer = self.codec.encode_response(opened.head, self.answer_code, "no", None)
        else:
            answer = self.codec.encode_ack(opened.head)
        return Response(dumps_compact(answer), media_type="application/json")

    def of(self, api_code: str) -> list[Any]:
        with self.lock:
            return [body for head, body in self.received if head["apiCode"] == api_code]


@pytest.fixture
def receiver_factory(sandbox: RunningSandbox) -> Iterator[Callable[..., Receiver]]:
    servers: list[ThreadedServer] = []

    def make(**options: Any) -> Receiver:
        receiver = Receiver(sandbox.partner_codec(), **options)
        server = ThreadedServer(Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])).start()
        servers.append(server)
        sandbox.sandbox.set_webhook_url(server.url + "/hook")
        return receiver

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def receiver(receiver_factory: Callable[..., Receiver]) -> Receiver:
    return receiver_factory()


# --- balances and rates ------------------------------------------------------------------------


def test_currency_balance_is_a_bare_array_shaped_like_the_spec_example(sandbox: RunningSandbox) -> None:
    rows = ok(sandbox.call("queryCurrencyBalance", {"userId": "U10001", "currency": "USD", "fundSource": "B2C"}))
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert set(row) == {"balance", "orderQuota", "currency", "rmbAmount", "pendingAmount", "freezeAmount"}
    assert row["currency"] == "USD"
    assert row["balance"] == {"amount": D("250000.00"), "cent": 25000000, "centFactor": 100, "currency": "USD"}
    assert row["pendingAmount"]["cent"] == 125000
    assert set(row["rmbAmount"]) == MONEY_KEYS and row["rmbAmount"]["currency"] == "CNY"
    # CNY equivalent at the seed-0 mid rate USD->CNY = 1 / 0.1385
    assert row["rmbAmount"]["amount"] == D("1805054.25")

    everything = ok(sandbox.call("queryCurrencyBalance", {"userId": "U10001", "fundSource": "B2C"}))
    by_currency = {r["currency"]: r for r in everything}
    assert set(by_currency) == {"USD", "EUR", "HKD", "JPY"}
    assert by_currency["JPY"]["balance"] == {"amount": 3500000, "cent": 3500000, "centFactor": 1, "currency": "JPY"}


def test_platform_balance_is_wrapped_in_records_and_sums_users(sandbox: RunningSandbox) -> None:
    body = ok(sandbox.call("queryPlatformBalance", {"currency": "USD", "fundSource": "B2B"}))
    assert list(body) == ["records"]
    [usd] = body["records"]
    assert usd["balance"]["amount"] == D("82340.55") + D("40000.00")
    assert usd["freezeAmount"]["amount"] == D("500.00")


def test_rate_quote(sandbox: RunningSandbox) -> None:
    quote = ok(
        sandbox.call("queryRate", {"userId": "U10001", "currency": "USD", "toCurrency": "HKD", "fundSource": "B2C"})
    )
    assert quote["rateId"] and quote["currency"] == "USD" and quote["toCurrency"] == "HKD"
    assert isinstance(quote["rate"], Decimal) and D("7.7") < quote["rate"] < D("7.9")
    assert len(quote["expireTime"]) == 19


def test_rates_vary_by_seed_deterministically(sandbox_keys: Any) -> None:
    def rate(seed: int) -> Decimal:
        sb = create_sandbox(SandboxConfig(keys_dir=sandbox_keys.dir, seed=seed))
        return sb.state.ledger.customer_rate("EUR", "USD")

    assert rate(0) == D("1.082830")  # 1.085 less the 0.2 % spread
    assert rate(7) == rate(7) != rate(0)


# --- payouts -----------------------------------------------------------------------------------


def test_payout_lifecycle_freezes_then_debits_and_notifies(sandbox: RunningSandbox, receiver: Receiver) -> None:
    applied = ok(sandbox.call("payoutApply", payout_body("ORD-1", "1000.00")))
    assert applied["status"] == "WAIT_CONFIRM" and applied["merOrderNo"] == "ORD-1"
    assert applied["fee"] == {"amount": D("1.00"), "cent": 100, "centFactor": 100, "currency": "USD"}
    assert applied["toAmount"]["amount"] == D("1000.00") and applied["rate"] == 1
    assert balance(sandbox, "U10001", "B2C", "USD") == {
        "available": D("248999.00"),
        "pending": D("1250.00"),
        "frozen": D("1001.00"),
    }

    confirmed = ok(sandbox.call("payoutConfirm", {"userId": "U10001", "payoutId": applied["payoutId"]}))
    assert confirmed == {"payoutId": applied["payoutId"], "status": "PROCESSING"}
    advance(sandbox, 1)
    assert payouts(sandbox)["ORD-1"]["status"] == "SUCCESS"
    assert balance(sandbox, "U10001", "B2C", "USD") == {
        "available": D("248999.00"),
        "pending": D("1250.00"),
        "frozen": D("0.00"),
    }

    [result] = wait_until(lambda: receiver.of("payoutResultNotify"))
    assert result["payoutId"] == applied["payoutId"] and result["status"] == "SUCCESS"
    assert result["amount"]["amount"] == D("1000.00") and result["toCurrency"] == "USD"
    assert "failReason" not in result and len(result["finishTime"]) == 19


def test_payout_ending_in_13_fails_and_releases_funds(sandbox: RunningSandbox, receiver: Receiver) -> None:
    applied = ok(sandbox.call("payoutApply", payout_body("ORD-13", "100.13")))
    assert balance(sandbox, "U10001", "B2C", "USD")["frozen"] == D("101.13")
    ok(sandbox.call("payoutConfirm", {"userId": "U10001", "payoutId": applied["payoutId"]}))
    advance(sandbox, 1)
    assert balance(sandbox, "U10001", "B2C", "USD") == {
        "available": D("250000.00"),
        "pending": D("1250.00"),
        "frozen": D("0.00"),
    }
    [result] = wait_until(lambda: receiver.of("payoutResultNotify"))
    assert result["status"] == "FAIL" and "amounts ending in .13" in result["failReason"]


def test_fx_payout_with_quote_uses_its_rate_and_expiry(sandbox: RunningSandbox) -> None:
    quote = ok(
        sandbox.call("queryRate", {"userId": "U10001", "currency": "USD", "toCurrency": "HKD", "fundSource": "B2C"})
    )
    applied = ok(
        sandbox.call(
            "payoutApply",
            payout_body("ORD-FX", "1200.50", toCurrency="HKD", beneficiaryId="BEN001", rateId=quote["rateId"]),
        )
    )
    assert applied["rate"] == quote["rate"] and applied["expireTime"] == quote["expireTime"]
    assert applied["toAmount"]["amount"] == (D("1200.50") * quote["rate"]).quantize(D("0.01"), "ROUND_DOWN")
    assert applied["fee"]["amount"] == D("1.20")
    assert payouts(sandbox)["ORD-FX"]["payoutType"] == "WITHDRAW"  # BEN001 is Acme's own HK account

    wrong = sandbox.call("payoutApply", payout_body("ORD-FX2", toCurrency="HKD", beneficiaryId="BEN002"))
    assert wrong.head["code"] == "PARAMETER_ERROR"
    advance(sandbox, 61)
    expired = sandbox.call(
        "payoutApply", payout_body("ORD-FX3", toCurrency="HKD", beneficiaryId="BEN001", rateId=quote["rateId"])
    )
    assert expired.head["code"] == "FAILURE" and "expired" in expired.head["detail"]


def test_confirm_after_expiry_fails_and_releases(sandbox: RunningSandbox) -> None:
    applied = ok(sandbox.call("payoutApply", payout_body("ORD-EXP", "500.00")))
    advance(sandbox, 601)
    answer = sandbox.call("payoutConfirm", {"userId": "U10001", "payoutId": applied["payoutId"]})
    assert answer.head["code"] == "FAILURE" and answer.body is None
    record = payouts(sandbox)["ORD-EXP"]
    assert record["status"] == "EXPIRED" and record["confirmCount"] == 1
    assert balance(sandbox, "U10001", "B2C", "USD")["available"] == D("250000.00")


def test_every_confirm_call_is_counted_and_repeats_return_current_status(sandbox: RunningSandbox) -> None:
    applied = ok(sandbox.call("payoutApply", payout_body("ORD-C")))
    confirm = {"userId": "U10001", "payoutId": applied["payoutId"]}
    first = sandbox.call("payoutConfirm", confirm, request_no="CONFIRM-1")
    replay = sandbox.call("payoutConfirm", confirm, request_no="CONFIRM-1")
    assert replay.head == first.head and replay.body == first.body
    advance(sandbox, 1)
    again = ok(sandbox.call("payoutConfirm", confirm))
    assert again["status"] == "SUCCESS"
    assert payouts(sandbox)["ORD-C"]["confirmCount"] == 3
    assert balance(sandbox, "U10001", "B2C", "USD")["available"] == D("248999.00")  # debited once


def test_request_no_replay_and_not_unique(sandbox: RunningSandbox) -> None:
    body = payout_body("ORD-R")
    first = sandbox.call("payoutApply", body, request_no="REQ-SAME")
    replay = sandbox.call("payoutApply", dict(reversed(list(body.items()))), request_no="REQ-SAME")
    assert replay.head == first.head and replay.body == first.body  # the original answer, signature and all
    assert len(payouts(sandbox)) == 1
    other = sandbox.call("payoutApply", payout_body("ORD-R2"), request_no="REQ-SAME")
    assert other.head["code"] == "REQUEST_NO_NOT_UNIQUE" and other.body is None
    other_api = sandbox.call("connectivity", {"message": "hi"}, request_no="REQ-SAME")
    assert other_api.head["code"] == "REQUEST_NO_NOT_UNIQUE"


def test_same_mer_order_no_under_new_request_no_is_idempotent_error(sandbox: RunningSandbox) -> None:
    ok(sandbox.call("payoutApply", payout_body("ORD-I")))
    again = sandbox.call("payoutApply", payout_body("ORD-I"))
    assert again.head["code"] == "IDEMPOTENT_ERROR"
    assert balance(sandbox, "U10001", "B2C", "USD")["frozen"] == D("1001.00")


def test_insufficient_balance_and_parameter_errors(sandbox: RunningSandbox) -> None:
    poor = sandbox.call("payoutApply", payout_body("ORD-P", "250000.00"))  # the fee does not fit
    assert poor.head["code"] == "FAILURE" and "insufficient balance" in poor.head["detail"]
    cases = [
        ("payoutApply", payout_body("ORD-X", "100.001"), "more decimals"),
        ("payoutApply", {**payout_body("ORD-X"), "amount": "100.00"}, "JSON number"),
        ("payoutApply", {**payout_body("ORD-X"), "currency": "JPY", "amount": D("100.5")}, "more decimals"),
        ("payoutApply", {k: v for k, v in payout_body("ORD-X").items() if k != "purpose"}, "purpose is required"),
        ("payoutApply", {**payout_body("ORD-X"), "userId": "U99999"}, "user not found"),
        ("payoutApply", {**payout_body("ORD-X"), "beneficiaryId": "BEN999"}, "beneficiary not found"),
        ("queryCurrencyBalance", {"userId": "U10001", "fundSource": "B2X"}, "fundSource"),
        ("queryCurrencyBalance", {"userId": "U10001", "fundSource": "B2C", "currency": "XYZ"}, "currency"),
        ("queryWithdrawRecords", {"userId": "U10001", **WIDE, "pageSize": 101}, "pageSize"),
        ("queryWithdrawRecords", {"userId": "U10001", **WIDE, "pageNum": 0}, "pageNum"),
        (
            "queryWithdrawRecords",
            {"userId": "U10001", "startTime": "2025/01/01", "endTime": WIDE["endTime"]},
            "startTime",
        ),
    ]
    for api_code, body, fragment in cases:
        answer = sandbox.call(api_code, body)
        assert answer.head["code"] == "PARAMETER_ERROR", (api_code, body, answer.head)
        assert fragment in answer.head["detail"], answer.head["detail"]
    assert payouts(sandbox) == {}


# --- envelope-level refusals -------------------------------------------------------------------


def test_bad_signature_is_unauthenticated_and_the_answer_is_signed(sandbox: RunningSandbox) -> None:
    message = sandbox.partner_codec().encode_request("PDEMO0001", "connectivity", "BADSIG-1", {"message": "hi"})
    message["body"]["encrypt"] = sandbox.partner_codec().encode_request(
        "PDEMO0001", "connectivity", "BADSIG-1", {"message": "other"}
    )["body"]["encrypt"]
    answer = sandbox.partner_codec().decode_response(sandbox.post_raw(message).content)
    assert answer.head["code"] == "UNAUTHENTICATED_ERROR" and answer.body is None

    private_pem, _ = generate_key_pair()
    stranger = EnvelopeCodec(load_private_key(private_pem), sandbox.partner_codec()._peer)  # noqa: SLF001
    forged = stranger.encode_request("PDEMO0001", "connectivity", "BADSIG-2", {"message": "hi"})
    assert (
        sandbox.partner_codec().decode_response(sandbox.post_raw(forged).content).head["code"]
        == "UNAUTHENTICATED_ERROR"
    )


def test_wrong_partner_and_unknown_api_code(sandbox: RunningSandbox) -> None:
    message = sandbox.partner_codec().encode_request("PNOBODY01", "connectivity", "WP-1", {"message": "hi"})
    answer = sandbox.partner_codec().decode_response(sandbox.post_raw(message).content)
    assert answer.head["code"] == "PARTNER_NOT_EXIST" and answer.head["partnerId"] == "PNOBODY01"
    unknown = sandbox.call("queryMoonBalance", {"userId": "U10001"})
    assert unknown.head["code"] == "INTERFACE_UNAUTHORIZED"
    assert loopback.post(sandbox.api_url, content=b"hello").status_code == 400
    headless = dict(sandbox.partner_codec().encode_request("PDEMO0001", "connectivity", "WP-2", {"message": "hi"}))
    del headless["head"]["requestNo"]
    refused = sandbox.post_raw(headless).json()["head"]
    assert refused["code"] == "PARAMETER_ERROR" and "requestNo" in refused["detail"]


# --- pay -----------------------------------------------------------------------------------------


def test_pay_lifecycle_credits_the_payee(sandbox: RunningSandbox, receiver: Receiver) -> None:
    body = {
        "userId": "U10001",
        "merOrderNo": "PAY-1",
        "payeeUserId": "U20001",
        "currency": "USD",
        "amount": D("300.00"),
        "purpose": "services",
    }
    applied = ok(sandbox.call("payApply", body))
    assert applied["status"] == "WAIT_CONFIRM" and applied["fee"]["amount"] == D("1.00")
    assert sandbox.call("payApply", body).head["code"] == "IDEMPOTENT_ERROR"
    assert ok(sandbox.call("payConfirm", {"userId": "U10001", "payId": applied["payId"]}))["status"] == "PROCESSING"
    advance(sandbox, 1)
    assert balance(sandbox, "U20001", "B2C", "USD")["available"] == D("1300.00")
    assert balance(sandbox, "U10001", "B2C", "USD")["available"] == D("249699.00")
    [result] = wait_until(lambda: receiver.of("payResultNotify"))
    assert result["payId"] == applied["payId"] and result["status"] == "SUCCESS"
    pays = sandbox.operator.get("/pays").json()["records"]
    assert pays[0]["confirmCount"] == 1
    records = ok(sandbox.call("queryPayRecords", {"userId": "U10001", **WIDE, "merOrderNo": "PAY-1"}))
    assert records["total"] == 1 and records["records"][0]["status"] == "SUCCESS"


# --- beneficiaries -------------------------------------------------------------------------------


def test_beneficiary_countries_fields_apply_and_delete(sandbox: RunningSandbox, receiver: Receiver) -> None:
    countries = ok(sandbox.call("queryBeneficiaryCountries", {}))
    assert {"country": "DE", "currencies": ["EUR"]} in countries
    fields = ok(sandbox.call("queryBeneficiaryFields", {"country": "US", "currency": "USD"}))
    names = {f["name"]: f for f in fields}
    assert names["routingNumber"]["pattern"] == r"^\d{9}$" and names["accountType"]["options"] == [
        "CHECKING",
        "SAVINGS",
    ]

    apply = {
        "userId": "U10001",
        "merBeneficiaryNo": "MB-1",
        "country": "US",
        "currency": "USD",
        "accountName": "Vandelay Industries",
        "accountNo": "987654321",
        "bankName": "Citibank",
        "extra": {"routingNumber": "021000089", "accountType": "SAVINGS"},
    }
    missing = sandbox.call("beneficiaryApply", {**apply, "extra": {}})
    assert missing.head["code"] == "PARAMETER_ERROR" and "routingNumber" in missing.head["detail"]
    created = ok(sandbox.call("beneficiaryApply", apply))
    assert created["status"] == "PROCESSING"
    rejected = ok(sandbox.call("beneficiaryApply", {**apply, "merBeneficiaryNo": "MB-2", "accountName": "REJECT me"}))
    advance(sandbox, 1)
    results = {
        r["beneficiaryId"]: r
        for r in wait_until(
            lambda: len(receiver.of("beneficiaryResultNotify")) == 2 and receiver.of("beneficiaryResultNotify")
        )
    }
    assert results[created["beneficiaryId"]]["status"] == "SUCCESS"
    assert results[rejected["beneficiaryId"]]["status"] == "FAIL" and results[rejected["beneficiaryId"]]["failReason"]

    ok(sandbox.call("payoutApply", payout_body("ORD-B", beneficiaryId=created["beneficiaryId"])))
    assert (
        ok(sandbox.call("beneficiaryDelete", {"userId": "U10001", "beneficiaryId": created["beneficiaryId"]}))["status"]
        == "DELETED"
    )
    gone = sandbox.call("payoutApply", payout_body("ORD-B2", beneficiaryId=created["beneficiaryId"]))
    assert gone.head["code"] == "PARAMETER_ERROR"


# --- collections, record queries -----------------------------------------------------------------


def test_collections_credit_and_notify_with_full_account_number(sandbox: RunningSandbox, receiver: Receiver) -> None:
    mocked = ok(
        sandbox.call(
            "mockPayeeNotify",
            {
                "userId": "U10002",
                "currency": "EUR",
                "amount": D("1500.25"),
                "payerName": "Soylent Corp",
                "fundSource": "B2B",
            },
        )
    )
    assert mocked["status"] == "SUCCESS"
    collected = sandbox.operator.post("/collect", json={"userId": "U10001", "currency": "USD", "amount": "99.99"})
    assert collected.status_code == 200
    assert balance(sandbox, "U10002", "B2B", "EUR")["available"] == D("16500.25")
    assert balance(sandbox, "U10001", "B2C", "USD")["available"] == D("250099.99")
    notes = wait_until(
        lambda: len(receiver.of("collectionReceivedNotify")) == 2 and receiver.of("collectionReceivedNotify")
    )
    first = next(n for n in notes if n["userId"] == "U10002")
    assert first["collectionId"] == mocked["collectionId"] and first["payerName"] == "Soylent Corp"
    assert first["amount"]["amount"] == D("1500.25") and first["status"] == "SUCCESS"
    assert first["virtualAccountNo"].isdigit() and len(first["virtualAccountNo"]) == 15
    assert first["payerAccount"] and len(first["receivedTime"]) == 19
    records = ok(sandbox.call("queryCollectionRecords", {"userId": "U10002", **WIDE}))
    assert records["total"] == 1 and records["records"][0]["collectionId"] == mocked["collectionId"]


def test_record_queries_filter_and_page(sandbox: RunningSandbox) -> None:
    for number in range(3):
        ok(sandbox.call("payoutApply", payout_body(f"ORD-Q{number}", "10.00")))
    ok(sandbox.call("payoutApply", payout_body("ORD-QHK", "10.00", toCurrency="HKD", beneficiaryId="BEN001")))
    page = ok(sandbox.call("queryWithdrawRecords", {"userId": "U10001", **WIDE, "pageNum": 2, "pageSize": 3}))
    assert page["total"] == 4 and page["pageNum"] == 2 and len(page["records"]) == 1
    payments = ok(sandbox.call("queryPaymentRecords", {"userId": "U10001", **WIDE}))
    assert payments["total"] == 3  # BEN001 is the user's own account: a withdrawal, not a payment
    found = ok(sandbox.call("queryWithdrawRecords", {"userId": "U10001", **WIDE, "merOrderNo": "ORD-Q1"}))
    assert [r["merOrderNo"] for r in found["records"]] == ["ORD-Q1"]
    assert set(found["records"][0]["amount"]) == MONEY_KEYS and found["records"][0]["createTime"]
    none = ok(sandbox.call("queryWithdrawRecords", {"userId": "U10001", **WIDE, "status": "SUCCESS"}))
    assert none["total"] == 0
    past = ok(
        sandbox.call(
            "queryWithdrawRecords",
            {"userId": "U10001", "startTime": "2001-01-01 00:00:00", "endTime": "2001-12-31 00:00:00"},
        )
    )
    assert past["total"] == 0


# --- replenish, connectivity, arbitrary notifications ---------------------------------------------


def test_edd_replenish_request_submit_and_pass(sandbox: RunningSandbox, receiver: Receiver) -> None:
    created = sandbox.operator.post("/replenish", json={"kind": "edd", "userId": "U10001"}).json()
    [note] = wait_until(lambda: receiver.of("eddReplenishNotify"))
    assert note["replenishId"] == created["replenishId"] and note["requiredMaterials"] and len(note["deadline"]) == 19
    listed = ok(sandbox.call("eddReplenishQuery", {"userId": "U10001"}))
    assert listed["records"][0]["status"] == "WAIT"
    submitted = ok(
        sandbox.call(
            "eddReplenishSubmit",
            {
                "userId": "U10001",
                "replenishId": created["replenishId"],
                "materials": {"Business licence": "https://files/x.pdf"},
            },
        )
    )
    assert submitted["status"] == "PROCESSING"
    advance(sandbox, 1)
    [result] = wait_until(lambda: receiver.of("eddReplenishResultNotify"))
    assert result == {"userId": "U10001", "replenishId": created["replenishId"], "status": "PASS"}


def test_trade_replenish_rejected_by_operator(sandbox: RunningSandbox, receiver: Receiver) -> None:
    created = sandbox.operator.post("/replenish", json={"kind": "trade", "userId": "U10002", "tradeId": "T-77"}).json()
    [note] = wait_until(lambda: receiver.of("tradeReplenishNotify"))
    assert note["tradeId"] == "T-77" and note["tradeType"]
    wrong = sandbox.call(
        "tradeReplenishSubmit",
        {"userId": "U10002", "replenishId": created["replenishId"], "tradeId": "T-78", "materials": ["invoice"]},
    )
    assert wrong.head["code"] == "PARAMETER_ERROR"
    decided = sandbox.operator.post(
        f"/replenish/{created['replenishId']}/result", json={"status": "REJECT", "remark": "blurry"}
    )
    assert decided.status_code == 200
    [result] = wait_until(lambda: receiver.of("tradeReplenishResultNotify"))
    assert result["status"] == "REJECT" and result["tradeId"] == "T-77" and result["remark"] == "blurry"


def test_connectivity_echoes_then_notifies(sandbox: RunningSandbox, receiver: Receiver) -> None:
    assert ok(sandbox.call("connectivity", {"message": "ping 你好"}, request_no="CONN-1")) == {"message": "ping 你好"}
    [note] = wait_until(lambda: receiver.of("connectivityNotify"))
    assert note == {"message": "ping 你好", "requestNo": "CONN-1"}


def test_operator_notify_sends_any_api_code(sandbox: RunningSandbox, receiver: Receiver) -> None:
    sent = sandbox.operator.post(
        "/notify", json={"apiCode": "shopBindResultNotify", "body": {"userId": "U10001", "status": "PASS"}}
    )
    [note] = wait_until(lambda: receiver.of("shopBindResultNotify"))
    assert note == {"userId": "U10001", "status": "PASS"}
    assert receiver.received[0][0]["requestNo"] == sent.json()["requestNo"]


# --- notification delivery -----------------------------------------------------------------------


def test_retries_use_the_same_request_no_until_acked(
    sandbox: RunningSandbox, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver = receiver_factory(fail_first=2)
    sandbox.operator.post(
        "/notify", json={"apiCode": "virtualAccountNotify", "body": {"userId": "U10001", "status": "PASS"}}
    )
    wait_until(lambda: receiver.of("virtualAccountNotify"))
    assert len(receiver.hits) == 3 and len(set(receiver.hits)) == 1

    def recorded() -> list[dict[str, Any]] | None:
        """The receiver has the body before the sandbox has read its answer and recorded the attempt."""
        tries = sandbox.operator.get("/deliveries").json()["deliveries"]
        return tries if any(t["outcome"] == "delivered" for t in tries) else None

    tries = wait_until(recorded)
    assert [(t["attempt"], t["outcome"], t["httpStatus"]) for t in tries] == [
        (1, "http_error", 500),
        (2, "http_error", 500),
        (3, "delivered", 200),
    ]
    assert {t["requestNo"] for t in tries} == set(receiver.hits)


def test_an_ack_with_another_code_is_not_delivery(
    sandbox: RunningSandbox, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver_factory(answer_code="FAILURE")
    sandbox.operator.post("/notify", json={"apiCode": "userHolderResultNotify", "body": {"userId": "U10001"}})
    tries = wait_until(
        lambda: (
            len(sandbox.operator.get("/deliveries").json()["deliveries"]) >= 2
            and sandbox.operator.get("/deliveries").json()["deliveries"]
        )
    )
    assert all(t["outcome"] == "not_acked" for t in tries)


def test_notifications_wait_for_a_webhook_url(
    sandbox: RunningSandbox, receiver_factory: Callable[..., Receiver]
) -> None:
    sandbox.operator.post("/collect", json={"userId": "U10001", "currency": "USD", "amount": "5.00"})
    time.sleep(0.3)  # several ticks pass with no URL: nothing is tried
    assert sandbox.operator.get("/deliveries").json()["deliveries"] == []
    receiver = receiver_factory()
    wait_until(lambda: receiver.of("collectionReceivedNotify"))


# --- faults --------------------------------------------------------------------------------------


def set_faults(sandbox: RunningSandbox, *rules: dict[str, Any]) -> None:
    answer = sandbox.operator.post("/faults", json={"rules": list(rules)})
    assert answer.status_code == 200, answer.text


def test_fault_latency_and_too_many_requests(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, {"apiCode": "connectivity", "kind": "latency", "seconds": 0.3})
    started = time.monotonic()
    ok(sandbox.call("connectivity", {"message": "slow"}))
    assert time.monotonic() - started >= 0.3
    set_faults(sandbox, {"apiCode": "*", "kind": "too_many_requests", "times": 1})
    limited = sandbox.call(
        "queryRate",
        {"userId": "U10001", "currency": "USD", "toCurrency": "EUR", "fundSource": "B2C"},
        request_no="TMR-1",
    )
    assert limited.head["code"] == "TOO_MANY_REQUESTS"
    # nothing was done, so the same requestNo may be sent again
    ok(
        sandbox.call(
            "queryRate",
            {"userId": "U10001", "currency": "USD", "toCurrency": "EUR", "fundSource": "B2C"},
            request_no="TMR-1",
        )
    )


def test_fault_timeout_before_apply_does_nothing(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, {"apiCode": "payoutApply", "kind": "timeout_before_apply", "seconds": 0.5})
    with pytest.raises(httpx.ReadTimeout):
        sandbox.call("payoutApply", payout_body("ORD-TB"), timeout=0.2)
    time.sleep(0.5)  # let the sandbox finish its sleep: it still must not apply
    found = ok(sandbox.call("queryWithdrawRecords", {"userId": "U10001", **WIDE, "merOrderNo": "ORD-TB"}))
    assert found["total"] == 0


def test_fault_timeout_after_apply_commits(sandbox: RunningSandbox) -> None:
    applied = ok(sandbox.call("payoutApply", payout_body("ORD-TA")))
    set_faults(sandbox, {"apiCode": "payoutConfirm", "kind": "timeout_after_apply", "seconds": 1})
    with pytest.raises(httpx.ReadTimeout):
        sandbox.call("payoutConfirm", {"userId": "U10001", "payoutId": applied["payoutId"]}, timeout=0.2)
    found = ok(sandbox.call("queryWithdrawRecords", {"userId": "U10001", **WIDE, "merOrderNo": "ORD-TA"}))
    assert found["records"][0]["status"] in ("PROCESSING", "SUCCESS")  # confirmed: the result may be in already
    assert payouts(sandbox)["ORD-TA"]["confirmCount"] == 1


def test_fault_http_500_before_and_after_apply(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, {"apiCode": "payoutApply", "kind": "http_500"})
    message = sandbox.partner_codec().encode_request("PDEMO0001", "payoutApply", "H500-1", payout_body("ORD-H1"))
    assert sandbox.post_raw(message).status_code == 500
    assert payouts(sandbox) == {}
    ok(sandbox.call("payoutApply", payout_body("ORD-H1"), request_no="H500-1"))  # requestNo was not used up

    set_faults(sandbox, {"apiCode": "payoutApply", "kind": "http_500_after_apply"})
    message = sandbox.partner_codec().encode_request("PDEMO0001", "payoutApply", "H500-2", payout_body("ORD-H2"))
    assert sandbox.post_raw(message).status_code == 500
    assert payouts(sandbox)["ORD-H2"]["status"] == "WAIT_CONFIRM"
    replay = ok(sandbox.call("payoutApply", payout_body("ORD-H2"), request_no="H500-2"))
    assert replay["payoutId"] == payouts(sandbox)["ORD-H2"]["payoutId"] and len(payouts(sandbox)) == 2


def test_fault_bad_signature_commits_but_cannot_be_trusted(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, {"apiCode": "payoutApply", "kind": "bad_signature"})
    message = sandbox.partner_codec().encode_request("PDEMO0001", "payoutApply", "BS-1", payout_body("ORD-BS"))
    with pytest.raises(SignatureInvalid):
        sandbox.partner_codec().decode_response(sandbox.post_raw(message).content)
    assert "ORD-BS" in payouts(sandbox)


def test_fault_rate_is_seeded_and_rules_can_be_cleared(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, {"apiCode": "connectivity", "kind": "too_many_requests", "times": None, "rate": 0.5})
    codes = [sandbox.call("connectivity", {"message": str(n)}).head["code"] for n in range(12)]
    assert 0 < codes.count("TOO_MANY_REQUESTS") < 12
    assert sandbox.operator.delete("/faults").json()["rules"] == []
    assert sandbox.call("connectivity", {"message": "after"}).head["code"] == "SUCCESS"
    bad = sandbox.operator.post("/faults", json={"rules": [{"kind": "explode"}]})
    assert bad.status_code == 400


# --- operator surface ----------------------------------------------------------------------------


async def test_operator_endpoints_refuse_non_loopback_clients(sandbox: RunningSandbox) -> None:
    transport = httpx.ASGITransport(app=sandbox.sandbox.app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as outsider:
        assert (await outsider.get("/sandbox/balances")).status_code == 403
        assert (await outsider.post("/sandbox/clock", json={"advance_seconds": 60})).status_code == 403
    health = sandbox.operator.get("/health").json()
    assert health["status"] == "ok" and health["partnerId"] == "PDEMO0001"
