"""What every transport shares: the interface, the answer rules and how amounts are written."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

import httpx

from whalet.envelope import Opened
from whalet.errors import OutcomeUnknown, rejection_for
from whalet.operations import Operation

ACCEPTED_CODES = frozenset({"SUCCESS", "PROCESSING"})
AmountStyle = Literal["number", "string"]


class Poster(Protocol):
    """The client's HTTP POST: maps connection failures to RequestNotSent / OutcomeUnknown."""

    async def __call__(
        self, url: str, content: bytes, headers: Mapping[str, str], *, api_code: str, request_no: str
    ) -> httpx.Response: ...


@dataclass(frozen=True)
class NotificationAnswer:
    """What the webhook answers Whalet once a notification is stored."""

    status: int
    content: bytes
    media_type: str


class Transport(ABC):
    """One protocol profile: how a call travels and how a notification arrives."""

    profile: str
    base_url: str
    partner_id: str
    amounts: AmountStyle = "number"

    @abstractmethod
    async def exchange(self, post: Poster, op: Operation, api_code: str, request_no: str, body: Any) -> Opened:
        """Send one call; return the accepted answer (SUCCESS / PROCESSING) or raise a WhaletError.

        ``head`` of the result carries ``requestNo`` (the one that was answered: v1 takes a new one
        after a refused token), ``code`` and ``detail``.
        """

    # How many bytes a webhook body may have before anything in it is checked. A profile whose
    # signature covers the raw bytes (``signs_raw_body``) authenticates them before parsing, so
    # any body up to the door's 1 MiB is fine; one whose signature sits INSIDE the JSON must
    # parse first, so its bodies are capped near the size of a real notification.
    signs_raw_body: bool = False
    unauthenticated_body_limit: int = 1 << 20

    @property
    def signs_notification_type(self) -> bool:
        """Whether a notification's type is covered by its signature (legacy: the signed head)."""
        return True

    def authenticate(self, headers: Mapping[str, str], raw: bytes) -> None:
        """What can be verified on the raw bytes, before a byte of JSON is parsed (v1: the HMAC,
        the header formats and the timestamp window); raises ``EnvelopeError``. Nothing for a
        profile whose signature is inside the body."""
        return

    @abstractmethod
    def open_notification(self, headers: Mapping[str, str], raw: bytes, parsed: Any) -> Opened:
        """Verify, then read one webhook request (``parsed``: ``raw`` as exact JSON), after
        ``authenticate`` passed; raises ``EnvelopeError``.

        ``head`` carries ``partnerId``, ``apiCode`` and ``requestNo`` whatever the profile.
        """

    @abstractmethod
    def answer_notification(self, head: Mapping[str, str]) -> NotificationAnswer:
        """The answer that tells Whalet a notification is stored and must not be sent again."""

    async def prepare(self, post: Poster) -> None:
        """Anything a profile needs before its first call (v1: a token); raises WhaletError."""
        return

    def prepare_body(self, body: Any) -> Any:
        return write_amounts(body, self.amounts)


def write_amounts(body: Any, style: AmountStyle) -> Any:
    """Request amounts (Decimals) as JSON numbers, or as strings with the same digits."""
    if style == "number":
        return body
    if isinstance(body, Decimal):
        return format(body, "f")
    if isinstance(body, dict):
        return {key: write_amounts(value, style) for key, value in body.items()}
    if isinstance(body, list):
        return [write_amounts(value, style) for value in body]
    return body


def accepted(opened: Opened, status: int, op: Operation, api_code: str) -> Opened:
    """SUCCESS / PROCESSING with a 2xx status, else the error branch the code stands for."""
    code = opened.head.get("code", "")
    request_no = opened.head.get("requestNo")
    if code in ACCEPTED_CODES:
        if status >= 300:
            raise OutcomeUnknown(f"{op.name}: {code} with HTTP {status}", api_code=api_code, request_no=request_no)
        return opened
    raise rejection_for(code, opened.head.get("detail", ""), api_code, request_no)
