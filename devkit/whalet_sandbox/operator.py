"""Operator endpoints under ``/sandbox``: inspect state, trigger events, inject faults.

Plain JSON (amounts as strings, so no client ever reads them as floats), loopback clients only:
on a staging host these must not be reachable from outside.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from whalet.envelope import loads_exact
from whalet.money import to_decimal

from .clock import VirtualClock, wire_time
from .config import SandboxConfig
from .faults import Faults
from .ledger import q
from .notifier import Notifier
from .orders import order_record
from .state import State
from .wire import GatewayError
from .v1_gateway import V1Gateway

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class Sandbox(Protocol):
    """The parts of ``app.Sandbox`` the operator endpoints inspect and steer."""

    config: SandboxConfig
    clock: VirtualClock
    state: State
    faults: Faults
    notifier: Notifier
    v1_gateway: V1Gateway | None

    def set_webhook_url(self, url: str | None) -> None: ...

    def tick(self) -> None: ...


def plain_money(amount: Decimal, currency: str) -> str:
    """Operator JSON carries amounts as exact strings; each record names its currency."""
    return str(q(amount, currency))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def reply(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(_plain(value), ensure_ascii=False), status_code=status, media_type="application/json")


class OperatorError(Exception):
    pass


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = loads_exact(raw) if raw.strip() else {}
    except ValueError:
        raise OperatorError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise OperatorError("the body must be a JSON object")
    return data


def operator_routes(sb: Sandbox) -> list[Route]:
    state = sb.state

    def guard(handler: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.client is None or request.client.host not in LOOPBACK:
                return reply({"error": "operator endpoints answer loopback clients only"}, 403)
            try:
                result = await handler(request)
            except (OperatorError, ValueError) as exc:
                return reply({"error": str(exc)}, 400)
            except GatewayError as exc:
                return reply({"error": exc.detail, "code": exc.code}, 400)
            sb.tick()  # anything the call made due (clock moves, new notifications) goes now
            return reply(result)

        return endpoint

    async def health(request: Request) -> Any:
        health: dict[str, Any] = {
            "status": "ok",
            "partnerId": sb.config.partner_id,
            "now": wire_time(sb.clock.now()),
            "webhookUrl": sb.notifier.webhook_url,
            "protocol": sb.config.protocol,
        }
        if sb.v1_gateway is not None:
            health["tokensIssued"] = sb.v1_gateway.tokens_issued
        return health

    async def revoke_tokens(request: Request) -> Any:
        if sb.v1_gateway is None:
            raise OperatorError("tokens exist only in v1 mode (--protocol v1)")
        return {"revoked": sb.v1_gateway.revoke_tokens()}

    async def orders(request: Request) -> Any:
        kind = "payout" if request.url.path.endswith("payouts") else "pay"
        return {
            "records": [
                order_record(o, plain_money)
                | {"confirmCount": o.confirm_count, "overlappingConfirms": o.overlapping_confirms()}
                for o in state.orders.select(kind)
            ]
        }

    async def deliveries(request: Request) -> Any:
        return {"deliveries": sb.notifier.deliveries}

    async def notifications(request: Request) -> Any:
        return {"notifications": [n.public() for n in sb.notifier.notifications.values()]}

    async def balances(request: Request) -> Any:
        user_id = request.query_params.get("userId")
        if user_id is not None:
            state.ledger.check_user(user_id)
        rows = [
            {
                "userId": user,
                "fundSource": source,
                "currency": cur,
                "available": str(b.available),
                "pending": str(b.pending),
                "frozen": str(b.frozen),
                "orderQuota": str(b.order_quota),
            }
            for (user, source, cur), b in sorted(state.ledger.balances.items())
            if user_id in (None, user)
        ]
        return {"balances": rows}

    async def beneficiaries(request: Request) -> Any:
        return {"records": list(state.beneficiaries.records.values())}

    async def collect(request: Request) -> Any:
        data = await _json(request)
        if isinstance(data.get("amount"), str):
            data["amount"] = Decimal(data["amount"])
        body = state.body(data)
        currency = body.currency("currency")
        assert currency is not None
        record = state.collections.receive(
            body.req("userId", 30),
            body.fund_source(required=False, default="B2C"),
            currency,
            body.amount("amount", currency),
            body.text("payerName", required=False, max_len=140),
            body.text("virtualAccountNo", required=False, max_len=34),
        )
        return state.collections.wire(record) | {"amount": plain_money(record["amount"], currency)}

    async def users(request: Request) -> Any:
        data = await _json(request)
        rows = data.get("balances") or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise OperatorError("balances must be a list of objects")
        state.ledger.add_user(
            str(data.get("userId") or ""),
            str(data.get("name") or data.get("userId") or ""),
            [
                (
                    str(r.get("fundSource") or "B2C"),
                    str(r.get("currency") or ""),
                    to_decimal(r.get("available", 0)),
                    to_decimal(r.get("pending", 0)),
                    to_decimal(r.get("frozen", 0)),
                )
                for r in rows
            ],
        )
        return {"userId": data.get("userId"), "balances": len(rows)}

    async def replenish(request: Request) -> Any:
        if request.method == "GET":
            return {"records": [state.replenishments.public(r) for r in state.replenishments.records.values()]}
        data = await _json(request)
        materials = data.get("requiredMaterials")
        record = state.replenishments.request(
            str(data.get("kind", "")),
            str(data.get("userId", "")),
            data.get("reason"),
            list(materials) if materials else None,
            data.get("tradeType"),
            data.get("tradeId"),
        )
        return state.replenishments.public(record)

    async def replenish_result(request: Request) -> Any:
        data = await _json(request)
        record = state.replenishments.decide(
            request.path_params["replenish_id"], str(data.get("status", "")), data.get("remark")
        )
        return state.replenishments.public(record)

    async def trade_orders(request: Request) -> Any:
        return {"records": list(state.trade_orders.records.values())}

    async def trade_order_result(request: Request) -> Any:
        data = await _json(request)
        return state.trade_orders.decide(
            request.path_params["bind_id"], str(data.get("status", "")), data.get("remark")
        )

    async def notify(request: Request) -> Any:
        data = await _json(request)
        if not isinstance(data.get("apiCode"), str) or not isinstance(data.get("body"), dict):
            raise OperatorError("give apiCode (string) and body (object)")
        return {"requestNo": sb.notifier.enqueue(data["apiCode"], data["body"])}

    async def faults(request: Request) -> Any:
        if request.method == "POST":
            sb.faults.replace((await _json(request)).get("rules"))
        elif request.method == "DELETE":
            sb.faults.clear()
        return {"rules": [rule.public() for rule in sb.faults.rules], "fired": sb.faults.fired}

    async def config(request: Request) -> Any:
        data = await _json(request)
        if "webhook_url" in data:
            url = data["webhook_url"]
            if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                raise OperatorError("webhook_url must be an http(s) URL or null")
            sb.set_webhook_url(url)
        return {"webhook_url": sb.notifier.webhook_url}

    async def rates(request: Request) -> Any:
        """Move the market: ``{"currency": "HKD", "factor": "1.01"}`` makes one HKD worth 1 % more
        US dollars, so quotes made from now on move (tests of a rate that changed before release)."""
        data = await _json(request)
        currency = str(data.get("currency") or "")
        if currency not in state.ledger.usd_value or currency == "USD":
            raise OperatorError(
                f"currency must be one the sandbox quotes, other than USD: {sorted(state.ledger.usd_value)}"
            )
        factor = data.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, Decimal, str)):
            raise OperatorError("factor must be a positive number")
        factor = to_decimal(factor)
        if factor <= 0:
            raise OperatorError("factor must be a positive number")
        state.ledger.usd_value[currency] *= factor
        return {"currency": currency, "usd_value": str(state.ledger.usd_value[currency])}

    async def clock(request: Request) -> Any:
        if request.method == "POST":
            seconds = (await _json(request)).get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, Decimal)) or seconds < 0:
                raise OperatorError("advance_seconds must be a number >= 0")
            sb.clock.advance(float(seconds))
        return {"now": wire_time(sb.clock.now())}

    table: list[tuple[str, Callable[[Request], Awaitable[Any]], list[str]]] = [
        ("/sandbox/health", health, ["GET"]),
        ("/sandbox/payouts", orders, ["GET"]),
        ("/sandbox/pays", orders, ["GET"]),
        ("/sandbox/deliveries", deliveries, ["GET"]),
        ("/sandbox/notifications", notifications, ["GET"]),
        ("/sandbox/balances", balances, ["GET"]),
        ("/sandbox/beneficiaries", beneficiaries, ["GET"]),
        ("/sandbox/collect", collect, ["POST"]),
        ("/sandbox/users", users, ["POST"]),
        ("/sandbox/replenish", replenish, ["GET", "POST"]),
        ("/sandbox/replenish/{replenish_id}/result", replenish_result, ["POST"]),
        ("/sandbox/trade-orders", trade_orders, ["GET"]),
        ("/sandbox/trade-orders/{bind_id}/result", trade_order_result, ["POST"]),
        ("/sandbox/notify", notify, ["POST"]),
        ("/sandbox/faults", faults, ["GET", "POST", "DELETE"]),
        ("/sandbox/config", config, ["POST"]),
        ("/sandbox/clock", clock, ["GET", "POST"]),
        ("/sandbox/rates", rates, ["POST"]),
        ("/sandbox/tokens/revoke", revoke_tokens, ["POST"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
