"""How many signed Whalet notifications per second does the webhook store and acknowledge?

Posts N distinct, signed ``collectionReceivedNotify`` envelopes with C concurrent senders to a
running server and prints accepted per second, ack latency (p50/p99), and the ratio to the
crypto bound measured in the same run: verify + decrypt + sign-the-ack per message on one core,
which is the least work the server must do per message (two RSA private-key operations), so
the ratio shows what HTTP, JSON, SQLite's durable commit and the event loop cost on top.

    python bench/webhook_ingest.py [--count 5000] [--concurrency 32]
    python bench/webhook_ingest.py --url http://host:port --keys-dir DIR [--partner-id P]

Without ``--url`` it starts the local stack (Whalet sandbox + Slack stand-in + the real app,
exactly as `whalet-bot demo` does) in a child process, so the load generator does not share
the server's interpreter lock. With ``--url`` it needs the sandbox key directory (the Whalet
private key signs, the partner public key encrypts). Target: ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whalet.envelope import EnvelopeCodec, dumps_compact  # noqa: E402
from devkit.whalet_sandbox.keys import SandboxKeys, ensure_keys  # noqa: E402

TARGET_RATIO = 0.5
BOUND_SAMPLE = 400


def serve(workdir: str, conn: Any) -> None:
    """Child process: the whole local stack; reports its URL, stops when told."""
    import logging

    logging.disable(logging.INFO)
    from devkit.localstack import start_local_stack

    stack = start_local_stack(Path(workdir))
    conn.send(
        (stack.url, str(stack.workdir / "keys"), str(stack.settings.whalet_bot_db), stack.settings.whalet_partner_id)
    )
    conn.recv()
    stack.stop()


def envelopes(keys: SandboxKeys, partner_id: str, count: int) -> list[bytes]:
    """Distinct notifications (own requestNo and collectionId each), signed as Whalet signs them."""
    whalet = keys.whalet_codec()
    run = f"{time.time_ns() % 10**8:08d}"
    out = []
    for index in range(count):
        body = {
            "userId": "U10001",
            "collectionId": f"CB{run}{index:07d}",
            "virtualAccountNo": "700001000184001",
            "fundSource": "B2C",
            "currency": "USD",
            "amount": Decimal("1200.50") + index,
            "payerName": "Bench Payer Ltd",
            "payerAccount": "GB29NWBK60161331926819",
            "receivedTime": "2024-05-01 09:00:00",
            "status": "SUCCESS",
        }
        message = whalet.encode_request(partner_id, "collectionReceivedNotify", f"WB{run}{index:07d}", body)
        out.append(dumps_compact(message).encode())
    return out


def crypto_bound(partner: EnvelopeCodec, sample: list[bytes]) -> float:
    """Messages per second one core can verify, decrypt and sign an ack for (best of 3 passes)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for raw in sample:
            opened = partner.decode_notification(raw)
            dumps_compact(partner.encode_ack(opened.head))
        best = min(best, (time.perf_counter() - started) / len(sample))
    return 1 / best


class Connection:
    """A lean keep-alive HTTP/1.1 client: the load generator must cost far less than the server,
    or the benchmark measures the client (httpx spends milliseconds per request)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
            self.writer = None
        return status, body


async def load(url: str, payloads: list[bytes], concurrency: int, checker: EnvelopeCodec) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    bad_acks = 0

    async def sender() -> None:
        nonlocal bad_acks
        connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        while not queue.empty():
            payload = queue.get_nowait()
            started = time.perf_counter()
            status, body = await connection.post(parts.path, payload)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200 and len(latencies) % 100 == 0:  # spot-check the signed ack
                if checker.decode_response(body).head.get("code") != "SUCCESS":
                    bad_acks += 1
        if connection.writer is not None:
            connection.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "elapsed": elapsed,
        "statuses": statuses,
        "bad_acks": bad_acks,
        "p50": statistics.median(latencies),
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
    }


def wait_relayed(db_path: str, timeout: float = 120.0) -> float | None:
    """Seconds until the relay has turned every inbox row into outbox rows (None: timed out)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        with sqlite3.connect(db_path) as db:
            if db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0] == 0:
                return time.perf_counter() - started
        time.sleep(0.1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--url", help="base URL of a running whalet-bot (default: start the local stack)")
    parser.add_argument("--keys-dir", type=Path, help="sandbox key directory (with --url)")
    parser.add_argument("--partner-id", default="PDEMO0001")
    args = parser.parse_args()

    child, parent_conn, db_path, tmp, drained = None, None, None, None, None
    if args.url:
        if not args.keys_dir:
            parser.error("--url needs --keys-dir")
        base, keys, partner_id = args.url.rstrip("/"), ensure_keys(args.keys_dir), args.partner_id
    else:
        tmp = tempfile.TemporaryDirectory(prefix="whalet-bench-")
        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe()
        child = context.Process(target=serve, args=(tmp.name, child_conn), daemon=True)
        child.start()
        base, keys_dir, db_path, partner_id = parent_conn.recv()
        keys = ensure_keys(Path(keys_dir))
    try:
        print(f"preparing {args.count} signed notifications ...", flush=True)
        payloads = envelopes(keys, partner_id, args.count)
        partner = keys.partner_codec()
        bound = crypto_bound(partner, payloads[:BOUND_SAMPLE])
        print(f"posting with concurrency {args.concurrency} to {base}/whalet/webhook ...", flush=True)
        result = asyncio.run(load(base + "/whalet/webhook", payloads, args.concurrency, keys.whalet_codec()))
        drained = wait_relayed(db_path) if db_path else None
        bound = max(bound, crypto_bound(partner, payloads[:BOUND_SAMPLE]))  # best of before and after
    finally:
        if child is not None and parent_conn is not None:
            parent_conn.send("stop")
            child.join(timeout=30)
    accepted = result["statuses"].get(200, 0)
    rate = accepted / result["elapsed"]
    print(
        f"accepted        {accepted} of {args.count} (HTTP statuses {result['statuses']}, bad acks {result['bad_acks']})"
    )
    if db_path:
        with sqlite3.connect(db_path) as db:
            rows = db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
        print(f"inbox rows      {rows}")
    if drained is not None:
        print(f"relayed         inbox backlog empty {drained:.1f} s after the last ack (acks get priority)")
    print(f"accepted/s      {rate:,.0f}")
    print(f"ack latency     p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms")
    print(f"crypto bound    {bound:,.0f} msg/s on one core (verify + decrypt + sign ack)")
    ratio = rate / bound
    print(f"ratio           {ratio:.2f} (target >= {TARGET_RATIO})")
    if tmp is not None:
        tmp.cleanup()
    return 0 if ratio >= TARGET_RATIO and accepted == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
