"""Do slash commands still ack fast while strangers flood the Whalet webhook with unsigned bodies?

Starts the local stack (sandbox, Slack stand-in, the real app on loopback), then, from a process
of its own, sends signed `/whalet help` commands one after another and times each HTTP ack: first
with nobody else talking, then while ``--senders`` other connections post unsigned notifications
to `/whalet/webhook` as fast as the app answers them (the default legacy profile: an envelope
whose signature sits inside the JSON, just under the 64 KiB cap, and 1 MiB of small objects and numbers, the costly kind to parse).
Prints p50 / p99 / max of the acks for both, and how many webhook posts were refused meanwhile.

Goal (issue 20): ack p99 under 250 ms with 10 unauthenticated senders.

    python bench/webhook_flood.py [--senders 10] [--commands 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ack_latency import command_body, percentile  # noqa: E402
from devkit.localstack import LocalStack, start_local_stack  # noqa: E402
from devkit.slack_standin.signing import SlackRequests  # noqa: E402


def unsigned_bodies() -> list[bytes]:
    head = {"version": "1.0", "partnerId": "PDEMO0001", "apiCode": "collectionReceivedNotify", "requestNo": "WNX"}
    near_cap = json.dumps({"head": head, "body": "A" * 60_000, "keyEnc": "B" * 2_000, "sign": "C" * 344})
    many = [{"n": 1.5, "s": "x"}] * 50_000  # the costly kind to parse: many small objects and numbers
    return [
        near_cap.encode(),
        json.dumps({"head": head, "body": many[:2_800], "sign": "x"}).encode(),  # just under 64 KiB
        json.dumps({"head": head, "body": many, "sign": "x"}).encode()[: (1 << 20) - 2] + b"]}",  # ~1 MiB
    ]


async def _flood(url: str, senders: int, stop_at: float, out: Any) -> None:
    bodies = unsigned_bodies()
    sent = refused = 0

    async def sender(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal sent, refused
        while time.time() < stop_at:
            body = bodies[(sent + index) % len(bodies)]
            try:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                    await answer.read()
                    refused += answer.status != 200
            except aiohttp.ClientError:
                refused += 1
            sent += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(sender(session, i) for i in range(senders)))
    out.put((sent, refused))


def flood(url: str, senders: int, seconds: float, out: Any) -> None:
    asyncio.run(_flood(url, senders, time.time() + seconds, out))


async def _commands(url: str, secret: str, bodies: list[bytes]) -> list[float]:
    signer = SlackRequests(secret, "http://unused")
    acks = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for body in bodies:
            headers = signer.sign(body)
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"ack failed: HTTP {answer.status}")
            acks.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    return acks


def commands(url: str, secret: str, bodies: list[bytes], out: Any) -> None:
    out.put(asyncio.run(_commands(url, secret, bodies)))


def help_bodies(stack: LocalStack, count: int) -> list[bytes]:
    return [command_body(stack, i).replace(b"text=balance+USD", b"text=help") for i in range(count)]


def run(stack: LocalStack, count: int, senders: int) -> tuple[list[float], tuple[int, int]]:
    context = multiprocessing.get_context("spawn")
    secret = stack.settings.slack_signing_secret.get_secret_value()
    app_url = stack.slack_requests.url
    webhook = app_url.rsplit("/slack/", 1)[0] + "/whalet/webhook"
    flooded: Any = context.Queue()
    flooders = []
    if senders:
        flooders = [context.Process(target=flood, args=(webhook, senders, count * 0.05 + 8, flooded))]
        flooders[0].start()
        time.sleep(2)  # the flood is under way
    answers: Any = context.Queue()
    worker = context.Process(target=commands, args=(app_url, secret, help_bodies(stack, count), answers))
    worker.start()
    acks = answers.get(timeout=300)
    worker.join(10)
    totals = flooded.get(timeout=120) if senders else (0, 0)
    for process in flooders:
        process.join(30)
    return acks, totals


def show(label: str, acks: list[float]) -> None:
    ms = [a * 1000 for a in acks]
    print(
        f"{label:<34} ack p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms"
        f"   max {max(ms):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--commands", type=int, default=100)
    options = parser.parse_args()
    stack = start_local_stack(sandbox_in_process=False)
    try:
        stack.slack_requests.command("U0VIEW", "help")  # warm: the bot's identity is resolved
        quiet, _ = run(stack, options.commands, 0)
        loud, (sent, refused) = run(stack, options.commands, options.senders)
    finally:
        stack.stop()
    print(f"{options.commands} signed `/whalet help` commands, one after another")
    show("nobody else talking", quiet)
    show(f"{options.senders} unauthenticated senders", loud)
    print(f"webhook posts meanwhile: {sent} sent, {refused} refused (401/413/503)   (goal: p99 < 250 ms)")


if __name__ == "__main__":
    main()
