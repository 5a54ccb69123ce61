"""The REST v1 profile (spec §9): an OAuth-style token, one path per operation, HMAC-signed headers.

Every call is a POST of the business JSON to its own path with the headers ``partnerId``,
``requestNo``, ``timestamp``, ``Authorization: <tokenType> <token>`` and (by default) an HMAC
signature. Answers are ``{code, message, data}``. The token is reused until 150 s before it
expires; a refused token (HTTP 401 or ``UNAUTHORIZED``) is fetched again once, and the call is
sent again under a NEW requestNo, because the refused one was not processed. The provisional
details are ``whalet.recipes.V1Recipe`` settings.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
from whalet.clock import epoch_seconds, monotonic
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from whalet.envelope import (
    MalformedEnvelope,
    Opened,
    SignatureInvalid,
    aes_ecb_encrypt,
    dumps_compact,
    loads_exact,
)
from whalet.errors import OutcomeUnknown, RequestNotSent, WhaletError, rejection_for
from whalet.ids import new_request_no
from whalet.operations import Operation
from whalet.recipes import V1Recipe, encrypted_name
from whalet.transport.base import (
    AmountStyle,
    NotificationAnswer,
    Poster,
    Transport,
    accepted,
)

TOKEN_REUSE_MARGIN_S = 150
WEBHOOK_WINDOW_S = 300
# The signed string joins its parts without separators, so each part's exact form is what keeps
# it unambiguous: an id is letters, digits, '-' and '_' (at most 30, the spec's limit) and the
# timestamp is epoch milliseconds (or seconds) with no leading zero, so no character can move
# from the end of one part to the start of the next and leave the signature valid.
ID_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}")
TIMESTAMP_FORMAT = {"ms": re.compile(r"[1-9][0-9]{12}"), "s": re.compile(r"[1-9][0-9]{9}")}
TOKEN_REFUSED = "UNAUTHORIZED"
HASHES = {"SHA256": hashlib.sha256, "SHA512": hashlib.sha512, "SHA1": hashlib.sha1}
JSON = "application/json; charset=utf-8"


class StaleNotification(MalformedEnvelope):
    """A webhook whose timestamp is more than five minutes away from our clock (a replay?)."""


@dataclass(frozen=True)
class V1Credentials:
    """What Whalet issues a v1 partner (besides the partner id); secrets never in repr."""

    client_id: str
    secret_key: str = field(repr=False)
    hmac_key: str = field(repr=False)
    aes_key: bytes = field(repr=False)

    @classmethod
    def from_text(cls, client_id: str, secret_key: str, hmac_key: str, aes_key: str) -> V1Credentials:
        return cls(client_id, secret_key, hmac_key, decode_aes_key(aes_key))


def decode_aes_key(text: str) -> bytes:
    """``aesKey`` is Base64 of 16 bytes (AES-128); ValueError with a sentence otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid Base64 (Whalet gives the AES key as Base64 of 16 bytes)") from None
    if len(key) != 16:
        raise ValueError(f"decodes to {len(key)} bytes; an AES-128 key is 16")
    return key


def hmac_sign(recipe: V1Recipe, key: str, template: str, parts: Mapping[str, str]) -> str:
    """The signature of ``template`` filled with ``parts``, keyed with ``hmacKey`` as UTF-8 bytes."""
    message = template.format_map(parts).encode("utf-8")
    digest = hmac.new(key.encode("utf-8"), message, HASHES[recipe.sign_hash]).digest()
    return digest.hex() if recipe.sign_encoding == "hex" else base64.b64encode(digest).decode("ascii")


@dataclass
class _Token:
    value: str
    kind: str
    good_until: float  # whalet.clock.monotonic()


