"""Do `/whalet` commands ack inside Slack's 3 s while Whalet is slow, and do the answers follow?

Starts the Whalet sandbox with 2 s latency on every call, the Slack stand-in and the real app
(the same local stack the tests and the demo use), then fires N concurrent signed
`/whalet balance` commands exactly as Slack sends them and prints:

- p50 / p99 / max time from sending a command to its HTTP ack (Slack's 3 s rule);
- the time until every answer (the `respond()` post to the response_url) reached the stand-in.

Target on a 2-core machine: ack p99 < 250 ms, every answer within 2 s (Whalet) + 1 s.

    python bench/ack_latency.py [--commands 200] [--latency-ms 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.localstack import LocalStack, start_local_stack  # noqa: E402
from devkit.slack_standin.signing import SlackRequests  # noqa: E402


def command_body(stack: LocalStack, index: int) -> bytes:
    """A slash command body built field for field like Slack's (see devkit/slack_standin/signing.py)."""
    user, channel = "U0VIEW", "C0BENCH"
    fields = {
        "token": "legacy-verification-token",
        "team_id": stack.fake.team_id,
        "team_domain": "tdemo",
        "channel_id": channel,
        "channel_name": "bench",
        "user_id": user,
        "user_name": "drew",
        "command": "/whalet",
        "text": "balance USD",
        "api_app_id": "A0WHALET",
        "is_enterprise_install": "false",
        "response_url": stack.fake.new_response_url(
            channel_id=channel, user_id=user, message_ts=None, is_ephemeral=False
        ),
        "trigger_id": stack.fake.new_trigger_id(user),
    }
    return urlencode(fields).encode()


async def _send_all(url: str, secret: str, bodies: list[bytes]) -> tuple[float, list[float]]:
    """Fire every body at once; (wall-clock start, seconds to each HTTP ack).

    aiohttp rather than httpx: httpx's connection pool costs grow with the square of the requests
    in flight, which would measure the load generator instead of the app.
    """
    signer = SlackRequests(secret, "http://unused")
    signed = [(body, signer.sign(body)) for body in bodies]
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(body: bytes, headers: dict[str, str]) -> float:
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"ack failed: HTTP {response.status}")
            return time.perf_counter() - sent

        started = time.time()
        return started, list(await asyncio.gather(*[one(b, h) for b, h in signed]))


def load_generator(url: str, secret: str, bodies: list[bytes], out: Any) -> None:
    """Runs in its own process, like Slack's servers: its CPU does not compete with the app's."""
    out.put(asyncio.run(_send_all(url, secret, bodies)))


def fire(stack: LocalStack, count: int) -> tuple[list[float], float, int]:
    # A running app has resolved its bot identity (auth.test) long before the burst; do it now.
    warm = len(stack.fake.responses())
    stack.slack_requests.command("U0VIEW", "help")
    stack.fake.wait_for(lambda: len(stack.fake.responses()) > warm, timeout=30)
    bodies = [command_body(stack, i) for i in range(count)]
    # Count answers as the stand-in records them (a callback), instead of polling its records:
    # polling copies every record each time and would steal the app's CPU in this process.
    arrivals: list[float] = []
    done = threading.Event()

    def on_event(event: Any) -> None:
        if event.kind == "response":
            arrivals.append(time.time())
            if len(arrivals) >= count:
                done.set()

    stack.fake.on_event(on_event)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    secret = stack.settings.slack_signing_secret.get_secret_value()
    worker = context.Process(target=load_generator, args=(stack.slack_requests.url, secret, bodies, results))
    worker.start()
    started, acks = results.get(timeout=120)
    worker.join(10)
    done.wait(30)
    answered = len(arrivals)
    last = max(arrivals, default=time.time())
    return acks, last - started, answered


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=2000)
    options = parser.parse_args()
    print(f"starting sandbox (latency {options.latency_ms} ms), Slack stand-in and app…")
    # Whalet is another machine: its sandbox runs in its own process so its CPU is not the app's.
    stack = start_local_stack(sandbox_options={"latency_ms": options.latency_ms}, sandbox_in_process=False)
    try:
        acks, all_answers, answered = fire(stack, options.commands)
    finally:
        stack.stop()
    ms = [a * 1000 for a in acks]
    print(f"{options.commands} concurrent signed `/whalet balance USD` commands")
    print(
        f"ack   p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms   max {max(ms):7.1f} ms"
        f"   (target p99 < 250 ms; Slack's limit 3000 ms)"
    )
    budget = options.latency_ms / 1000 + 1
    print(
        f"answers delivered: {answered}/{options.commands}; the last {all_answers:.2f} s after the first command"
        f"   (target {budget:.1f} s)"
    )


if __name__ == "__main__":
    main()
