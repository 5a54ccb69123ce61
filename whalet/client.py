"""The partner side of the Whalet Open API: one async method per operation (spec §4).

Every call goes through ``call()``: seal the body with the envelope codec, POST it to the one
gateway URL, verify and open the answer, and turn every failure into exactly one branch of
``whalet.errors`` (RequestNotSent / WhaletRejected / OutcomeUnknown), because that branch is what
decides whether pressing the button again could pay twice.

Retries: read-only queries retry ``RequestNotSent`` and ``RateLimited`` with exponential backoff
and jitter. After ``RequestNotSent`` the retry keeps the SAME requestNo: the content is identical,
so if the first attempt did reach Whalet after all, Whalet replays its original answer instead of
acting twice or answering REQUEST_NO_NOT_UNIQUE. After ``RateLimited`` the retry takes a NEW
requestNo, because Whalet did receive the first one and would replay its TOO_MANY_REQUESTS
answer for it. Money-moving and other writing calls never retry on their own: the caller decides,
after looking the order up.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from whalet import models as m
from whalet.envelope import EnvelopeCodec, Opened
from whalet.errors import (
    MoneySwitchedOff,
    OutcomeUnknown,
    RateLimited,
    RequestNotSent,
    WhaletError,
)
from whalet.gateways import money_needs_switch
from whalet.ids import new_order_no, new_request_no
from whalet.money import Money
from whalet.operations import OPERATIONS, Operation, resolve_api_codes
from whalet.tls import shared_tls
from whalet.transport import LegacyTransport, Transport

__all__ = ["WhaletClient", "new_order_no", "new_request_no"]

log = logging.getLogger("whalet.client")
POOL_SHARD_SIZE = 25
T = TypeVar("T")


def _readable(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
    )


class WhaletClient:
    """``async with WhaletClient(url, partner_id, codec) as whalet: await whalet.connectivity("hi")``.

    ``codec`` is the legacy envelope codec, or any ``whalet.transport.Transport`` (then ``base_url``
    and ``partner_id`` are the transport's). ``money_enabled``: the live-money switch; calls that
    move money or change beneficiaries are refused before anything is sent unless the gateway is
    on loopback or Whalet's test host, or the switch is on.
    """

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        codec: EnvelopeCodec | Transport,
        *,
        api_codes: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        read_retries: int = 3,
        backoff_base: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: Callable[[str, str, float], None] | None = None,
        max_connections: int = 256,
        money_enabled: bool = False,
    ):
        self.protocol: Transport = (
            codec if isinstance(codec, Transport) else LegacyTransport(base_url, partner_id, codec)
        )
        self.url = self.protocol.base_url
        self.partner_id = self.protocol.partner_id
        self.api_codes = resolve_api_codes(api_codes)
        self.money_enabled = money_enabled
        self.money_guarded = money_needs_switch(self.url) and not money_enabled
        self._read_retries = read_retries
        self._backoff_base = backoff_base
        # httpcore's pool matches every waiting request against every connection on each event,
        # which grows with the square of the calls in flight: 200 concurrent balance queries spent
        # seconds in it. Small pools, used in turn, keep that cost flat.
        shards = max(1, -(-max_connections // POOL_SHARD_SIZE))
        per_shard = -(-max_connections // shards)
        # One TLS context for every pool and client of the process (whalet/tls.py); none with a
        # transport of the caller's, which brings its own.
        tls: ssl.SSLContext | bool = shared_tls() if transport is None else True
        self._pools = [
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout),
                transport=transport,
                verify=tls,
                limits=httpx.Limits(max_connections=per_shard, max_keepalive_connections=min(10, per_shard)),
            )
            for _ in range(shards)
        ]
        self._next_pool = itertools.cycle(self._pools)
        self._on_call = on_call  # (operation, outcome, seconds): metrics without coupling to them

    async def __aenter__(self) -> WhaletClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    async def prepare(self) -> None:
        """Do what the profile needs before a first call (v1: obtain a token); raises WhaletError."""
        await self.protocol.prepare(self._post)

    # --- the one path every call takes ---------------------------------------------------------

    async def call(self, operation: str, body: m.Outbound | dict[str, Any] | None) -> Opened:
        """Send one operation; returns the opened answer (code SUCCESS or PROCESSING) or raises."""
        op = OPERATIONS[operation]
        if op.is_notification:
            raise ValueError(f"{operation} is a notification Whalet sends, not an operation we call")
        if op.moves_money and self.money_guarded:
            raise MoneySwitchedOff(self.url, api_code=self.api_codes[op.name])
        wire = body.to_wire() if isinstance(body, m.Outbound) else body
        request_no = new_request_no()
        attempt = 0
        while True:
            try:
                return await self._send_once(op, wire, request_no)
            except (RequestNotSent, RateLimited, OutcomeUnknown) as exc:
                retryable = op.read_only and attempt < self._read_retries
                if not retryable or (isinstance(exc, RequestNotSent) and not exc.transient):
                    raise
                if isinstance(exc, OutcomeUnknown) and not exc.lost_in_transit:
                    raise
                if isinstance(exc, RateLimited):
                    request_no = new_request_no()
                await asyncio.sleep(self._backoff_base * 2**attempt * random.uniform(0.5, 1.5))
                attempt += 1

    async def _send_once(self, op: Operation, body: Any, request_no: str) -> Opened:
        api_code = self.api_codes[op.name]
        started = time.perf_counter()
        outcome = "ok"
        try:
            opened = await self.protocol.exchange(self._post, op, api_code, request_no, body)
            outcome = opened.head.get("code", "")
            return opened
        except WhaletError as exc:
            outcome = (
                "bad_signature"
                if getattr(exc, "signature_failed", False)
                else f"{type(exc).__name__} {getattr(exc, 'code', '')}".strip()
            )
            raise
        finally:
            elapsed = time.perf_counter() - started
            log.debug("whalet %s requestNo=%s %.0fms %s", op.name, request_no, elapsed * 1000, outcome)
            if self._on_call is not None:
                self._on_call(op.name, outcome.split(" ")[0] or "ok", elapsed)

    async def _post(
        self, url: str, content: bytes, headers: Mapping[str, str], *, api_code: str, request_no: str
    ) -> httpx.Response:
        """One POST; a failure becomes the error branch that says whether Whalet may have acted."""
        try:
            return await next(self._next_pool).post(url, content=content, headers=dict(headers))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
            raise RequestNotSent(
                f"{api_code} not sent: {type(exc).__name__}: {exc}", api_code=api_code, request_no=request_no
            ) from exc
        except httpx.TransportError as exc:  # read/write timeout, cut connection, protocol error
            raise OutcomeUnknown(
                f"{api_code} sent, no answer: {type(exc).__name__}: {exc}",
                lost_in_transit=True,
                api_code=api_code,
                request_no=request_no,
            ) from exc

    async def _typed(self, operation: str, request: Callable[[], m.Outbound], parse: Callable[[Any], T]) -> T:
        """Build the request (bad arguments: RequestNotSent), call, parse the answer (unreadable: OutcomeUnknown)."""
        try:
            body = request()
        except ValueError as exc:  # pydantic's ValidationError included: bad arguments, nothing sent
            reason = _readable(exc) if isinstance(exc, ValidationError) else str(exc)
            raise RequestNotSent(reason, transient=False, api_code=operation) from exc
        opened = await self.call(operation, body)
        try:
            return parse(opened.body)
        except (ValidationError, ValueError) as exc:
            raise OutcomeUnknown(
                f"{operation}: Whalet's answer cannot be read: {exc}",
                api_code=operation,
                request_no=opened.head.get("requestNo"),
            ) from exc

    @staticmethod
    def _one(model: type[BaseModel], **defaults: Any) -> Callable[[Any], Any]:
        """Parse one object; ``defaults`` fill fields the answer may leave out (e.g. currencies we sent)."""

        def parse(body: Any) -> Any:
            if body is not None and not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            return model.model_validate({**{k: v for k, v in defaults.items() if v is not None}, **(body or {})})

        return parse

    # --- balances and rates ------------------------------------------------------------------------

    async def query_currency_balance(
        self, user_id: str, fund_source: str, currency: str | None = None
    ) -> list[m.CurrencyBalance]:
        return await self._typed(
            "queryCurrencyBalance",
            lambda: m.CurrencyBalanceQuery(user_id=user_id, fund_source=m.FundSource(fund_source), currency=currency),
            m.parse_balances,
        )

    async def query_platform_balance(
        self, fund_source: str | None = None, currency: str | None = None
    ) -> list[m.CurrencyBalance]:
        return await self._typed(
            "queryPlatformBalance",
            lambda: m.PlatformBalanceQuery(
                fund_source=m.FundSource(fund_source) if fund_source else None, currency=currency
            ),
            m.parse_balances,
        )

    async def query_rate(self, user_id: str, currency: str, to_currency: str, fund_source: str) -> m.RateQuote:
        return await self._typed(
            "queryRate",
            lambda: m.RateQuery(
                user_id=user_id, currency=currency, to_currency=to_currency, fund_source=m.FundSource(fund_source)
            ),
            self._one(m.RateQuote),
        )

    # --- payouts and pays (money-moving: never retried here) ---------------------------------------

    async def payout_apply(
        self,
        user_id: str,
        mer_order_no: str,
        fund_source: str,
        amount: Money,
        to_currency: str,
        beneficiary_id: str,
        purpose: str,
        *,
        rate_id: str | None = None,
        remark: str | None = None,
    ) -> m.PayoutApplyResult:
        return await self._typed(
            "payoutApply",
            lambda: m.PayoutApplyRequest(
                user_id=user_id,
                mer_order_no=mer_order_no,
                fund_source=m.FundSource(fund_source),
                amount=amount,
                to_currency=to_currency,
                beneficiary_id=beneficiary_id,
                purpose=purpose,
                rate_id=rate_id,
                remark=remark,
            ),
            self._one(m.PayoutApplyResult, currency=amount.currency, toCurrency=to_currency),
        )

    async def payout_confirm(self, user_id: str, payout_id: str) -> m.PayoutConfirmResult:
        return await self._typed(
            "payoutConfirm",
            lambda: m.PayoutConfirmRequest(user_id=user_id, payout_id=payout_id),
            self._one(m.PayoutConfirmResult, payoutId=payout_id),
        )

    async def pay_apply(
        self,
        user_id: str,
        mer_order_no: str,
        payee_user_id: str,
        amount: Money,
        purpose: str,
        *,
        remark: str | None = None,
    ) -> m.PayApplyResult:
        return await self._typed(
            "payApply",
            lambda: m.PayApplyRequest(
                user_id=user_id,
                mer_order_no=mer_order_no,
                payee_user_id=payee_user_id,
                amount=amount,
                purpose=purpose,
                remark=remark,
            ),
            self._one(m.PayApplyResult, currency=amount.currency),
        )

    async def pay_confirm(self, user_id: str, pay_id: str) -> m.PayConfirmResult:
        return await self._typed(
            "payConfirm",
            lambda: m.PayConfirmRequest(user_id=user_id, pay_id=pay_id),
            self._one(m.PayConfirmResult, payId=pay_id),
        )

    # --- beneficiaries -----------------------------------------------------------------------------

    async def query_beneficiary_countries(self) -> list[m.BeneficiaryCountry]:
        return await self._typed(
            "queryBeneficiaryCountries",
            m.BeneficiaryCountriesQuery,
            lambda body: [m.BeneficiaryCountry.model_validate(r) for r in m.rows_of(body)],
        )

    async def query_beneficiary_fields(self, country: str, currency: str) -> list[m.BeneficiaryField]:
        return await self._typed(
            "queryBeneficiaryFields",
            lambda: m.BeneficiaryFieldsQuery(country=country, currency=currency),
            lambda body: [m.BeneficiaryField.model_validate(r) for r in m.rows_of(body)],
        )

    async def beneficiary_apply(
        self,
        user_id: str,
        mer_beneficiary_no: str,
        country: str,
        currency: str,
        account_name: str,
        account_no: str,
        bank_name: str,
        *,
        swift_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> m.BeneficiaryApplyResult:
        return await self._typed(
            "beneficiaryApply",
            lambda: m.BeneficiaryApplyRequest(
                user_id=user_id,
                mer_beneficiary_no=mer_beneficiary_no,
                country=country,
                currency=currency,
                account_name=account_name,
                account_no=account_no,
                bank_name=bank_name,
                swift_code=swift_code,
                extra=extra or {},
            ),
            self._one(m.BeneficiaryApplyResult),
        )

    async def beneficiary_delete(self, user_id: str, beneficiary_id: str) -> m.BeneficiaryDeleteResult:
        return await self._typed(
            "beneficiaryDelete",
            lambda: m.BeneficiaryDeleteRequest(user_id=user_id, beneficiary_id=beneficiary_id),
            self._one(m.BeneficiaryDeleteResult, beneficiaryId=beneficiary_id),
        )

    # --- record queries ------------------------------------------------------------------------------

    async def _records(
        self,
        operation: str,
        user_id: str,
        start: datetime | str,
        end: datetime | str,
        status: str | None,
        mer_order_no: str | None,
        page_num: int,
        page_size: int,
    ) -> m.RecordPage:
        return await self._typed(
            operation,
            lambda: m.RecordQuery(
                user_id=user_id,
                start_time=m.parse_whalet_time(start),
                end_time=m.parse_whalet_time(end),
                status=status,
                mer_order_no=mer_order_no,
                page_num=page_num,
                page_size=page_size,
            ),
            self._one(m.RecordPage, total=0, pageNum=page_num, pageSize=page_size),
        )

    async def query_collection_records(
        self,
        user_id: str,
        start: datetime | str,
        end: datetime | str,
        status: str | None = None,
        mer_order_no: str | None = None,
        page_num: int = 1,
        page_size: int = 10,
    ) -> m.RecordPage:
        return await self._records(
            "queryCollectionRecords", user_id, start, end, status, mer_order_no, page_num, page_size
        )

    async def query_withdraw_records(
        self,
        user_id: str,
        start: datetime | str,
        end: datetime | str,
        status: str | None = None,
        mer_order_no: str | None = None,
        page_num: int = 1,
        page_size: int = 10,
    ) -> m.RecordPage:
        return await self._records(
            "queryWithdrawRecords", user_id, start, end, status, mer_order_no, page_num, page_size
        )

    async def query_payment_records(
        self,
        user_id: str,
        start: datetime | str,
        end: datetime | str,
        status: str | None = None,
        mer_order_no: str | None = None,
        page_num: int = 1,
        page_size: int = 10,
    ) -> m.RecordPage:
        return await self._records(
            "queryPaymentRecords", user_id, start, end, status, mer_order_no, page_num, page_size
        )

    async def query_pay_records(
        self,
        user_id: str,
        start: datetime | str,
        end: datetime | str,
        status: str | None = None,
        mer_order_no: str | None = None,
        page_num: int = 1,
        page_size: int = 10,
    ) -> m.RecordPage:
        return await self._records("queryPayRecords", user_id, start, end, status, mer_order_no, page_num, page_size)

    # --- replenish, connectivity, mock ---------------------------------------------------------------

    async def edd_replenish_query(self, user_id: str, replenish_id: str | None = None) -> list[m.ReplenishItem]:
        return await self._typed(
            "eddReplenishQuery",
            lambda: m.EddReplenishQueryRequest(user_id=user_id, replenish_id=replenish_id),
            lambda body: [m.ReplenishItem.model_validate(r) for r in m.rows_of(body)],
        )

    async def edd_replenish_submit(
        self, user_id: str, replenish_id: str, materials: dict[str, Any] | list[Any], remark: str | None = None
    ) -> m.ReplenishSubmitResult:
        return await self._typed(
            "eddReplenishSubmit",
            lambda: m.EddReplenishSubmitRequest(
                user_id=user_id, replenish_id=replenish_id, materials=materials, remark=remark
            ),
            self._one(m.ReplenishSubmitResult, replenishId=replenish_id),
        )

    async def trade_replenish_submit(
        self,
        user_id: str,
        replenish_id: str,
        trade_id: str,
        materials: dict[str, Any] | list[Any],
        remark: str | None = None,
    ) -> m.ReplenishSubmitResult:
        return await self._typed(
            "tradeReplenishSubmit",
            lambda: m.TradeReplenishSubmitRequest(
                user_id=user_id, replenish_id=replenish_id, trade_id=trade_id, materials=materials, remark=remark
            ),
            self._one(m.ReplenishSubmitResult, replenishId=replenish_id),
        )

    async def trade_order_bind_apply(
        self,
        user_id: str,
        collection_id: str,
        trade_order_no: str,
        amount: Money,
        buyer_name: str,
        contract: dict[str, Any] | list[Any] | None = None,
    ) -> m.TradeOrderBindResult:
        """Whalet's Trade Order Bind Apply (provisional): the decision arrives as tradeOrderBindNotify."""
        return await self._typed(
            "tradeOrderBindApply",
            lambda: m.TradeOrderBindRequest(
                user_id=user_id,
                collection_id=collection_id,
                trade_order_no=trade_order_no,
                amount=amount,
                buyer_name=buyer_name,
                contract=contract,
            ),
            self._one(m.TradeOrderBindResult, tradeOrderNo=trade_order_no),
        )

    async def connectivity(self, message: str) -> str:
        result = await self._typed(
            "connectivity", lambda: m.ConnectivityRequest(message=message), self._one(m.ConnectivityResult)
        )
        return result.message

    async def mock_payee_notify(
        self, user_id: str, amount: Money, *, payer_name: str | None = None, virtual_account_no: str | None = None
    ) -> m.MockPayeeResult:
        """Test environment only: Whalet credits ``amount`` and sends collectionReceivedNotify."""
        return await self._typed(
            "mockPayeeNotify",
            lambda: m.MockPayeeNotifyRequest(
                user_id=user_id, amount=amount, payer_name=payer_name, virtual_account_no=virtual_account_no
            ),
            self._one(m.MockPayeeResult),
        )
