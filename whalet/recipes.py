"""Every provisional detail of both Whalet protocols, as settings (protocol spec §10).

Whalet publishes the field names of its legacy envelope and the shape of its REST v1 protocol,
but not the exact recipes (hash, encoding, padding, string to sign, webhook answer). Each detail
we had to guess is a field here whose default is the canonical reading of the spec, so a deployer
who learns the real recipe edits ``[whalet.legacy]`` / ``[whalet.v1]`` in the policy file (or
lets ``whalet-bot check --probe`` find it) instead of editing code.

These models are plain data with validation (a leaf module: it imports nothing of ours); the
legacy codec (``whalet.envelope``) and the transports (``whalet.transport``) read them.
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

Protocol = Literal["legacy", "v1"]
PROTOCOLS: tuple[str, ...] = ("legacy", "v1")

REQUEST_SIGN_FIELDS = ("partnerId", "apiCode", "requestNo", "version", "encrypt")
RESPONSE_SIGN_FIELDS = ("partnerId", "apiCode", "requestNo", "version", "code", "detail", "encrypt")
V1_SIGN_PARTS = frozenset({"partnerId", "requestNo", "timestamp", "body"})
V1_WEBHOOK_SIGN_PARTS = V1_SIGN_PARTS | {"notifyType"}


class _Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _same_fields(value: list[str], expected: tuple[str, ...], what: str) -> tuple[str, ...]:
    if sorted(value) != sorted(expected):
        raise ValueError(
            f"the {what} string to sign must list each of {', '.join(expected)} exactly once, in the order Whalet uses"
        )
    return tuple(value)


class LegacyRecipe(_Recipe):
    """``[whalet.legacy]``: the RSA envelope's provisional details (spec §2)."""

    sign_hash: Literal["SHA256", "SHA1"] = "SHA256"
    sign_encoding: Literal["base64", "hex"] = "base64"
    key_padding: Literal["PKCS1v15", "OAEP-SHA1"] = "PKCS1v15"
    session_key: Literal["bytes", "ascii"] = "bytes"  # 16 random bytes / 16 random ASCII letters+digits
    request_sign_fields: tuple[str, ...] = REQUEST_SIGN_FIELDS
    response_sign_fields: tuple[str, ...] = RESPONSE_SIGN_FIELDS
    webhook_answer: Literal["envelope", "json", "text"] = "envelope"  # signed envelope / HTTP 200 {} / SUCCESS

    @field_validator("request_sign_fields", mode="before")
    @classmethod
    def _request_fields(cls, value: list[str]) -> tuple[str, ...]:
        return _same_fields(list(value), REQUEST_SIGN_FIELDS, "request")

    @field_validator("response_sign_fields", mode="before")
    @classmethod
    def _response_fields(cls, value: list[str]) -> tuple[str, ...]:
        return _same_fields(list(value), RESPONSE_SIGN_FIELDS, "response")


def _template(value: str, allowed: frozenset[str]) -> str:
    names = set()
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc}); write parts like {{partnerId}}{{body}}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            raise ValueError(
                f"{{{name}}} is not a part Whalet signs; allowed: "
                + ", ".join("{" + part + "}" for part in sorted(allowed))
            )
        names.add(name)
    if "body" not in names:  # a signature that does not cover the body does not protect an amount
        raise ValueError("the template must contain {body}: the signature has to cover what is sent")
    return value


DEFAULT_V1_PATHS: dict[str, str] = {
    **{name: f"/v1/wallet/{name}" for name in ("queryCurrencyBalance", "queryPlatformBalance")},
    **{
        name: f"/v1/payout/{name}"
        for name in (
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
    },
    **{name: f"/v1/pay/{name}" for name in ("payApply", "payConfirm")},
    **{name: f"/v1/replenish/{name}" for name in ("eddReplenishQuery", "eddReplenishSubmit", "tradeReplenishSubmit")},
    "tradeOrderBindApply": "/v1/collection/tradeOrderBindApply",
    "connectivity": "/v1/connectivity/connectivity",
    "mockPayeeNotify": "/v1/mock/mockPayeeNotify",
}


class V1Recipe(_Recipe):
    """``[whalet.v1]``: the REST v1 protocol's provisional details (spec §9)."""

    request_signature: bool = True  # false: send no signature (as the third-party PHP client does)
    sign_header: str = "sign"
    sign_template: str = "{partnerId}{requestNo}{timestamp}{body}"
    sign_hash: Literal["SHA256", "SHA512", "SHA1"] = "SHA256"
    sign_encoding: Literal["hex", "base64"] = "hex"
    timestamp_unit: Literal["ms", "s"] = "ms"
    token_path: str = "/v1/auth/token"
    paths: dict[str, str] = {}  # operation name -> path; operations not named keep DEFAULT_V1_PATHS
    encrypted_fields: tuple[str, ...] = ("accountNo",)  # sent as encrypted<Name>
    webhook_sign_header: str = "sign"
    webhook_sign_template: str = "{partnerId}{requestNo}{timestamp}{body}"
    webhook_answer: Literal["json", "empty_json", "text"] = "json"  # {"code","message"} / {} / SUCCESS

    @field_validator("sign_header", "webhook_sign_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError("a header name has letters, digits, '-' or '_'")
        return value

    @field_validator("sign_template")
    @classmethod
    def _sign_template(cls, value: str) -> str:
        return _template(value, V1_SIGN_PARTS)

    @field_validator("webhook_sign_template")
    @classmethod
    def _webhook_template(cls, value: str) -> str:
        return _template(value, V1_WEBHOOK_SIGN_PARTS)

    @field_validator("token_path")
    @classmethod
    def _token_path(cls, value: str) -> str:
        return _path(value)

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if name not in DEFAULT_V1_PATHS:
                raise ValueError(f"{name} is not an operation we call; known: {', '.join(sorted(DEFAULT_V1_PATHS))}")
            _path(path)
        return value

    @field_validator("encrypted_fields", mode="before")
    @classmethod
    def _fields(cls, value: list[str]) -> tuple[str, ...]:
        for name in value:
            if not name or not name.isalnum():
                raise ValueError(f"{name!r} is not a field name")
        return tuple(value)

    def path_of(self, operation: str) -> str:
        return self.paths.get(operation, DEFAULT_V1_PATHS[operation])


def _path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() or c in "?#" for c in value):
        raise ValueError(f"{value!r} is not a path (it starts with / and has no spaces, ? or #)")
    return value


def encrypted_name(field: str) -> str:
    """``accountNo`` travels as ``encryptedAccountNo`` (spec §9)."""
    return "encrypted" + field[:1].upper() + field[1:]
