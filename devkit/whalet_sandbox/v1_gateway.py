"""``POST /v1/...``: Whalet's REST v1 front door (protocol spec §9), as the sandbox reads it.

Order of checks: headers -> partnerId -> timestamp window -> signature -> JSON body -> token
(``POST /v1/auth/token`` issues one) -> the path's operation -> encrypted fields -> injected faults
-> the shared dispatcher (de-duplication, the operation). Answers are ``{code, message, data}``
with money as plain decimals; a missing, unknown or expired token is HTTP 401 ``UNAUTHORIZED``
and nothing is done.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from whalet.envelope import (
    MalformedEnvelope,
    aes_ecb_decrypt,
    dumps_compact,
    loads_exact,
)

from .dispatch import Dispatcher, Outcome, as_faulted, fault_after, fault_before, read_amounts
from .v1_recipe import SandboxV1Recipe, V1Credentials
from .wire import GatewayError

WINDOW_S = 300
TOKEN_TYPE = "Bearer"
MONEY_KEYS = frozenset({"amount", "cent", "centFactor", "currency"})


def plain_money(value: Any) -> Any:
    """Money objects become plain decimals (v1 writes ``328.56``); everything else as it is."""
    if isinstance(value, dict):
        if set(value) == MONEY_KEYS:
            return value["amount"]
        return {key: plain_money(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_money(item) for item in value]
    return value


def answer(code: str, message: str, data: Any = None, status: int = 200) -> Response:
    body = {"code": code, "message": message, "data": plain_money(data)}
    return Response(dumps_compact(body), status_code=status, media_type="application/json; charset=utf-8")


class V1Gateway:
    def __init__(
        self,
        dispatcher: Dispatcher,
        recipe: SandboxV1Recipe,
        credentials: V1Credentials,
        latency_ms: int,
        *,
        token_ttl_s: int = 7200,
        amounts: str = "number",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.dispatcher = dispatcher
        self.recipe = recipe
        self.credentials = credentials
        self.latency_s = latency_ms / 1000
        self.token_ttl_s = token_ttl_s
        self.amounts = amounts
        self.wall_clock = wall_clock
        self.tokens: dict[str, float] = {}  # token -> wall-clock expiry
        self.tokens_issued = 0
        self.paths = recipe.path_table()

    def revoke_tokens(self) -> int:
        count = len(self.tokens)
        self.tokens.clear()
        return count

    def _answer(self, code: str, message: str, data: Any = None, status: int = 200) -> Response:
        """Whalet's answer; with ``errors = "body"`` every refusal is HTTP 200 too."""
        return answer(code, message, data, 200 if self.recipe.errors == "body" else status)

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        headers = request.headers
        partner_id, request_no, stamp = (
            headers.get("partnerId", ""),
            headers.get("requestNo", ""),
            headers.get("timestamp", ""),
        )
        if not partner_id or not request_no or not stamp:
            return self._answer(
                "PARAMETER_ERROR", "the headers partnerId, requestNo and timestamp are required", status=400
            )
        if partner_id != self.credentials.partner_id:
            return self._answer("PARTNER_NOT_EXIST", f"partner {partner_id} does not exist")
        if not stamp.isdigit() or abs(self.wall_clock() - self.recipe.seconds(stamp)) > WINDOW_S:
            return self._answer(
                "PARAMETER_ERROR", f"timestamp must be epoch {self.recipe.timestamp_unit} within 5 minutes"
            )
        if self.recipe.request_signature and not self._signed(
            headers.get(self.recipe.sign_header, ""), partner_id, request_no, stamp, raw
        ):
            return self._answer("UNAUTHENTICATED_ERROR", "signature verification failed")
        try:
            body = loads_exact(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if body == []:  # an empty request written as an empty array, as some clients do
            body = {}
        if not isinstance(body, dict):
            return self._answer("PARAMETER_ERROR", "the body must be a JSON object")
        path = request.url.path
        if path == self.recipe.token_path:
            return self._issue_token(body)
        api_code = self.paths.get(path)
        if api_code is None:
            return self._answer("INTERFACE_UNAUTHORIZED", f"no operation at {path}", status=404)
        if not self._token_ok(headers.get("Authorization", "")):
            return self._answer("UNAUTHORIZED", "the token is missing, unknown or expired", status=401)
        try:
            body = self._decrypt_fields(read_amounts(body, self.amounts))
        except ValueError as exc:
            return self._answer("PARAMETER_ERROR", str(exc))
        except GatewayError as exc:
            return self._answer(exc.code, exc.detail)
        span = self.dispatcher.confirm_started(api_code, body)
        try:
            fault = self.dispatcher.faults.pick(api_code, request_no)
            early = await fault_before(fault, lambda code, detail: self._answer(code, detail))
            if early is not None:
                return early
            head = {"partnerId": partner_id, "apiCode": api_code, "requestNo": request_no}
            outcome: Outcome = as_faulted(fault, self.dispatcher.process(api_code, request_no, body, head))
            return await fault_after(fault, lambda corrupt: self._write(outcome, corrupt))
        finally:
            self.dispatcher.confirm_finished(span)

    def _write(self, outcome: Outcome, corrupt: bool) -> Response:
        if corrupt:  # v1 answers carry no signature: the bad_signature fault garbles the answer instead
            return Response(b'{"code":"SUCCESS","message":"', media_type="application/json")
        return self._answer(
            outcome.code, outcome.detail, outcome.result if outcome.code in ("SUCCESS", "PROCESSING") else None
        )

    def _signed(self, given: str, partner_id: str, request_no: str, stamp: str, raw: bytes) -> bool:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        expected = self.recipe.signature(
            self.credentials.hmac_key,
            self.recipe.sign_template,
            {"partnerId": partner_id, "requestNo": request_no, "timestamp": stamp, "body": text},
        )
        return bool(given) and hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))

    def _issue_token(self, body: dict[str, Any]) -> Response:
        if body.get("clientId") != self.credentials.client_id or not hmac.compare_digest(
            str(body.get("secretKey", "")).encode(), self.credentials.secret_key.encode()
        ):
            return self._answer("UNAUTHORIZED", "clientId or secretKey is wrong", status=401)
        token = secrets.token_urlsafe(24)
        now = self.wall_clock()
        self.tokens = {t: until for t, until in self.tokens.items() if until > now}
        self.tokens[token] = now + self.token_ttl_s
        self.tokens_issued += 1
        return self._answer("SUCCESS", "成功", {"token": token, "expire": self.token_ttl_s, "tokenType": TOKEN_TYPE})

    def _token_ok(self, authorization: str) -> bool:
        kind, _, token = authorization.partition(" ")
        until = self.tokens.get(token)
        return kind == TOKEN_TYPE and until is not None and until > self.wall_clock()

    def _decrypt_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in self.recipe.encrypted_fields:
            sealed_name = "encrypted" + name[0].upper() + name[1:]
            if name in body:
                raise ValueError(f"{name} must travel encrypted, as {sealed_name}")
            if sealed_name not in body:
                continue
            try:
                plain = aes_ecb_decrypt(
                    self.credentials.aes_key_bytes, base64.b64decode(str(body[sealed_name]), validate=True)
                )
                body = {**{k: v for k, v in body.items() if k != sealed_name}, name: plain.decode("utf-8")}
            except (binascii.Error, MalformedEnvelope, UnicodeDecodeError):
                raise ValueError(f"{sealed_name} cannot be decrypted with the aesKey") from None
        return body
