"""What both of the sandbox's front doors share: de-duplication, the operations, injected faults.

The legacy gateway (``gateway.py``) and the REST v1 gateway (``v1_gateway.py``) differ only in how
a request is read and an answer written; what Whalet DOES with a request is decided here once, so
both profiles obey the same rules and the same faults.
"""

from __future__ import annotations

import asyncio
import time
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import PlainTextResponse, Response

from .faults import FaultRule, Faults
from .operations import CONFIRMS, OPERATIONS
from .state import State
from .wire import GatewayError

log = logging.getLogger(__name__)
SUCCESS_DETAIL = "成功"


@dataclass(frozen=True)
class Outcome:
    """A result code, its detail and (for SUCCESS) the business answer; encoded by each profile."""

    code: str
    detail: str
    result: Any = None


Refuse = Callable[[str, str], Response]


class Dispatcher:
    def __init__(self, state: State, faults: Faults) -> None:
        self.state = state
        self.faults = faults

    def confirm_started(self, api_code: str, body: Any) -> list[float | None] | None:
        """Record the start of a confirm call's handler on its order (see Order.confirm_spans);
        the gateway calls ``confirm_finished`` with the result when the handler ends."""
        id_field = CONFIRMS.get(api_code)
        order = self.state.orders.orders.get(str(body.get(id_field))) if id_field and isinstance(body, dict) else None
        if order is None:
            return None
        span: list[float | None] = [time.monotonic(), None]
        order.confirm_spans.append(span)
        return span

    @staticmethod
    def confirm_finished(span: list[float | None] | None) -> None:
        if span is not None:
            span[1] = time.monotonic()

    def process(self, api_code: str, request_no: str, body: Any, head: dict[str, str]) -> Outcome:
        """Synchronous, hence atomic within the loop: de-duplicate, run, remember the outcome."""
        stored = self.state.answers.get(request_no)
        if stored is not None:
            if stored[0] == api_code and stored[1] == body:
                if api_code in CONFIRMS and isinstance(body, dict):
                    self.state.orders.count_replayed_confirm(str(body.get(CONFIRMS[api_code])))
                outcome: Outcome = stored[2]
                return outcome
            return Outcome("REQUEST_NO_NOT_UNIQUE", f"requestNo {request_no} was already used with other content")
        handler = OPERATIONS.get(api_code)
        try:
            if handler is None:
                raise GatewayError("INTERFACE_UNAUTHORIZED", f"apiCode {api_code} is not open to this partner")
            outcome = Outcome("SUCCESS", SUCCESS_DETAIL, handler(self.state, self.state.body(body), head))
        except GatewayError as exc:
            outcome = Outcome(exc.code, exc.detail)
        except Exception:  # a sandbox bug must still look like Whalet: INTERNAL_ERROR, not a traceback
            log.exception("sandbox handler %s failed", api_code)
            return Outcome("INTERNAL_ERROR", "internal error")
        self.state.answers[request_no] = (api_code, body, outcome)
        return outcome


def read_amounts(body: Any, style: str) -> Any:
    """Strict about how request amounts are written: the configured style only (``amounts``)."""
    value = body.get("amount") if isinstance(body, dict) else None
    if value is None or style != "string":
        return body
    if not isinstance(value, str):
        raise GatewayError("PARAMETER_ERROR", 'amount must be a JSON string here, e.g. "1000.50"')
    try:
        return {**body, "amount": Decimal(value)}
    except InvalidOperation:
        raise GatewayError("PARAMETER_ERROR", f"amount {value!r} is not a decimal") from None


async def fault_before(fault: FaultRule | None, refuse: Refuse) -> Response | None:
    """The faults that strike before the operation runs (nothing done)."""
    if fault is None:
        return None
    if fault.kind == "latency":
        await asyncio.sleep(fault.seconds)
    elif fault.kind == "timeout_before_apply":
        await asyncio.sleep(fault.seconds)
        return PlainTextResponse("gateway timeout (sandbox fault, nothing done)", status_code=504)
    elif fault.kind == "http_500":
        return PlainTextResponse("internal server error (sandbox fault, nothing done)", status_code=500)
    elif fault.kind == "too_many_requests":
        return refuse("TOO_MANY_REQUESTS", "too many requests, slow down")
    elif fault.kind == "refuse" and fault.code:
        return refuse(fault.code, _refusal(fault.code, "nothing done"))
    return None


def as_faulted(fault: FaultRule | None, outcome: Outcome) -> Outcome:
    """The outcome as the after-apply answer faults change it (the operation has run either way)."""
    if fault is None or outcome.code != "SUCCESS":
        return outcome
    if fault.kind == "refuse_after_apply" and fault.code:
        return Outcome(fault.code, _refusal(fault.code, "operation done"))
    if fault.kind == "rewrite_answer" and fault.fields:
        return Outcome(outcome.code, outcome.detail, _overlaid(outcome.result, fault.fields))
    return outcome


def _refusal(code: str, what: str) -> str:
    """The detail of a ``refuse`` / ``refuse_after_apply`` answer: ``idempotent error (sandbox fault, ...)``."""
    return f"{code.lower().replace('_', ' ')} (sandbox fault, {what})"


def _overlaid(result: Any, fields: dict[str, Any]) -> Any:
    if isinstance(result, dict) and isinstance(result.get("records"), list):
        return {**result, "records": [_overlaid(r, fields) for r in result["records"]]}
    if isinstance(result, dict):
        return {**result, **fields}
    if isinstance(result, list):
        return [_overlaid(r, fields) for r in result]
    return result


async def fault_after(fault: FaultRule | None, answer: Callable[[bool], Response]) -> Response:
    """The faults that strike after the operation ran; ``answer(corrupt)`` writes the answer."""
    if fault is not None and fault.kind == "timeout_after_apply":
        await asyncio.sleep(fault.seconds)
    elif fault is not None and fault.kind == "http_500_after_apply":
        return PlainTextResponse("internal server error (sandbox fault, operation done)", status_code=500)
    return answer(fault is not None and fault.kind == "bad_signature")
