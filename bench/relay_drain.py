"""How fast does a backlog of notifications drain into Slack channels that enforce Slack's pace?

Starts the local stack (Whalet sandbox, Slack stand-in, the real app), makes the stand-in enforce
1 message/s per channel with a burst of 3 (answering 429 + Retry-After beyond that), then has the
sandbox deliver N notifications spread over 6 channels through the real webhook. Prints the drain
time against the theoretical floor, the number of 429s Slack would have sent, and how many
notifications were lost or shown twice (both must be 0).

``--sessions`` measures what one HTTP session per process is worth instead: the stand-in serves
HTTPS (a throwaway self-signed certificate for 127.0.0.1, trusted through ``SSL_CERT_FILE``, as an
operator would trust a private CA), Slack's pace is lifted so the calls themselves are the limit,
and the same drain runs twice: with the app's clients detached from their session (slack_sdk then
opens a session, a TCP connection and a TLS handshake per call: the old behaviour), and with the
one shared session. It prints each drain's throughput, the median time of one chat.postMessage as
the outbox's client sees it, the distinct connections the stand-in saw, and the ratios.

    python bench/relay_drain.py [--notifications 600] [--channels 6] [--sessions]
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE, BURST = 1.0, 3


def bench_config(channels: int, unpaced: bool = False) -> str:
    from devkit.localstack import DEMO_CONFIG

    routes = "".join(
        f'\n[[routes]]\nevents = ["benchChannel{n}Notify"]\nchannel = "C0BENCH{n}"\n' for n in range(channels)
    )
    pace = "\npace_per_second = 10000\nburst = 10000\nfold_threshold = 100000" if unpaced else ""
    return DEMO_CONFIG.replace("\n[notifications]", routes + "\n[notifications]" + pace)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=600)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--sessions", action="store_true", help="per-call sessions against one shared, over TLS")
    options = parser.parse_args()
    if options.sessions:
        return compare_sessions(options.notifications, options.channels)
    return paced_drain(options.notifications, options.channels)


def paced_drain(total: int, channels: int) -> int:
    from devkit.localstack import start_local_stack

    stack = start_local_stack(config_toml=bench_config(channels))
    try:
        stack.fake.enforce_rate(RATE, BURST)
        started = time.monotonic()
        for n in range(total):
            stack.operator.post(
                "/sandbox/notify",
                json={
                    "apiCode": f"benchChannel{n % channels}Notify",
                    "body": {"userId": "U10001", "note": f"bench-{n:05d}", "status": "SUCCESS"},
                },
            ).raise_for_status()
        queued = time.monotonic() - started
        per_channel = math.ceil(total / channels)
        floor = max(0.0, (per_channel - BURST) / RATE)
        deadline = started + floor * 3 + 60

        def delivered() -> list[str]:
            return [json.dumps(m.blocks) for m in stack.fake.messages() if m.channel.startswith("C0BENCH")]

        while len(delivered()) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        drained = time.monotonic() - started
        seen = Counter(tag for text in delivered() for tag in _tags(text))
        rate_limited = sum(1 for call in stack.fake.calls("chat.postMessage") if call.status == 429)
    finally:
        stack.stop()
    lost = sum(1 for n in range(total) if seen[f"bench-{n:05d}"] == 0)
    duplicated = sum(count - 1 for count in seen.values() if count > 1)
    print(f"{total} notifications over {channels} channels (Slack pace {RATE:g}/s per channel, burst {BURST})")
    print(f"handed to the sandbox in {queued:.1f} s")
    print(f"drained in {drained:.1f} s; theoretical floor {floor:.1f} s; ratio {drained / floor if floor else 0:.2f}")
    print(f"429 answers: {rate_limited}   lost: {lost}   duplicated: {duplicated}")
    return 0 if lost == 0 and duplicated == 0 else 1


def _tags(text: str) -> list[str]:
    return re.findall(r"bench-\d{5}", text)


def self_signed(folder: Path) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1 (EC P-256, one day), and its key: (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slack-standin.localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "standin.crt", folder / "standin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def compare_sessions(total: int, channels: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="relay-drain-tls-"))
    tls = self_signed(folder)
    # Before aiohttp is imported: its verified TLS context (the one the app's Slack clients use,
    # unchanged) is built at import, from the default trust store, which this file then is.
    os.environ["SSL_CERT_FILE"] = tls[0]
    assert "aiohttp" not in sys.modules
    print(f"{total} notifications over {channels} channels, Slack's pace lifted, the stand-in over HTTPS")
    results = {shared: drain_over_tls(total, channels, tls, shared) for shared in (False, True)}
    for shared, r in results.items():
        label = "one shared session " if shared else "a session per call"
        print(
            f"{label}: drained in {r['drained']:5.2f} s = {r['throughput']:6.1f} posts/s;"
            f" chat.postMessage median {r['median_ms']:6.2f} ms (p90 {r['p90_ms']:6.2f} ms);"
            f" {r['connections']} connections for {r['calls']} calls; lost {r['lost']}, duplicated {r['duplicated']}"
        )
    old, new = results[False], results[True]
    print(
        f"shared / per-call: throughput {new['throughput'] / old['throughput']:.2f}x,"
        f" median call time {new['median_ms'] / old['median_ms']:.2f}x"
    )
    return 0 if all(r["lost"] == 0 and r["duplicated"] == 0 for r in results.values()) else 1


def drain_over_tls(total: int, channels: int, tls: tuple[str, str], shared: bool) -> dict[str, Any]:
    from core.storage import inbox
    from devkit.localstack import start_local_stack
    from notifications.kinds import business_id

    stack = start_local_stack(config_toml=bench_config(channels, unpaced=True), slack_tls=tls)
    try:
        services = stack.services
        assert stack.settings.slack_api_base_url.startswith("https://")
        if not shared:  # the old behaviour: slack_sdk opens a session (a connection, a handshake) per call
            services.slack.session = services.slack_outbox.session = None
        timings: list[float] = []
        post = services.slack_outbox.api_call

        async def timed(*args: Any, **kwargs: Any) -> Any:  # the outbox's calls, as its client sees them
            began = time.perf_counter()
            try:
                return await post(*args, **kwargs)
            finally:
                timings.append(time.perf_counter() - began)

        services.slack_outbox.api_call = timed  # type: ignore[method-assign]
        before = len(stack.fake.calls())
        # A backlog, so the drain measures Slack calls rather than how fast notifications arrive:
        # all but the last stored in the inbox in one transaction, as the webhook stores a burst;
        # the last comes through the sandbox and the real webhook, which wakes the relay.
        with services.store.transaction() as db:
            for n in range(total - 1):
                body = {"userId": "U10001", "note": f"bench-{n:05d}", "status": "SUCCESS"}
                head = {"apiCode": f"benchChannel{n % channels}Notify", "requestNo": f"BENCH{n:08d}"}
                inbox.store(db, head, body, business_id(head["apiCode"], body), services.clock.now())
        started = time.monotonic()
        last = total - 1
        stack.operator.post(
            "/sandbox/notify",
            json={
                "apiCode": f"benchChannel{last % channels}Notify",
                "body": {"userId": "U10001", "note": f"bench-{last:05d}", "status": "SUCCESS"},
            },
        ).raise_for_status()

        def delivered() -> list[str]:
            return [json.dumps(m.blocks) for m in stack.fake.messages() if m.channel.startswith("C0BENCH")]

        deadline = started + 300
        while len(delivered()) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        drained = time.monotonic() - started
        seen = Counter(tag for text in delivered() for tag in _tags(text))
        calls = stack.fake.calls()[before:]
    finally:
        stack.stop()
    ms = sorted(t * 1000 for t in timings)
    return {
        "drained": drained,
        "throughput": total / drained,
        "median_ms": statistics.median(ms),
        "p90_ms": ms[int(0.9 * (len(ms) - 1))],
        "calls": len(calls),
        "connections": len({c.connection for c in calls}),
        "lost": sum(1 for n in range(total) if seen[f"bench-{n:05d}"] == 0),
        "duplicated": sum(count - 1 for count in seen.values() if count > 1),
    }


if __name__ == "__main__":
    sys.exit(main())
