"""The sandbox's own reading of the REST v1 protocol (spec §9) and its credentials file.

Deliberately written apart from the client's ``whalet.transport.v1``: the two share only
primitives (HMAC from hashlib, AES from ``whalet.envelope``'s primitive), so a misreading of the
spec on either side makes the tests fail instead of agreeing with itself. The setting names match
``[whalet.v1]`` so a test (or ``check --probe``) can configure the sandbox with a non-default recipe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from whalet.private_files import replace_private

CREDENTIALS_FILE = "v1-credentials.json"
_DIGESTS = {"SHA256": hashlib.sha256, "SHA512": hashlib.sha512, "SHA1": hashlib.sha1}

# The v1 path of every operation, as spec §9 lists them (apiCode -> path).
_WALLET = ("queryCurrencyBalance", "queryPlatformBalance")
_PAYOUT = (
    "queryRate",
    "payoutApply",
    "payoutConfirm",
    "queryBeneficiaryCountries",
    "queryBeneficiaryFields",
    "beneficiaryApply",
    "beneficiaryDelete",
    "queryCollectionRecords",
    "queryWithdrawRecords",
    "queryPaymentRecords",
    "queryPayRecords",
)
_PAY = ("payApply", "payConfirm")
_REPLENISH = ("eddReplenishQuery", "eddReplenishSubmit", "tradeReplenishSubmit")
SPEC_PATHS: dict[str, str] = {
    **{f"/v1/wallet/{code}": code for code in _WALLET},
    **{f"/v1/payout/{code}": code for code in _PAYOUT},
    **{f"/v1/pay/{code}": code for code in _PAY},
    **{f"/v1/replenish/{code}": code for code in _REPLENISH},
    "/v1/collection/tradeOrderBindApply": "tradeOrderBindApply",
    "/v1/connectivity/connectivity": "connectivity",
    "/v1/mock/mockPayeeNotify": "mockPayeeNotify",
}


@dataclass(frozen=True)
class SandboxV1Recipe:
    request_signature: bool = True
    # "http": a refusal is an HTTP error status (401, 400, 404) with Whalet's code in the body;
    # "body": always HTTP 200, the code in the body only (how some clients read Whalet's answers)
    errors: str = "http"
    sign_header: str = "sign"
    sign_template: str = "{partnerId}{requestNo}{timestamp}{body}"
    sign_hash: str = "SHA256"
    sign_encoding: str = "hex"
    timestamp_unit: str = "ms"
    token_path: str = "/v1/auth/token"
    paths: dict[str, str] = field(default_factory=dict)  # operation -> path, overriding SPEC_PATHS
    encrypted_fields: tuple[str, ...] = ("accountNo",)
    webhook_sign_header: str = "sign"
    webhook_sign_template: str = "{partnerId}{requestNo}{timestamp}{body}"
    webhook_answer: str = "json"

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> SandboxV1Recipe:
        known = {f.name for f in fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            raise ValueError(f"unknown v1 setting(s) for the sandbox: {', '.join(sorted(unknown))}")
        given = dict(values or {})
        if "encrypted_fields" in given:
            given["encrypted_fields"] = tuple(given["encrypted_fields"])
        if given.get("errors", "http") not in ("http", "body"):
            raise ValueError("the v1 setting errors must be http or body")
        return cls(**given)

    def path_table(self) -> dict[str, str]:
        """path -> apiCode, with the overrides applied."""
        table = {path: code for path, code in SPEC_PATHS.items() if code not in self.paths}
        table.update({path: code for code, path in self.paths.items()})
        return table

    def seconds(self, stamp: str) -> float:
        return int(stamp) / (1000 if self.timestamp_unit == "ms" else 1)

    def stamp(self, now: float) -> str:
        return str(int(now * 1000) if self.timestamp_unit == "ms" else int(now))

    def signature(self, hmac_key: str, template: str, values: dict[str, str]) -> str:
        text = template
        for name, value in values.items():  # plain substitution, independent of str.format
            text = text.replace("{" + name + "}", value)
        mac = hmac.new(hmac_key.encode(), text.encode(), _DIGESTS[self.sign_hash]).digest()
        return mac.hex() if self.sign_encoding == "hex" else base64.b64encode(mac).decode()


@dataclass(frozen=True)
class V1Credentials:
    partner_id: str
    client_id: str
    secret_key: str = field(repr=False)
    hmac_key: str = field(repr=False)
    aes_key: str = field(repr=False)  # Base64 of 16 bytes, as Whalet issues it

    @property
    def aes_key_bytes(self) -> bytes:
        return base64.b64decode(self.aes_key)


def ensure_v1_credentials(keys_dir: Path, partner_id: str) -> V1Credentials:
    """Read ``KEYS_DIR/v1-credentials.json``, generating the secrets when missing (the file is 0600)."""
    path = Path(keys_dir).expanduser() / CREDENTIALS_FILE
    data: dict[str, Any] = {}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    wanted = {
        "partnerId": partner_id,
        "clientId": data.get("clientId") or "CL" + secrets.token_hex(8).upper(),
        "secretKey": data.get("secretKey") or secrets.token_urlsafe(24),
        "hmacKey": data.get("hmacKey") or secrets.token_urlsafe(32),
        "aesKey": data.get("aesKey") or base64.b64encode(os.urandom(16)).decode(),
    }
    if wanted != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_private(path, (json.dumps(wanted, indent=2) + "\n").encode("utf-8"))
    return V1Credentials(
        wanted["partnerId"], wanted["clientId"], wanted["secretKey"], wanted["hmacKey"], wanted["aesKey"]
    )
