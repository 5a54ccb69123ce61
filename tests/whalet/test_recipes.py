"""Each provisional setting's alternatives, against vectors computed here from the primitives.

The codec under test and these expectations share nothing but ``cryptography``/``hmac``: every
string to sign, digest and encoding below is spelled out by hand from spec §2, §9 and §10.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import ValidationError

from whalet.envelope import (
    EnvelopeCodec,
    generate_key_pair,
    load_private_key,
    load_public_key,
)
from whalet.recipes import LegacyRecipe, V1Recipe
from whalet.transport import LegacyTransport, V1Credentials, V1Transport

BODY = {"userId": "U1", "amount": Decimal("10.50"), "currency": "USD"}
COMPACT = '{"userId":"U1","amount":10.50,"currency":"USD"}'


@pytest.fixture(scope="module")
def pairs() -> dict[str, Any]:
    partner_private, partner_public = generate_key_pair()
    whalet_private, whalet_public = generate_key_pair()
    return {
        "partner": load_private_key(partner_private),
        "partner_public": load_public_key(partner_public),
        "whalet": load_private_key(whalet_private),
        "whalet_public": load_public_key(whalet_public),
    }


def codec(pairs: dict[str, Any], **recipe: Any) -> EnvelopeCodec:
    return EnvelopeCodec(pairs["partner"], pairs["whalet_public"], LegacyRecipe(**recipe))


def aes_open(key: bytes, text: str) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    padded = decryptor.update(base64.b64decode(text)) + decryptor.finalize()
    return padded[: -padded[-1]]


# --- legacy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sign_hash,sign_encoding", [("SHA256", "base64"), ("SHA1", "base64"), ("SHA256", "hex"), ("SHA1", "hex")]
)
def test_legacy_signature_hash_and_encoding(pairs: dict[str, Any], sign_hash: str, sign_encoding: str) -> None:
    message = codec(pairs, sign_hash=sign_hash, sign_encoding=sign_encoding).encode_request(
        "P1", "connectivity", "R1", BODY
    )
    head = message["head"]
    text = f"partnerId=P1&apiCode=connectivity&requestNo=R1&version=1.0&encrypt={message['body']['encrypt']}"
    digest = hashes.SHA256() if sign_hash == "SHA256" else hashes.SHA1()
    expected = pairs["partner"].sign(text.encode(), padding.PKCS1v15(), digest)  # deterministic
    assert head["sign"] == (expected.hex() if sign_encoding == "hex" else base64.b64encode(expected).decode())


@pytest.mark.parametrize(
    "key_padding,session_key",
    [("PKCS1v15", "bytes"), ("OAEP-SHA1", "bytes"), ("PKCS1v15", "ascii"), ("OAEP-SHA1", "ascii")],
)
def test_legacy_key_wrap_padding_and_session_key_form(
    pairs: dict[str, Any], key_padding: str, session_key: str
) -> None:
    message = codec(pairs, key_padding=key_padding, session_key=session_key).encode_request("P1", "c", "R1", BODY)
    wrap = (
        padding.PKCS1v15()
        if key_padding == "PKCS1v15"
        else padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    key = pairs["whalet"].decrypt(base64.b64decode(message["head"]["keyEnc"]), wrap)
    assert len(key) == 16
    if session_key == "ascii":
        assert key.decode("ascii").isalnum()
    assert aes_open(key, message["body"]["encrypt"]).decode() == COMPACT


def test_legacy_field_order_of_both_strings_to_sign(pairs: dict[str, Any]) -> None:
    request_order = ("apiCode", "encrypt", "partnerId", "requestNo", "version")
    response_order = ("apiCode", "code", "detail", "encrypt", "partnerId", "requestNo", "version")
    ours = codec(pairs, request_sign_fields=request_order)
    message = ours.encode_request("P1", "connectivity", "R1", BODY)
    text = f"apiCode=connectivity&encrypt={message['body']['encrypt']}&partnerId=P1&requestNo=R1&version=1.0"
    pairs["partner_public"].verify(
        base64.b64decode(message["head"]["sign"]), text.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    theirs = EnvelopeCodec(pairs["whalet"], pairs["partner_public"], LegacyRecipe(response_sign_fields=response_order))
    answer = theirs.encode_response(message["head"], "SUCCESS", "ok", None)  # empty body: no encrypt
    text = "apiCode=connectivity&code=SUCCESS&detail=ok&partnerId=P1&requestNo=R1&version=1.0"
    pairs["whalet_public"].verify(
        base64.b64decode(answer["head"]["sign"]), text.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    opened = EnvelopeCodec(
        pairs["partner"], pairs["whalet_public"], LegacyRecipe(response_sign_fields=response_order)
    ).decode_response(answer)
    assert opened.head["code"] == "SUCCESS"


@pytest.mark.parametrize("answer,status,content", [("json", 200, b"{}"), ("text", 200, b"SUCCESS")])
def test_legacy_webhook_answer_alternatives(pairs: dict[str, Any], answer: str, status: int, content: bytes) -> None:
    transport = LegacyTransport("http://127.0.0.1:1/api", "P1", codec(pairs, webhook_answer=answer))
    written = transport.answer_notification({"partnerId": "P1", "apiCode": "x", "requestNo": "N1", "version": "1.0"})
    assert (written.status, written.content) == (status, content)


def test_legacy_default_webhook_answer_is_the_signed_envelope(pairs: dict[str, Any]) -> None:
    transport = LegacyTransport("http://127.0.0.1:1/api", "P1", codec(pairs))
    written = transport.answer_notification({"partnerId": "P1", "apiCode": "x", "requestNo": "N1", "version": "1.0"})
    head = json.loads(written.content)["head"]
    text = "partnerId=P1&apiCode=x&requestNo=N1&version=1.0&code=SUCCESS&detail=成功"
    pairs["partner_public"].verify(base64.b64decode(head["sign"]), text.encode(), padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(
    "bad",
    [
        {"sign_hash": "MD5"},
        {"sign_encoding": "base32"},
        {"key_padding": "OAEP-SHA256"},
        {"request_sign_fields": ["partnerId", "apiCode"]},
        {"response_sign_fields": ["code"] * 7},
        {"webhook_answer": "OK"},
        {"colour": "red"},
    ],
)
def test_legacy_settings_refuse_what_they_do_not_know(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LegacyRecipe(**bad)


# --- v1 ------------------------------------------------------------------------------------------

NOW = 1_700_000_000.123
CREDS = V1Credentials.from_text("CL1", "s3cret", "hmac-key", base64.b64encode(bytes(range(16))).decode())


def v1(**recipe: Any) -> V1Transport:
    return V1Transport("http://127.0.0.1:1", "P1", CREDS, V1Recipe(**recipe), wall_clock=lambda: NOW)


def mac(text: str, digest: Any = hashlib.sha256) -> bytes:
    return hmac.new(b"hmac-key", text.encode(), digest).digest()


@pytest.mark.parametrize(
    "recipe,header,expected",
    [
        ({}, "sign", mac("P1R11700000000123" + COMPACT).hex()),
        ({"sign_hash": "SHA512"}, "sign", mac("P1R11700000000123" + COMPACT, hashlib.sha512).hex()),
        ({"sign_hash": "SHA1"}, "sign", mac("P1R11700000000123" + COMPACT, hashlib.sha1).hex()),
        ({"sign_encoding": "base64"}, "sign", base64.b64encode(mac("P1R11700000000123" + COMPACT)).decode()),
        ({"timestamp_unit": "s"}, "sign", mac("P1R11700000000" + COMPACT).hex()),
        (
            {"sign_template": "{timestamp}{requestNo}{partnerId}{body}"},
            "sign",
            mac("1700000000123R1P1" + COMPACT).hex(),
        ),
        ({"sign_template": "{body}"}, "sign", mac(COMPACT).hex()),
        ({"sign_header": "X-Signature"}, "X-Signature", mac("P1R11700000000123" + COMPACT).hex()),
    ],
)
def test_v1_request_signature_alternatives(recipe: dict[str, Any], header: str, expected: str) -> None:
    headers = v1(**recipe).headers("R1", COMPACT.encode(), None)
    assert headers[header] == expected
    assert headers["timestamp"] == ("1700000000" if recipe.get("timestamp_unit") == "s" else "1700000000123")
    assert headers["partnerId"] == "P1" and headers["requestNo"] == "R1"


def test_v1_without_a_request_signature_sends_none() -> None:
    headers = v1(request_signature=False).headers("R1", COMPACT.encode(), None)
    assert set(headers) == {"Content-Type", "partnerId", "requestNo", "timestamp"}


@pytest.mark.parametrize(
    "fields,expected_keys",
    [
        (["accountNo"], {"encryptedAccountNo", "bankName"}),
        (["accountNo", "bankName"], {"encryptedAccountNo", "encryptedBankName"}),
        ([], {"accountNo", "bankName"}),
    ],
)
def test_v1_encrypted_fields(fields: list[str], expected_keys: set[str]) -> None:
    sent = v1(encrypted_fields=fields).prepare_body({"accountNo": "123456789012", "bankName": "HSBC"})
    assert set(sent) == expected_keys
    for name, plain in (("AccountNo", "123456789012"), ("BankName", "HSBC")):
        if f"encrypted{name}" in sent:
            assert aes_open(bytes(range(16)), sent[f"encrypted{name}"]).decode() == plain


def test_amounts_as_numbers_or_strings() -> None:
    assert v1().prepare_body(BODY)["amount"] == Decimal("10.50")
    assert v1().with_recipe(V1Recipe()).prepare_body(BODY) == BODY
    as_strings = V1Transport("http://h", "P1", CREDS, amounts="string").prepare_body(BODY)
    assert as_strings == {"userId": "U1", "amount": "10.50", "currency": "USD"}


def test_v1_paths_default_to_the_spec_and_can_be_corrected() -> None:
    recipe = V1Recipe(paths={"payoutApply": "/v1/payouts/apply"})
    assert recipe.path_of("payoutApply") == "/v1/payouts/apply"
    assert recipe.path_of("queryCurrencyBalance") == "/v1/wallet/queryCurrencyBalance"
    assert recipe.path_of("connectivity") == "/v1/connectivity/connectivity"


@pytest.mark.parametrize(
    "webhook,template,header",
    [
        ({}, "P1N11700000000123" + COMPACT, "sign"),
        (
            {"webhook_sign_template": "{notifyType}{requestNo}{body}", "webhook_sign_header": "X-Sign"},
            "collectionReceivedNotifyN1" + COMPACT,
            "X-Sign",
        ),
    ],
)
def test_v1_webhook_signature_alternatives(webhook: dict[str, Any], template: str, header: str) -> None:
    transport = v1(**webhook)
    headers = {
        "partnerId": "P1",
        "requestNo": "N1",
        "timestamp": "1700000000123",
        "notifyType": "collectionReceivedNotify",
        header: mac(template).hex(),
    }
    opened = transport.open_notification(headers, COMPACT.encode(), json.loads(COMPACT))
    assert opened.head["apiCode"] == "collectionReceivedNotify" and opened.head["requestNo"] == "N1"


@pytest.mark.parametrize(
    "answer,content",
    [("json", '{"code":"SUCCESS","message":"成功"}'.encode()), ("empty_json", b"{}"), ("text", b"SUCCESS")],
)
def test_v1_webhook_answer_alternatives(answer: str, content: bytes) -> None:
    written = v1(webhook_answer=answer).answer_notification({})
    assert (written.status, written.content) == (200, content)


@pytest.mark.parametrize(
    "bad",
    [
        {"sign_template": "{partnerId}{requestNo}"},
        {"sign_template": "{secret}{body}"},
        {"sign_hash": "MD5"},
        {"paths": {"payoutApply": "v1/no-slash"}},
        {"paths": {"launchRocket": "/v1/x"}},
        {"sign_header": "bad header"},
        {"timestamp_unit": "us"},
        {"webhook_answer": "OK"},
    ],
)
def test_v1_settings_refuse_what_they_do_not_know(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        V1Recipe(**bad)
