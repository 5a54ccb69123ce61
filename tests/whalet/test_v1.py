"""The REST v1 profile against the sandbox's own v1 reading: token, signatures, fields, amounts."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devkit.serving import ThreadedServer
from tests.fixtures.whalet import RunningSandbox
from whalet.client import WhaletClient, new_order_no
from whalet.envelope import aes_ecb_encrypt
from whalet.errors import (
    AuthenticationFailed,
    BadParameters,
    MoneySwitchedOff,
    RequestNotSent,
)
from whalet.gateways import money_needs_switch
from whalet.money import Money
from whalet.transport import V1Credentials, V1Transport

USER = "U10001"


@pytest.fixture
def whalet_protocol() -> str:
    return "v1"


def client(sandbox: RunningSandbox, transport: Any = None, **options: Any) -> WhaletClient:
    return WhaletClient(
        sandbox.api_url, sandbox.partner_id, transport or sandbox.partner_transport(), backoff_base=0.001, **options
    )


def health(sandbox: RunningSandbox) -> dict[str, Any]:
    return sandbox.operator.get("/health").json()  # type: ignore[no-any-return]


async def test_one_token_serves_many_calls(sandbox: RunningSandbox) -> None:
    transport = sandbox.partner_transport()
    async with client(sandbox, transport) as whalet:
        await asyncio.gather(*(whalet.connectivity(f"hi {n}") for n in range(8)))
        await whalet.query_currency_balance(USER, "B2C")
    assert transport.tokens_fetched == 1 and health(sandbox)["tokensIssued"] == 1  # type: ignore[attr-defined]


async def test_a_token_is_renewed_150_seconds_before_it_expires(make_sandbox: Callable[..., RunningSandbox]) -> None:
    sandbox = make_sandbox(token_ttl_s=151)  # good for 1 s by the 150 s rule
    async with client(sandbox) as whalet:
        await whalet.connectivity("one")
        await whalet.connectivity("two")
        assert health(sandbox)["tokensIssued"] == 1
        await asyncio.sleep(1.1)
        await whalet.connectivity("three")
    assert health(sandbox)["tokensIssued"] == 2


async def test_a_refused_token_is_fetched_again_once_and_the_call_sent_under_a_new_request_no(
    sandbox: RunningSandbox,
) -> None:
    async with client(sandbox) as whalet:
        await whalet.connectivity("warm up")
        sandbox.operator.post("/tokens/revoke").raise_for_status()
        order_no = new_order_no("T")
        applied = await whalet.payout_apply(USER, order_no, "B2C", Money.of("10.00", "USD"), "HKD", "BEN001", "x")
    assert applied.mer_order_no == order_no and health(sandbox)["tokensIssued"] == 2
    [record] = [r for r in sandbox.operator.get("/payouts").json()["records"] if r["merOrderNo"] == order_no]
    assert record["status"] == "WAIT_CONFIRM"
    answered = [no for no, (code, _, _) in sandbox.sandbox.state.answers.items() if code == "payoutApply"]
    assert len(answered) == 1  # the refused requestNo was never processed


async def test_a_second_refusal_is_an_authentication_error() -> None:
    seen: list[tuple[str, str]] = []
    numbers = itertools.count(1)

    async def endpoint(request: Request) -> Response:
        seen.append((request.url.path, request.headers["requestNo"]))
        if request.url.path == "/v1/auth/token":
            return JSONResponse(
                {
                    "code": "SUCCESS",
                    "message": "ok",
                    "data": {"token": f"T{next(numbers)}", "expire": 7200, "tokenType": "Bearer"},
                }
            )
        return JSONResponse({"code": "UNAUTHORIZED", "message": "token invalid"}, status_code=401)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])
    creds = V1Credentials.from_text("C1", "secret", "hmac", "AAAAAAAAAAAAAAAAAAAAAA==")
    with ThreadedServer(app) as server:
        async with WhaletClient(server.url, "P1", V1Transport(server.url, "P1", creds)) as whalet:
            with pytest.raises(AuthenticationFailed) as refused:
                await whalet.connectivity("hi")
    assert refused.value.code == "UNAUTHORIZED"
    calls = [no for path, no in seen if path == "/v1/connectivity/connectivity"]
    assert [path for path, _ in seen].count("/v1/auth/token") == 2 and len(calls) == 2 and len(set(calls)) == 2


async def test_wrong_client_secret_is_an_authentication_error_and_nothing_sent(sandbox: RunningSandbox) -> None:
    creds = sandbox.sandbox.v1_credentials
    assert creds is not None
    wrong = V1Transport(
        sandbox.url,
        sandbox.partner_id,
        V1Credentials.from_text(creds.client_id, "not-the-secret", creds.hmac_key, creds.aes_key),
    )
    async with client(sandbox, wrong) as whalet:
        with pytest.raises(AuthenticationFailed, match="UNAUTHORIZED"):
            await whalet.payout_confirm(USER, "PO1")
    assert sandbox.sandbox.state.answers == {}


async def test_wrong_hmac_key_is_refused_as_a_bad_signature(sandbox: RunningSandbox) -> None:
    creds = sandbox.sandbox.v1_credentials
    assert creds is not None
    wrong = V1Transport(
        sandbox.url,
        sandbox.partner_id,
        V1Credentials.from_text(creds.client_id, creds.secret_key, "another-hmac-key", creds.aes_key),
    )
    async with client(sandbox, wrong) as whalet:
        with pytest.raises(AuthenticationFailed, match="UNAUTHENTICATED_ERROR"):
            await whalet.connectivity("hi")


async def test_account_numbers_travel_encrypted_and_arrive_intact(sandbox: RunningSandbox) -> None:
    async with client(sandbox) as whalet:
        result = await whalet.beneficiary_apply(
            USER,
            "MB1",
            "HK",
            "HKD",
            "Acme Trading Ltd",
            "123456789012",
            "HSBC Hong Kong",
            swift_code="HSBCHKHHHKH",
            extra={"bankCode": "004"},
        )
    mine = sandbox.sandbox.state.beneficiaries.records[result.beneficiary_id]
    assert mine["accountNo"] == "123456789012" and "encryptedAccountNo" not in mine


async def test_a_plain_account_number_is_refused_by_a_gateway_that_wants_it_encrypted(sandbox: RunningSandbox) -> None:
    plain = sandbox.partner_transport(encrypted_fields=[])
    async with client(sandbox, plain) as whalet:
        with pytest.raises(BadParameters, match="accountNo must travel encrypted"):
            await whalet.beneficiary_apply(
                USER, "MB1", "HK", "HKD", "Acme", "123456789012", "HSBC", extra={"bankCode": "004"}
            )


@pytest.mark.parametrize("whalet_protocol", ["legacy", "v1"])
async def test_amounts_as_strings_when_the_gateway_wants_strings(make_sandbox: Callable[..., RunningSandbox]) -> None:
    sandbox = make_sandbox(amounts="string")
    async with client(sandbox) as whalet:
        with pytest.raises(BadParameters, match="amount must be a JSON string"):
            await whalet.payout_apply(USER, new_order_no("T"), "B2C", Money.of("10.00", "USD"), "HKD", "BEN001", "x")
    transport = sandbox.partner_transport()
    transport.amounts = "string"
    async with client(sandbox, transport) as whalet:
        applied = await whalet.payout_apply(
            USER, new_order_no("T"), "B2C", Money.of("10.50", "USD"), "HKD", "BEN001", "x"
        )
    assert applied.amount == Money(Decimal("10.50"), "USD")


@pytest.mark.parametrize("url", ["https://open.whalet.com", "https://gateway.whalet.invalid"])
async def test_money_waits_for_the_switch_on_a_gateway_that_may_be_production(url: str) -> None:
    creds = V1Credentials.from_text("C1", "secret", "hmac", "AAAAAAAAAAAAAAAAAAAAAA==")
    async with WhaletClient(url, "P1", V1Transport(url, "P1", creds)) as whalet:
        for call in (
            lambda: whalet.payout_confirm(USER, "PO1"),
            lambda: whalet.pay_confirm(USER, "PY1"),
            lambda: whalet.beneficiary_delete(USER, "BEN1"),
            lambda: whalet.payout_apply(USER, "O1", "B2C", Money.of("1", "USD"), "HKD", "B", "x"),
            lambda: whalet.pay_apply(USER, "O2", "U2", Money.of("1", "USD"), "x"),
        ):
            with pytest.raises(MoneySwitchedOff) as refused:
                await call()
            assert "money_enabled = true" in refused.value.sentence and not refused.value.transient
    async with WhaletClient(url, "P1", V1Transport(url, "P1", creds), money_enabled=True, read_retries=0) as whalet:
        with pytest.raises(RequestNotSent) as switched_on:  # past the switch: now it tries the network
            await whalet.payout_confirm(USER, "PO1")
        assert not isinstance(switched_on.value, MoneySwitchedOff)


@pytest.mark.parametrize(
    "url,guarded",
    [
        ("http://127.0.0.1:8700/api", False),
        ("http://[::1]:8700", False),
        ("http://localhost:8700", False),
        ("http://sandbox.localhost/api", False),
        ("https://test-open.whalet.com/api", False),
        ("https://TEST-OPEN.whalet.com.", False),
        ("https://open.whalet.com/api", True),
        ("http://sandbox/api", True),
        ("https://test-open.whalet.com.evil.example/api", True),
        ("http://127.0.0.1.nip.io/api", True),
    ],
)
def test_which_gateways_need_the_switch(url: str, guarded: bool) -> None:
    assert money_needs_switch(url) is guarded


async def test_a_refused_account_number_is_never_echoed_in_clear_or_sealed(sandbox: RunningSandbox) -> None:
    """The sandbox decrypts ``encryptedAccountNo`` to check it; its refusal names the field and
    the rule, never the value (it echoed the decrypted number in clear)."""
    transport = sandbox.partner_transport()
    creds = sandbox.sandbox.v1_credentials
    assert creds is not None
    for bad in ("12-34-5678-9999", "ACCT99887766", "1" * 40):
        sealed = base64.b64encode(aes_ecb_encrypt(creds.aes_key_bytes, bad.encode())).decode()
        async with client(sandbox, transport) as whalet:
            with pytest.raises(BadParameters) as refused:
                await whalet.beneficiary_apply(USER, "MB9", "HK", "HKD", "Acme", bad, "HSBC", extra={"bankCode": "004"})
        said = str(refused.value)
        assert "accountNo" in said and bad not in said and sealed not in said, said
