"""Which gateways may move money without the live-money switch.

Loopback (the sandbox, a local tunnel) and Whalet's test hosts move no real money. Any other host
may be production, where a recipe nobody has verified could send a payout nobody meant; there the
money-moving calls wait for ``[whalet] money_enabled = true``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

TEST_HOSTS = frozenset({"test-open.whalet.com"})
LEGACY_TEST_GATEWAY = "https://test-open.whalet.com/api"
V1_TEST_HOST = "https://test-open.whalet.com"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def is_loopback(url: str) -> bool:
    """127.0.0.0/8, ::1, ``localhost`` and ``*.localhost`` (RFC 6761: always loopback)."""
    host = _host(url)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_test_gateway(url: str) -> bool:
    """Loopback or one of Whalet's test hosts: no real money can move there."""
    return is_loopback(url) or _host(url) in TEST_HOSTS


def money_needs_switch(url: str) -> bool:
    return not is_test_gateway(url)
