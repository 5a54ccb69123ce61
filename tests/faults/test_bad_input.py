"""Hostile and broken input at both doors: each is refused with the right status, nothing stored.

One stack (sandbox + Slack stand-in + the real app over loopback) serves the whole module: the
inbox row count before and after each case is the proof that a refused request left no trace.
Then property-based fuzzing (hypothesis) of the `/whalet` tokenizer, the envelope decoder and the
webhook endpoint: only the documented errors, never a crash, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.localstack import LocalStack, start_local_stack
from services.slack.tokenizer import TokenizeError, tokenize
from commands.modals import recall
from whalet.envelope import (
    EnvelopeCodec,
    EnvelopeError,
    dumps_compact,
    generate_key_pair,
    load_private_key,
    load_public_key,
)

from tests.fixtures.loopback import loopback

BODY = {
    "userId": "U10001",
    "collectionId": "COLBAD0001",
    "virtualAccountNo": "700001000184001",
    "fundSource": "B2C",
    "currency": "USD",
    "amount": Decimal("10.00"),
    "payerName": "Mallory",
    "receivedTime": "2024-05-01 09:00:00",
    "status": "SUCCESS",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_keys: Path) -> Iterator[LocalStack]:
    started = start_local_stack(tmp_path_factory.mktemp("bad-input"), keys_dir=stack_keys)
    yield started
    started.stop()


def whalet_codec(stack: LocalStack) -> EnvelopeCodec:
    return stack.sandbox.keys.whalet_codec()  # type: ignore[no-any-return]


def signed(
    stack: LocalStack, request_no: str, body: dict[str, Any] | None = None, codec: EnvelopeCodec | None = None
) -> dict[str, Any]:
    return (codec or whalet_codec(stack)).encode_request(
        stack.settings.whalet_partner_id, "collectionReceivedNotify", request_no, body or BODY
    )


def inbox_rows(stack: LocalStack) -> int:
    with stack.services.store.read() as db:
        return int(db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])


def post_webhook(
    stack: LocalStack, raw: bytes | Iterator[bytes], headers: dict[str, str] | None = None
) -> httpx.Response:
    return loopback.post(
        stack.url + "/whalet/webhook", content=raw, timeout=10, headers=headers or {"Content-Type": "application/json"}
    )


def _edit(message: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    change(message)
    return dumps_compact(message).encode()


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _another_key(stack: LocalStack) -> bytes:
    impostor_private, _ = generate_key_pair()
    impostor = EnvelopeCodec(
        load_private_key(impostor_private), load_public_key(str(stack.sandbox.keys.partner_public))
    )
    return dumps_compact(signed(stack, "WNBADKEY0001", codec=impostor)).encode()


def _latin1(stack: LocalStack) -> bytes:
    text = dumps_compact(signed(stack, "WNLATIN0001"))
    head, rest = text.split('"head":{', 1)
    return (head + '"head":{"note":"Müller",' + rest).encode("latin-1")


WEBHOOK_CASES: list[tuple[str, Callable[[LocalStack], bytes | Iterator[bytes]], int]] = [
    ("not JSON", lambda s: b"this is not json", 400),
    ("JSON array", lambda s: b"[1, 2, 3]", 400),
    ("JSON string", lambda s: b'"head"', 400),
    ("empty body", lambda s: b"", 400),
    ("head missing requestNo", lambda s: _edit(signed(s, "WNMISSING001"), lambda m: m["head"].pop("requestNo")), 400),
    ("head is a list", lambda s: _edit(signed(s, "WNHEADLIST01"), lambda m: m.update(head=[])), 400),
    (
        "over-long requestNo",
        lambda s: _edit(signed(s, "WNLONG000001"), lambda m: m["head"].update(requestNo="W" * 500)),
        400,
    ),
    ("oversized body (> 1 MiB)", lambda s: b'{"head": {}, "pad": "' + b"x" * (1 << 20) + b'"}', 413),
    ("oversized body streamed without Content-Length", lambda s: _chunks(b"[" * (64 << 10), 20), 413),
    (
        "tampered body (amount changed after signing)",
        lambda s: _edit(signed(s, "WNTAMPER0001"), lambda m: m["head"].update(requestNo="WNTAMPER0002")),
        401,
    ),
    ("re-signed with another key", _another_key, 401),
    (
        "truncated Base64 signature",
        lambda s: _edit(signed(s, "WNTRUNC00001"), lambda m: m["head"].update(sign=m["head"]["sign"][:-7])),
        400,
    ),
    (
        "truncated Base64 body",
        lambda s: _edit(signed(s, "WNTRUNC00002"), lambda m: m["body"].update(encrypt=m["body"]["encrypt"][:-5])),
        401,
    ),  # the signature covers the ciphertext: a cut body no longer verifies
    ("wrong encoding (Latin-1 bytes)", _latin1, 400),
    ("60,000 nested [ (under the legacy envelope's 64 KiB)", lambda s: b"[" * 60_000, 400),
    ("200,000 nested [ (over 64 KiB: refused unread)", lambda s: b"[" * 200_000, 413),
    (
        "60,000 nested [ inside a signed envelope",
        lambda s: dumps_compact(signed(s, "WNDEEP000001"))[:-1].encode() + b',"x":' + b"[" * 60_000,
        400,
    ),
    (
        "signed and encrypted business body nested 100 deep",
        lambda s: dumps_compact(signed(s, "WNDEEP000003", {**BODY, "extra": _nested(100)})).encode(),
        400,
    ),
    (
        "nesting deeper than 64 that still parses",
        lambda s: dumps_compact(signed(s, "WNDEEP000002"))[:-1].encode() + b',"x":' + b"[" * 500 + b"]" * 500 + b"}",
        400,
    ),
]


@pytest.mark.parametrize(
    "build, status", [(b, s) for _, b, s in WEBHOOK_CASES], ids=[name for name, _, _ in WEBHOOK_CASES]
)
def test_bad_webhook_is_refused_and_nothing_is_stored(stack: LocalStack, build, status: int) -> None:
    before = inbox_rows(stack)
    answer = post_webhook(stack, build(stack))
    assert answer.status_code == status, answer.text
    assert inbox_rows(stack) == before


def test_replayed_notification_is_acked_every_time_and_stored_once(stack: LocalStack) -> None:
    raw = dumps_compact(signed(stack, "WNREPLAY0001", {**BODY, "collectionId": "COLREPLAY1"})).encode()
    before = inbox_rows(stack)
    answers = [post_webhook(stack, raw) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    for answer in answers:  # each is a signed SUCCESS ack Whalet accepts
        ack = stack.sandbox.keys.whalet_codec().decode_response(answer.content)
        assert ack.head["code"] == "SUCCESS" and ack.head["requestNo"] == "WNREPLAY0001"
    assert inbox_rows(stack) == before + 1


# --- Slack's door ------------------------------------------------------------------------------


def _signed_raw(stack: LocalStack, body: bytes) -> httpx.Response:
    """Slack's v0 signature over raw bytes (slack_sdk's signer wants text)."""
    timestamp = str(int(time.time()))
    secret = stack.settings.slack_signing_secret.get_secret_value().encode()
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return loopback.post(
        stack.slack_requests.url,
        content=body,
        timeout=10,
        headers={
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def _chunks(piece: bytes, count: int) -> Iterator[bytes]:
    """A streamed (chunked) body: the server learns its size only by counting."""
    for _ in range(count):
        yield piece


def _slack_cases() -> list[tuple[str, Callable[[LocalStack], httpx.Response], int]]:
    command = urlencode(
        {
            "command": "/whalet",
            "text": "balance",
            "user_id": "U0REQ",
            "channel_id": "C0DEMO",
            "team_id": "TDEMO",
            "response_url": "http://127.0.0.1:9/x",
            "trigger_id": "1",
        }
    ).encode()

    def unsigned(s: LocalStack) -> httpx.Response:
        return loopback.post(
            s.slack_requests.url,
            content=command,
            timeout=10,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def bad_payload(text: str) -> Callable[[LocalStack], httpx.Response]:
        return lambda s: s.slack_requests.post(urlencode({"payload": text}).encode())

    return [
        ("no signature", unsigned, 401),
        ("stale timestamp", lambda s: s.slack_requests.post(command, timestamp=1_000_000), 401),
        ("tampered signature", lambda s: s.slack_requests.post(command, tamper=True), 401),
        (
            "body changed after signing",
            lambda s: s.slack_requests.post(
                command, headers={"X-Slack-Signature": s.slack_requests.sign(b"text=help")["X-Slack-Signature"]}
            ),
            401,
        ),
        (
            "signed with another secret",
            lambda s: s.slack_requests.post(command, signature="v0=" + secrets.token_hex(32)),
            401,
        ),
        ("payload is not JSON", bad_payload("{not json"), 400),
        ("body is not UTF-8", lambda s: _signed_raw(s, b"payload=%7B%7D&text=\xff\xfe"), 400),
        (
            "JSON body that is a list",
            lambda s: s.slack_requests.post(b"[1]", headers={"Content-Type": "application/json"}),
            400,
        ),
        ("payload is a JSON list", bad_payload("[1, 2]"), 400),
        ("payload of an unknown type", bad_payload(json.dumps({"type": "mystery", "user": {"id": "U0REQ"}})), 404),
        (
            "200,000 nested [ as a signed JSON body",
            lambda s: s.slack_requests.post(b"[" * 200_000, headers={"Content-Type": "application/json"}),
            400,
        ),
        ("200,000 nested [ as a signed payload", lambda s: s.slack_requests.post(b"payload=" + b"%5B" * 200_000), 400),
        (
            "200,000 nested [ unsigned: refused before parsing",
            lambda s: loopback.post(
                s.slack_requests.url, content=b"[" * 200_000, timeout=10, headers={"Content-Type": "application/json"}
            ),
            401,
        ),
        ("signed body over 1 MiB", lambda s: s.slack_requests.post(b"text=" + b"x" * (1 << 20)), 413),
        (
            "a signed JSON body sent as form data",  # Bolt read it as JSON anyway and answered 500
            lambda s: s.slack_requests.post(b'{"type": "block_actions", "actions": 7}'),
            400,
        ),
        (
            "unsigned body over 1 MiB, streamed without Content-Length",
            lambda s: loopback.post(s.slack_requests.url, content=_chunks(b"x" * (64 << 10), 20), timeout=10),
            413,
        ),
        (
            "timestamp that is not a number",
            lambda s: s.slack_requests.post(command, headers={"X-Slack-Request-Timestamp": "soon"}),
            401,
        ),
        (
            "signature with non-ASCII bytes",
            lambda s: loopback.post(
                s.slack_requests.url,
                content=command,
                timeout=10,
                headers={**s.slack_requests.sign(command), "X-Slack-Signature": "v0=\u00e9t\u00e9".encode("latin-1")},
            ),
            401,
        ),
    ]


SLACK_CASES = _slack_cases()


@pytest.mark.parametrize(
    "send, status", [(send, status) for _, send, status in SLACK_CASES], ids=[name for name, _, _ in SLACK_CASES]
)
def test_bad_slack_request_is_refused_and_changes_nothing(stack: LocalStack, send, status: int) -> None:
    def effects() -> tuple[int, int]:  # Bolt's one-time auth.test is not an effect of the request
        return len(stack.fake.responses()), len([c for c in stack.fake.calls() if c.method != "auth.test"])

    before = effects()
    answer = send(stack)
    assert answer.status_code == status, answer.text
    assert effects() == before
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM approval_requests").fetchone()[0] == 0


# --- fuzzing ----------------------------------------------------------------------------------

SLACKISH = st.text(
    alphabet=st.sampled_from(list("abc XYZ 12.50 \"'\u201c\u201d\u2018\u2019\u201e <>@#!|^&;:/\\\n\t"))
    | st.characters(),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(SLACKISH)
def test_tokenizer_only_ever_raises_tokenize_error(text: str) -> None:
    try:
        tokens = tokenize(text)
    except TokenizeError:
        return
    assert all(isinstance(token, str) for token in tokens)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
HEAD_KEYS = st.sampled_from(["partnerId", "apiCode", "requestNo", "version", "sign", "keyEnc", "timestamp"])
ENVELOPEISH = st.fixed_dictionaries(
    {
        "head": st.dictionaries(HEAD_KEYS, st.text(max_size=40) | JSONISH, max_size=7),
        "body": st.dictionaries(st.just("encrypt"), st.text(max_size=60) | JSONISH),
    }
)


@pytest.fixture(scope="module")
def codec(stack: LocalStack) -> EnvelopeCodec:
    return stack.services.whalet_codec  # type: ignore[no-any-return]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | JSONISH.map(lambda v: json.dumps(v).encode()) | ENVELOPEISH)
def test_envelope_decoder_only_ever_raises_envelope_error(codec: EnvelopeCodec, message: Any) -> None:
    try:
        codec.decode_notification(message)
    except EnvelopeError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200) | ENVELOPEISH.map(lambda v: json.dumps(v).encode()))
def test_webhook_never_answers_500_to_garbage(stack: LocalStack, raw: bytes) -> None:
    before = inbox_rows(stack)
    answer = post_webhook(stack, raw)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert inbox_rows(stack) == before


# --- hostile amounts through the real Bolt app ------------------------------------------------

HOSTILE_AMOUNTS = [
    ("1" * 29, "at most 15 digits"),
    ("١٢٠٠", "digits 0-9"),
    ("१२००", "digits 0-9"),  # Devanagari; full-width １２００ is read as 1200 (NFKC, tests/i18n/test_input.py)
    ("9" * 16, "at most 15 digits"),
    ("&lt;!channel&gt;", "'&lt;!channel&gt;' is not an amount"),
]  # a typed '<' reaches us as &lt;


@pytest.mark.parametrize("word, needle", HOSTILE_AMOUNTS, ids=[w[:12] for w, _ in HOSTILE_AMOUNTS])
@pytest.mark.parametrize("sub", ["payout", "pay"])
def test_hostile_amount_is_answered_in_the_ack(stack: LocalStack, sub: str, word: str, needle: str) -> None:
    target = "acme-us" if sub == "payout" else "U20001"
    answer = stack.slack_requests.command("U0REQ", f"{sub} {word} USD to {target}")
    assert answer.status_code == 200, answer.text
    text = answer.json()["text"]
    assert needle in text and "Usage:" in text
    assert "<!channel>" not in text  # whatever was typed stays text
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM approval_requests").fetchone()[0] == 0


def test_hostile_amount_in_the_payout_form_is_a_field_error(stack: LocalStack) -> None:
    assert stack.slack_requests.command("U0REQ", "payout").status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "payout_modal"), None)
    )
    assert view is not None
    for word, needle in HOSTILE_AMOUNTS[:4]:
        answer = stack.slack_requests.view_submission(
            "U0REQ", view.view, {"beneficiary": "BEN002", "amount": word, "currency": "USD"}
        )
        assert answer.status_code == 200, answer.text
        assert needle in answer.json()["errors"]["amount"]


NESTING = st.builds(
    lambda opener, depth, closed: opener * depth + (b"]" * depth if closed and opener == b"[" else b""),
    st.sampled_from([b"[", b'{"a":', b'[{"b":']),
    st.integers(1, 150_000),
    st.booleans(),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(NESTING)
def test_any_nesting_is_refused_at_both_doors_never_a_500(stack: LocalStack, raw: bytes) -> None:
    before = inbox_rows(stack)
    answer = post_webhook(stack, raw)
    legacy_cap = stack.services.whalet.protocol.unauthenticated_body_limit  # bigger: refused unread
    assert answer.status_code == (413 if len(raw) > legacy_cap else 400), (answer.status_code, answer.text)
    assert inbox_rows(stack) == before
    for body, kind in ((raw, "application/json"), (b"payload=" + raw, "application/x-www-form-urlencoded")):
        answer = stack.slack_requests.post(body, headers={"Content-Type": kind})
        assert answer.status_code == 400, (answer.status_code, answer.text)


def test_a_payer_name_from_whalet_stays_text_in_history_and_in_the_notification(stack: LocalStack) -> None:
    answer = stack.operator.post(
        "/sandbox/collect",
        json={
            "userId": "U10001",
            "currency": "USD",
            "amount": "5.00",
            "payerName": "<!channel> <https://evil.example|Bank>",
        },
    )
    assert answer.status_code == 200, answer.text
    before = len(stack.fake.responses())
    assert stack.slack_requests.command("U0VIEW", "history collections --days 2").status_code == 200
    post = stack.fake.wait_for(lambda: stack.fake.responses()[before:], timeout=10)[0]
    shown = json.dumps(post.body, ensure_ascii=False)
    assert "&lt;!channel&gt; &lt;https://evil.example|Bank&gt;" in shown and "<!channel>" not in shown
    message = stack.fake.wait_for(lambda: next((m for m in stack.fake.messages("C0COLLECT") if "evil" in m.text), None))
    assert message is not None and "<!channel>" not in message.text + json.dumps(message.blocks)


@pytest.mark.parametrize("path", ["/whalet/webhook", "/slack/events"])
def test_a_declared_length_over_1_mib_is_refused_before_reading(stack: LocalStack, path: str) -> None:
    """Content-Length says 2 MiB and 10 bytes follow: answered at once (a server that read first
    would wait for the rest until the client gave up). A raw socket, since HTTP clients refuse to lie."""
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {2 << 20}\r\n\r\n0123456789".encode()
        )
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), status_line


@pytest.mark.parametrize("meta", ["[" * 3000, '{"a":' * 1500, "[" * 100 + "]" * 100, "not json", "[1]", ""])
def test_modal_metadata_of_any_shape_reads_as_empty(stack: LocalStack, meta: str) -> None:
    """private_metadata is only an id of server-side form state: anything else recalls nothing."""
    assert recall(stack.services.store, {"private_metadata": meta}) == {}
