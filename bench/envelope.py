"""How fast is the envelope codec on this machine, and how close is it to the RSA bound?

Every request costs one RSA sign (our key) + one RSA encrypt (keyEnc, to Whalet's key); every
notification costs one RSA verify + one RSA decrypt (keyEnc, our key). Private-key operations
dominate, so the codec can never beat the raw RSA figures measured here in the same run; the
ratio shows how much the JSON, AES and Base64 around them cost.

    python bench/envelope.py [--seconds N]

Figures are medians of several rounds; the default run takes about 20 seconds.
"""

from __future__ import annotations

import argparse
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
    generate_key_pair,
    load_private_key,
    load_public_key,
)

ROUNDS = 5
BODY = {"userId": "U000123", "merOrderNo": "P20250101120000123ABCDEFGHIJ", "fundSource": "B2B",
        "currency": "USD", "amount": Decimal("1200.50"), "toCurrency": "HKD", "beneficiaryId": "B778899",
        "purpose": "supplier invoice 4471", "remark": "鲸 quarterly settlement"}


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

    own_public = own_key.public_key()
    figures = measure({
        "rsa sign": lambda: own_key.sign(message, SIGN_PADDING, SIGN_HASH),
        "rsa verify": lambda: own_public.verify(signature, message, SIGN_PADDING, SIGN_HASH),
        "rsa encrypt": lambda: peer_key.encrypt(session_key, KEY_WRAP_PADDING),
        "rsa decrypt": lambda: own_key.decrypt(wrapped_to_us, KEY_WRAP_PADDING),
        "encode request": lambda: partner.encode_request("PDEMO0001", "payoutApply", "R1", BODY),
        "decode notification": lambda: partner.decode_notification(notification),
    }, seconds)
    encode_bound = harmonic(figures["rsa sign"], figures["rsa encrypt"])
    decode_bound = harmonic(figures["rsa verify"], figures["rsa decrypt"])

    print(f"envelope codec, RSA-{own_key.key_size}, medians of {ROUNDS} rounds of {seconds:g} s")
    for name, rate in figures.items():
        print(f"  {name:<22}{rate:>12,.0f} ops/s")
    print(f"  encode request  = {figures['encode request']:,.0f} ops/s, RSA bound (sign+encrypt) "
          f"{encode_bound:,.0f} ops/s, ratio {figures['encode request'] / encode_bound:.2f}")
    print(f"  decode notif.   = {figures['decode notification']:,.0f} ops/s, RSA bound (verify+decrypt) "
          f"{decode_bound:,.0f} ops/s, ratio {figures['decode notification'] / decode_bound:.2f}")


if __name__ == "__main__":
    main()