class V1Transport(Transport):
    profile = "v1"

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        credentials: V1Credentials,
        recipe: V1Recipe | None = None,
        *,
        amounts: AmountStyle = "number",
        wall_clock: Callable[[], float] = epoch_seconds,
        new_request_no: Callable[[], str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.partner_id = partner_id
        self.credentials = credentials
        self.recipe = recipe or V1Recipe()
        self.amounts = amounts
        self._wall_clock = wall_clock
        self._new_request_no = new_request_no
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    def with_recipe(self, recipe: V1Recipe) -> V1Transport:
        return V1Transport(
            self.base_url,
            self.partner_id,
            self.credentials,
            recipe,
            amounts=self.amounts,
            wall_clock=self._wall_clock,
            new_request_no=self._new_request_no,
        )

    # --- requests --------------------------------------------------------------------------------

    def _timestamp(self) -> str:
        now = self._wall_clock()
        return str(int(now * 1000) if self.recipe.timestamp_unit == "ms" else int(now))

    def headers(self, request_no: str, content: bytes, token: _Token | None) -> dict[str, str]:
        """The three headers, the token and (by default) the HMAC signature over ``content``."""
        headers = {
            "Content-Type": JSON,
            "partnerId": self.partner_id,
            "requestNo": request_no,
            "timestamp": self._timestamp(),
        }
        if token is not None:
            headers["Authorization"] = f"{token.kind} {token.value}"
        if self.recipe.request_signature:
            parts = {
                "partnerId": self.partner_id,
                "requestNo": request_no,
                "timestamp": headers["timestamp"],
                "body": content.decode("utf-8"),
            }
            headers[self.recipe.sign_header] = hmac_sign(
                self.recipe, self.credentials.hmac_key, self.recipe.sign_template, parts
            )
        return headers

    def prepare_body(self, body: Any) -> Any:
        """Amounts as the setting says; the sensitive fields AES-encrypted under ``encrypted<Name>``."""
        body = super().prepare_body(body)
        if not isinstance(body, dict) or not any(name in body for name in self.recipe.encrypted_fields):
            return body
        sealed = {}
        for key, value in body.items():
            if key in self.recipe.encrypted_fields and value is not None:
                cipher = aes_ecb_encrypt(self.credentials.aes_key, str(value).encode("utf-8"))
                sealed[encrypted_name(key)] = base64.b64encode(cipher).decode("ascii")
            else:
                sealed[key] = value
        return sealed

    async def exchange(self, post: Poster, op: Operation, api_code: str, request_no: str, body: Any) -> Opened:
        try:
            content = dumps_compact(self.prepare_body(body if body is not None else {})).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise RequestNotSent(
                f"cannot encode {op.name}: {exc}", transient=False, api_code=api_code, request_no=request_no
            ) from exc
        url = self.base_url + self.recipe.path_of(op.name)
        token = await self._current_token(post, api_code, request_no, refused=None)
        for attempt in (1, 2):
            response = await post(
                url, content, self.headers(request_no, content, token), api_code=api_code, request_no=request_no
            )
            opened = self.read_answer(op.name, response.status_code, response.content, api_code, request_no)
            if response.status_code != 401 and opened.head["code"] != TOKEN_REFUSED:
                return accepted(opened, response.status_code, op, api_code)
            if attempt == 2:
                raise rejection_for(
                    TOKEN_REFUSED, opened.head.get("detail") or "the token was refused twice", api_code, request_no
                )
            # Refused token: not processed. Fetch another, and send under a NEW requestNo.
            token = await self._current_token(post, api_code, request_no, refused=token)
            request_no = self._request_no()
        raise AssertionError("unreachable")

    def read_answer(self, what: str, status: int, content: bytes, api_code: str, request_no: str) -> Opened:
        """``{code, message, data}`` as an Opened (head: our ids + code/detail); unreadable: OutcomeUnknown."""
        where: dict[str, Any] = {"api_code": api_code, "request_no": request_no}
        if status >= 500:
            raise OutcomeUnknown(f"{what}: HTTP {status} from Whalet", lost_in_transit=True, **where)
        try:
            answer = loads_exact(content)
        except (ValueError, UnicodeDecodeError):
            answer = None
        if status == 401 and not isinstance(answer, dict):
            answer = {"code": TOKEN_REFUSED, "message": "HTTP 401"}
        if not isinstance(answer, dict) or not isinstance(answer.get("code"), str):
            raise OutcomeUnknown(f"{what}: the answer (HTTP {status}) is not {{code, message, data}}", **where)
        data = answer.get("data")
        if data is not None and not isinstance(data, (dict, list)):
            raise OutcomeUnknown(f"{what}: the answer's data is not an object or array", **where)
        head = {
            "partnerId": self.partner_id,
            "apiCode": api_code,
            "requestNo": request_no,
            "code": answer["code"],
            "detail": str(answer.get("message") or ""),
        }
        return Opened(head=head, body=data)

    def _request_no(self) -> str:
        return (self._new_request_no or new_request_no)()

    # --- the token -------------------------------------------------------------------------------

    async def prepare(self, post: Poster) -> None:
        """Fetch a token now (``whalet-bot check`` reports this step on its own)."""
        await self._current_token(post, "token", "", refused=None)

    async def _current_token(self, post: Poster, api_code: str, request_no: str, refused: _Token | None) -> _Token:
        """The cached token, a fresh one when it is near expiry, or when ``refused`` is the cached one."""
        async with self._lock:
            token = self._token
            fresh = token is not None and monotonic() < token.good_until
            if fresh and token is not None and (refused is None or token.value != refused.value):
                return token
            try:
                self._token = await self._fetch_token(post)
            except OutcomeUnknown as exc:  # the token call's fate is unknown; the CALL was never sent
                raise RequestNotSent(f"no v1 token: {exc}", api_code=api_code, request_no=request_no) from exc
            except WhaletError as exc:
                exc.api_code, exc.request_no = api_code, request_no or exc.request_no
                raise
            return self._token

    async def _fetch_token(self, post: Poster) -> _Token:
        request_no = self._request_no()
        content = dumps_compact(
            {"clientId": self.credentials.client_id, "secretKey": self.credentials.secret_key}
        ).encode("utf-8")
        response = await post(
            self.base_url + self.recipe.token_path,
            content,
            self.headers(request_no, content, None),
            api_code="token",
            request_no=request_no,
        )
        opened = self.read_answer(
            "token", response.status_code, content=response.content, api_code="token", request_no=request_no
        )
        if opened.head["code"] != "SUCCESS" or response.status_code >= 300:
            raise rejection_for(
                opened.head["code"] if opened.head["code"] != "SUCCESS" else "UNAUTHORIZED",
                opened.head["detail"],
                "token",
                request_no,
            )
        data = opened.body if isinstance(opened.body, dict) else {}
        value, kind, expire = data.get("token"), data.get("tokenType") or "Bearer", data.get("expire")
        try:
            seconds = int(expire) if expire is not None and not isinstance(expire, bool) else None
        except (TypeError, ValueError):
            seconds = None
        if not isinstance(value, str) or not value or not isinstance(kind, str) or seconds is None or seconds <= 0:
            raise OutcomeUnknown("token: the answer has no token, tokenType and expire (seconds)")
        self.tokens_fetched += 1
        return _Token(value, kind, monotonic() + seconds - TOKEN_REUSE_MARGIN_S)

    # --- the webhook -----------------------------------------------------------------------------

    signs_raw_body = True

    def authenticate(self, headers: Mapping[str, str], raw: bytes) -> None:
        """The HMAC over the raw bytes first: nothing of an unsigned body is parsed."""
        self._verified_head(headers, raw)

    def open_notification(self, headers: Mapping[str, str], raw: bytes, parsed: Any) -> Opened:
        head = self._verified_head(headers, raw)
        if not isinstance(parsed, (dict, list)):
            raise MalformedEnvelope("the body is not a JSON object")
        return Opened(head=head, body=parsed)

    def _verified_head(self, headers: Mapping[str, str], raw: bytes) -> dict[str, str]:
        lower = {key.lower(): value for key, value in headers.items()}
        head = {
            "partnerId": lower.get("partnerid", ""),
            "apiCode": lower.get("notifytype", ""),
            "requestNo": lower.get("requestno", ""),
            "timestamp": lower.get("timestamp", ""),
        }
        given = lower.get(self.recipe.webhook_sign_header.lower(), "")
        if not given:
            raise SignatureInvalid(f"the {self.recipe.webhook_sign_header} header is missing")
        try:
            body_text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEnvelope("the body is not UTF-8") from None
        expected = hmac_sign(
            self.recipe,
            self.credentials.hmac_key,
            self.recipe.webhook_sign_template,
            {**head, "notifyType": head["apiCode"], "body": body_text},
        )
        if self.recipe.sign_encoding == "hex":
            given = given.lower()
        if not hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace")):
            raise SignatureInvalid("the signature does not match hmacKey")
        for name in ("partnerId", "apiCode", "requestNo"):
            if not ID_FORMAT.fullmatch(head[name]):
                raise MalformedEnvelope(
                    f"the {name if name != 'apiCode' else 'notifyType'} header is missing, too long or not "
                    "letters, digits, '-' and '_'"
                )
        self._check_window(head["timestamp"])
        return head

    @property
    def signs_notification_type(self) -> bool:
        """Whether the webhook signature covers ``notifyType`` (Whalet's documented template does
        not: then the webhook checks that the body is what the type says)."""
        return "{notifyType}" in self.recipe.webhook_sign_template

    def _check_window(self, stamp: str) -> None:
        if not TIMESTAMP_FORMAT[self.recipe.timestamp_unit].fullmatch(stamp):
            raise StaleNotification(
                f"the timestamp header is missing or not epoch {self.recipe.timestamp_unit} without leading zeros"
            )
        seconds = int(stamp) / (1000 if self.recipe.timestamp_unit == "ms" else 1)
        if abs(self._wall_clock() - seconds) > WEBHOOK_WINDOW_S:
            raise StaleNotification("the timestamp is more than 5 minutes away from our clock")

    def answer_notification(self, head: Mapping[str, str]) -> NotificationAnswer:
        style = self.recipe.webhook_answer
        if style == "empty_json":
            return NotificationAnswer(200, b"{}", "application/json")
        if style == "text":
            return NotificationAnswer(200, b"SUCCESS", "text/plain; charset=utf-8")
        return NotificationAnswer(
            200,
            dumps_compact({"code": "SUCCESS", "message": "成功"}).encode("utf-8"),
            "application/json; charset=utf-8",
        )
