"""Request and order numbers: unique, at most 30 characters, sortable by creation time."""

from __future__ import annotations

import base64
import secrets
from whalet.clock import wall
from whalet.models import WHALET_TZ


def _stamp() -> str:
    """Whalet-zone time to the millisecond: ids sort by creation time and read well in support."""
    now = wall().astimezone(WHALET_TZ)
    return now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"


def _random(chars: int) -> str:
    return base64.b32encode(secrets.token_bytes(chars)).decode("ascii")[:chars]


def new_request_no() -> str:
    """'R' + time to the ms + 10 random base32 characters (50 bits): 28 characters, ≤ 30."""
    return "R" + _stamp() + _random(10)


def new_order_no(prefix: str = "P") -> str:
    """A merOrderNo: up to 7 letters/digits of prefix, time to the ms, random tail; 30 characters."""
    if not (1 <= len(prefix) <= 7 and prefix.isascii() and prefix.isalnum()):
        raise ValueError("an order number prefix has 1 to 7 ASCII letters or digits")
    return prefix + _stamp() + _random(30 - len(prefix) - 17)
