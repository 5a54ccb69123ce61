"""The envelope codec both ways (partner <-> Whalet), and that nothing tampered gets through."""

from __future__ import annotations

import base64
import string
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from whalet.envelope import (
    EnvelopeCodec,
    EnvelopeError,
    MalformedEnvelope,
    SignatureInvalid,
    dumps_compact,
    generate_key_pair,
    load_private_key,
    load_public_key,
    loads_exact,
)

B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
BODY = {
    "userId": "U1",
    "payerName": "深圳鲸商贸易有限公司 — Ünïcode",
    "amount": Decimal("2477.92"),
    "fee": Decimal("0.10"),
    "big": Decimal("12345678901234567890.123456789"),
    "n": 7,
    "items": [{"ok": True, "none": None}],
}


@pytest.fixture(scope="module")
def pems() -> dict[str, bytes]:
    (pp, pu), (wp, wu) = generate_key_pair(), generate_key_pair()
    return {"partner_private": pp, "partner_public": pu, "whalet_private": wp, "whalet_public": wu}


@pytest.fixture(scope="module")
def partner(pems) -> EnvelopeCodec:
    return EnvelopeCodec(load_private_key(pems["partner_private"]), load_public_key(pems["whalet_public"]))


@pytest.fixture(scope="module")
def whalet(pems) -> EnvelopeCodec:
    return EnvelopeCodec(load_private_key(pems["whalet_private"]), load_public_key(pems["partner_public"]))


def _flip(text: str, index: int) -> str:
    char = text[index]
    other = B64[(B64.index(char) + 1) % 64] if char in B64 else "A"
    return text[:index] + other + text[index + 1 :]


def _with(envelope: dict, part: str, field: str, value: str) -> dict:
    copy = {"head": dict(envelope["head"]), "body": dict(envelope["body"])}
    copy[part][field] = value
    return copy


def _significant_positions(b64: str) -> list[int]:
    """Every position except the last data character before '=' padding, whose low bits are unused."""
    padding = len(b64) - len(b64.rstrip("="))
    skip = {len(b64) - padding - 1} if padding else set()
    return [i for i in range(len(b64)) if i not in skip]


def test_request_round_trip_keeps_every_value_exactly(partner, whalet):
    envelope = partner.encode_request("PDEMO0001", "payoutApply", "R1", BODY)
    assert set(envelope["head"]) == {"partnerId", "apiCode", "requestNo", "version", "sign", "keyEnc"}
    opened = whalet.decode_request(dumps_compact(envelope).encode("utf-8"))
    assert opened.body == BODY
    assert opened.body["big"] == Decimal("12345678901234567890.123456789")
    assert str(opened.body["fee"]) == "0.10"
    assert (opened.head["partnerId"], opened.head["apiCode"], opened.head["requestNo"], opened.head["version"]) == (
        "PDEMO0001",
        "payoutApply",
        "R1",
        "1.0",
    )


def test_notification_round_trip_whalet_to_partner(partner, whalet):
    envelope = whalet.encode_request("PDEMO0001", "collectionReceivedNotify", "N1", {"payerName": "鲸"})
    opened = partner.decode_notification(envelope)
    assert opened.body == {"payerName": "鲸"}
    assert opened.head["apiCode"] == "collectionReceivedNotify"


def test_response_round_trip_with_body(partner, whalet):
    request = whalet.decode_request(partner.encode_request("P", "queryRate", "R2", {"a": 1}))
    answer = whalet.encode_response(request.head, "SUCCESS", "成功", [{"rate": Decimal("7.8123")}])
    opened = partner.decode_response(answer)
    assert opened.body == [{"rate": Decimal("7.8123")}]
    assert (opened.head["code"], opened.head["detail"], opened.head["requestNo"]) == ("SUCCESS", "成功", "R2")


def test_empty_body_response_has_no_encrypt_and_opens_to_none(partner, whalet):
    answer = whalet.encode_response(
        {"partnerId": "P", "apiCode": "x", "requestNo": "R3", "version": "1.0"}, "FAILURE", "quote expired", None
    )
    assert answer["body"] == {} and "keyEnc" not in answer["head"]
    opened = partner.decode_response(dumps_compact(answer))
    assert opened.body is None and opened.head["detail"] == "quote expired"


def test_ack_is_signed_success_with_empty_body(partner, whalet):
    notification = partner.decode_notification(whalet.encode_request("P", "payoutResultNotify", "N2", {"s": 1}))
    ack = partner.encode_ack(notification.head)
    opened = whalet.decode_response(ack)
    assert (opened.head["code"], opened.head["detail"], opened.body) == ("SUCCESS", "成功", None)
    assert opened.head["requestNo"] == "N2" and opened.head["apiCode"] == "payoutResultNotify"


@pytest.mark.parametrize("part,field", [("head", "sign"), ("body", "encrypt"), ("head", "keyEnc")])
def test_any_flipped_character_in_sign_encrypt_keyenc_is_refused(partner, whalet, part, field):
    envelope = partner.encode_request("P", "payoutConfirm", "R4", {"userId": "U1", "payoutId": "PO1"})
    value = envelope[part][field]
    for index in _significant_positions(value):
        with pytest.raises(EnvelopeError) as refused:
            whalet.decode_request(_with(envelope, part, field, _flip(value, index)))
        if field == "keyEnc":  # not signed: it must fail when opening the session key or the body
            assert isinstance(refused.value, MalformedEnvelope)


