"""How fast is each protocol profile's wire work on this machine, and how close is legacy to the RSA bound?

Legacy: every request costs one RSA sign (our key) + one RSA encrypt (keyEnc, to Whalet's key);
every notification costs one RSA verify + one RSA decrypt (keyEnc, our key). Private-key
operations dominate, so the codec can never beat the raw RSA figures measured here in the same
run; the ratio shows how much the JSON, AES and Base64 around them cost.

REST v1 has no RSA: a call is compact JSON, the AES-encrypted fields, an HMAC-SHA256 header and
the ``{code, message, data}`` answer read back; a notification is one HMAC check and a JSON parse.
"Per call" below is the client's whole wire work for one call (request built, answer opened) in
each profile, on one core; the issue's target is v1 at least 10x legacy.

    python bench/envelope.py [--seconds N]

Figures are medians of several rounds; the default run takes about 20 seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whalet.envelope import (  # noqa: E402
    KEY_WRAP_PADDING,
    SIGN_HASH,
    SIGN_PADDING,
    EnvelopeCodec,
    dumps_compact,
    generate_key_pair,
    load_private_key,
    load_public_key,
)
from whalet.transport import V1Credentials, V1Transport  # noqa: E402

ROUNDS = 5
ANSWER = {
    "payoutId": "PO20250101000001",
    "merOrderNo": "P20250101120000123ABCDEFGHIJ",
    "status": "WAIT_CONFIRM",
    "amount": Decimal("1200.50"),
    "fee": Decimal("1.20"),
    "toAmount": Decimal("9345.67"),
    "rate": Decimal("7.784711"),
    "expireTime": "2025-01-01 12:30:00",
}
BODY = {
    "userId": "U000123",
    "merOrderNo": "P20250101120000123ABCDEFGHIJ",
    "fundSource": "B2B",
    "currency": "USD",
    "amount": Decimal("1200.50"),
    "toCurrency": "HKD",
    "beneficiaryId": "B778899",
    "purpose": "supplier invoice 4471",
    "remark": "鲸 quarterly settlement",
}


def one_round(action: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(10):
            action()
        count += 10
    return count / elapsed


def measure(actions: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Median ops/s per action. Rounds are interleaved (A B C, A B C, ...) so that a noisy
    neighbour on the machine slows every figure alike instead of skewing the ratios."""
    rates: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(ROUNDS):
        for name, action in actions.items():
            rates[name].append(one_round(action, seconds))
    return {name: statistics.median(values) for name, values in rates.items()}


