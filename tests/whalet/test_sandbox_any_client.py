"""The sandbox for any Whalet client (issue 24, item 5): a real `whalet-bot sandbox --protocol v1
--v1-request-signature off --v1-errors body` process, driven over loopback by a minimal client
written to the public PHP client's documented behaviour: headers partnerId, requestNo and
timestamp, a Bearer token, no `sign`, errors read from HTTP-200 bodies, `[]` for an empty body."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.serving import free_port
from tests.faults.harness import REPO, wait_until


class UnsignedClient:
    """What the PHP client sends: no request signature at all."""

    def __init__(self, base_url: str, partner_id: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.partner_id = partner_id
        self.token = ""

    def headers(self) -> dict[str, str]:
        headers = {
            "partnerId": self.partner_id,
            "requestNo": secrets.token_hex(8),
            "timestamp": str(int(time.time() * 1000)),
            "Content-Type": "application/json",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def call(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, content=json.dumps(body), headers=self.headers())


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "sandbox",
            "--port",
            str(port),
            "--keys-dir",
            str(tmp_path / "keys"),
            "--protocol",
            "v1",
            "--v1-request-signature",
            "off",
            "--v1-errors",
            "body",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url), 30, what="the sandbox's health")
        yield url, tmp_path / "keys"
    finally:
        process.terminate()
        process.wait(10)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/sandbox/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.long_running(seconds=10)
def test_an_unsigned_client_gets_a_token_reads_balances_and_reads_errors_from_bodies(sandbox: tuple[str, Path]) -> None:
    url, keys = sandbox
    credentials = json.loads((keys / "v1-credentials.json").read_text())
    assert credentials["partnerId"] == "800000001"  # a numeric partner id by default in v1
    client = UnsignedClient(url, credentials["partnerId"])

    no_token = client.call("/v1/wallet/queryCurrencyBalance", {"userId": "U10001"})
    assert no_token.status_code == 200 and no_token.json()["code"] == "UNAUTHORIZED"  # in the body

    token = client.call("/v1/auth/token", {"clientId": credentials["clientId"], "secretKey": credentials["secretKey"]})
    assert token.status_code == 200 and token.json()["code"] == "SUCCESS", token.text
    client.token = token.json()["data"]["token"]

    balances = client.call(
        "/v1/wallet/queryCurrencyBalance", {"userId": "U10001", "fundSource": "B2C", "currency": "USD"}
    )
    assert balances.json()["code"] == "SUCCESS" and balances.json()["data"][0]["currency"] == "USD"

    unknown = client.call("/v1/wallet/queryCurrencyBalance", {"userId": "U99999"})
    assert unknown.status_code == 200 and unknown.json()["code"] != "SUCCESS"
    empty = client.call("/v1/wallet/queryCurrencyBalance", [])  # an empty body, as that client writes it
    assert empty.status_code == 200 and "userId" in empty.json()["message"], empty.text
    nowhere = client.call("/v1/nowhere", {})
    assert nowhere.status_code == 200 and nowhere.json()["code"] == "INTERFACE_UNAUTHORIZED"


def test_by_default_the_sandbox_refuses_unsigned_requests(tmp_path: Path) -> None:
    from devkit.whalet_sandbox import SandboxConfig, create_sandbox

    sandbox = create_sandbox(SandboxConfig(keys_dir=tmp_path, protocol="v1"))
    credentials = json.loads((tmp_path / "v1-credentials.json").read_text())
    unsigned = UnsignedClient("http://sandbox", credentials["partnerId"])

    async def calls() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://sandbox") as http:
            secret = {"clientId": credentials["clientId"], "secretKey": credentials["secretKey"]}
            return [
                await http.post(path, content=json.dumps(body), headers=unsigned.headers())
                for path, body in (("/v1/auth/token", secret), ("/v1/nowhere", {}))
            ]

    token, nowhere = asyncio.run(calls())
    # the token path checks the signature too (the README says so now), as every other path does
    assert token.json()["code"] == nowhere.json()["code"] == "UNAUTHENTICATED_ERROR"