@pytest.mark.parametrize("part,field", [("head", "sign"), ("head", "keyEnc")])
def test_flipped_unused_bits_of_last_base64_character_are_refused(partner, whalet, part, field):
    envelope = partner.encode_request("P", "payoutConfirm", "R4", {"userId": "U1"})
    value = envelope[part][field]
    last = len(value.rstrip("=")) - 1
    with pytest.raises(EnvelopeError):
        whalet.decode_request(_with(envelope, part, field, _flip(value, last)))


@pytest.mark.parametrize("field", ["partnerId", "apiCode", "requestNo", "version"])
def test_any_flipped_character_in_a_signed_request_head_field_is_refused(partner, whalet, field):
    envelope = partner.encode_request("PDEMO0001", "payoutApply", "R20250101ABC", {"amount": Decimal("1")})
    value = envelope["head"][field]
    for index in range(len(value)):
        tampered = value[:index] + chr(ord(value[index]) ^ 1) + value[index + 1 :]
        with pytest.raises(SignatureInvalid):
            whalet.decode_request(_with(envelope, "head", field, tampered))


@pytest.mark.parametrize("field", ["partnerId", "apiCode", "requestNo", "version", "code", "detail"])
@pytest.mark.parametrize("body", [None, {"payoutId": "PO1"}])
def test_any_flipped_character_in_a_signed_response_head_field_is_refused(partner, whalet, field, body):
    head = {"partnerId": "PDEMO0001", "apiCode": "payoutConfirm", "requestNo": "R9", "version": "1.0"}
    answer = whalet.encode_response(head, "FAILURE", "expired", body)
    value = answer["head"][field]
    for index in range(len(value)):
        tampered = value[:index] + chr(ord(value[index]) ^ 1) + value[index + 1 :]
        with pytest.raises(SignatureInvalid):
            partner.decode_response(_with(answer, "head", field, tampered))
    with pytest.raises(SignatureInvalid):  # the one change that matters most
        partner.decode_response(_with(answer, "head", "code", "SUCCESS"))


def test_dropping_the_body_of_a_signed_response_is_refused(partner, whalet):
    answer = whalet.encode_response(
        {"partnerId": "P", "apiCode": "a", "requestNo": "R", "version": "1.0"}, "SUCCESS", "ok", {"x": 1}
    )
    with pytest.raises(SignatureInvalid):
        partner.decode_response({"head": answer["head"], "body": {}})


def test_wrong_keys_are_refused(pems, partner, whalet):
    stranger_private, stranger_public = generate_key_pair()
    envelope = partner.encode_request("P", "queryRate", "R5", {"a": 1})
    impostor_check = EnvelopeCodec(load_private_key(pems["whalet_private"]), load_public_key(stranger_public))
    with pytest.raises(SignatureInvalid):
        impostor_check.decode_request(envelope)
    wrong_recipient = EnvelopeCodec(load_private_key(stranger_private), load_public_key(pems["partner_public"]))
    with pytest.raises(MalformedEnvelope):
        wrong_recipient.decode_request(envelope)


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"head": "x"}', b'{"head": {}}', b'{"head": {"partnerId": 1}}'])
def test_malformed_messages_are_refused(whalet, raw):
    with pytest.raises(MalformedEnvelope):
        whalet.decode_request(raw)


def _bare_der(pem: bytes, private: bool) -> str:
    if private:
        key = serialization.load_pem_private_key(pem, password=None)
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    else:
        der = serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(der).decode("ascii")


def test_keys_as_bare_base64_der_and_as_files_work_like_pem(pems, whalet, tmp_path):
    key_file = tmp_path / "partner_private.pem"
    key_file.write_bytes(pems["partner_private"])
    public = load_public_key(_bare_der(pems["whalet_public"], private=False))
    for private in (_bare_der(pems["partner_private"], private=True), str(key_file)):
        codec = EnvelopeCodec(load_private_key(private), public)
        assert whalet.decode_request(codec.encode_request("P", "a", "R6", {"k": "v"})).body == {"k": "v"}
    with pytest.raises(EnvelopeError):
        load_public_key("bm90IGEga2V5")  # Base64 of "not a key"


def test_any_bare_base64_public_key_loads():
    modulus = (1 << 2047) | 1
    while True:  # a valid-looking key whose Base64 has a 256+ character stretch without '/'
        der = (
            rsa.RSAPublicNumbers(65537, modulus)
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        text = base64.b64encode(der).decode("ascii")
        if max(len(part) for part in text.split("/")) > 255:
            break
        modulus += 2**1000 + 2
    assert load_public_key(text).public_numbers().n == modulus


def test_floats_are_never_sent_and_decimals_are_written_exactly():
    assert (
        dumps_compact({"a": Decimal("1000.50"), "b": Decimal("1200"), "c": "鲸"}) == '{"a":1000.50,"b":1200,"c":"鲸"}'
    )
    assert loads_exact('{"a":1000.50}')["a"] == Decimal("1000.50")
    with pytest.raises(TypeError):
        dumps_compact({"a": 0.1})


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.sampled_from(["\x00whalet-decimal:12\x00", "whalet-decimal:1", '"\\u0000']),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_compact_json_round_trips_exactly_and_text_never_becomes_a_number(value):
    assert loads_exact(dumps_compact(value)) == value