def harmonic(*rates: float) -> float:
    """Throughput of doing each operation once per message: 1 / sum(1 / rate)."""
    return 1 / sum(1 / rate for rate in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one measuring round (default 0.5)")
    seconds = parser.parse_args().seconds

    (partner_pem, partner_pub), (whalet_pem, whalet_pub) = generate_key_pair(), generate_key_pair()
    partner = EnvelopeCodec(load_private_key(partner_pem), load_public_key(whalet_pub))
    whalet = EnvelopeCodec(load_private_key(whalet_pem), load_public_key(partner_pub))
    own_key, peer_key = load_private_key(partner_pem), load_public_key(whalet_pub)
    message = b"partnerId=PDEMO0001&apiCode=payoutApply&requestNo=R1&version=1.0&encrypt=" + b"A" * 344
    signature = own_key.sign(message, SIGN_PADDING, SIGN_HASH)
    session_key = os.urandom(16)
    wrapped_to_us = own_key.public_key().encrypt(session_key, KEY_WRAP_PADDING)
    notification = whalet.encode_request("PDEMO0001", "payoutResultNotify", "N1", BODY)

    answer = whalet.encode_response(
        partner.encode_request("PDEMO0001", "payoutApply", "R1", BODY)["head"], "SUCCESS", "成功", ANSWER
    )

    legacy_answer = dumps_compact(answer).encode()

    def legacy_call() -> object:
        dumps_compact(partner.encode_request("PDEMO0001", "payoutApply", "R1", BODY)).encode()
        return partner.decode_response(legacy_answer)

    creds = V1Credentials.from_text("CL1", "secret", "hmac-key-0123456789", "AAECAwQFBgcICQoLDA0ODw==")
    v1 = V1Transport("http://127.0.0.1:1", "PDEMO0001", creds)
    v1_answer = dumps_compact({"code": "SUCCESS", "message": "成功", "data": ANSWER}).encode()
    v1_note = dumps_compact(BODY).encode()
    v1_note_headers = {
        "partnerId": "PDEMO0001",
        "requestNo": "N1",
        "timestamp": "0",
        "notifyType": "payoutResultNotify",
    }

    def v1_call() -> object:
        content = dumps_compact(v1.prepare_body(BODY)).encode()
        v1.headers("R1", content, None)
        return v1.read_answer("payoutApply", 200, v1_answer, "payoutApply", "R1")

    def v1_notification() -> object:
        stamp = str(int(time.time() * 1000))
        signed = {**v1_note_headers, "timestamp": stamp, "sign": _webhook_sign(v1, stamp, v1_note)}
        return v1.open_notification(signed, v1_note, BODY)

    own_public = own_key.public_key()
    figures = measure(
        {
            "rsa sign": lambda: own_key.sign(message, SIGN_PADDING, SIGN_HASH),
            "rsa verify": lambda: own_public.verify(signature, message, SIGN_PADDING, SIGN_HASH),
            "rsa encrypt": lambda: peer_key.encrypt(session_key, KEY_WRAP_PADDING),
            "rsa decrypt": lambda: own_key.decrypt(wrapped_to_us, KEY_WRAP_PADDING),
            "encode request": lambda: partner.encode_request("PDEMO0001", "payoutApply", "R1", BODY),
            "decode notification": lambda: partner.decode_notification(notification),
            "legacy per call": legacy_call,
            "v1 per call": v1_call,
            "v1 notification": v1_notification,
        },
        seconds,
    )
    encode_bound = harmonic(figures["rsa sign"], figures["rsa encrypt"])
    decode_bound = harmonic(figures["rsa verify"], figures["rsa decrypt"])

    print(f"envelope codec, RSA-{own_key.key_size}, medians of {ROUNDS} rounds of {seconds:g} s")
    for name, rate in figures.items():
        print(f"  {name:<22}{rate:>12,.0f} ops/s")
    print(
        f"  encode request  = {figures['encode request']:,.0f} ops/s, RSA bound (sign+encrypt) "
        f"{encode_bound:,.0f} ops/s, ratio {figures['encode request'] / encode_bound:.2f}"
    )
    print(
        f"  decode notif.   = {figures['decode notification']:,.0f} ops/s, RSA bound (verify+decrypt) "
        f"{decode_bound:,.0f} ops/s, ratio {figures['decode notification'] / decode_bound:.2f}"
    )
    print(
        f"  per call: v1 {figures['v1 per call']:,.0f} ops/s vs legacy {figures['legacy per call']:,.0f} ops/s "
        f"= {figures['v1 per call'] / figures['legacy per call']:.0f}x (target: at least 10x)"
    )
    print(
        f"  per notification: v1 {figures['v1 notification']:,.0f} ops/s vs legacy "
        f"{figures['decode notification']:,.0f} ops/s = "
        f"{figures['v1 notification'] / figures['decode notification']:.0f}x"
    )


def _webhook_sign(v1: V1Transport, stamp: str, body: bytes) -> str:
    """What Whalet puts in a v1 webhook's sign header (the canonical template), for the benchmark."""
    return hmac.new(
        v1.credentials.hmac_key.encode(), b"PDEMO0001N1" + stamp.encode() + body, hashlib.sha256
    ).hexdigest()


if __name__ == "__main__":
    main()
