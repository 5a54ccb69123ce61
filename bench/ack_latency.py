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
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.localstack import LocalStack, start_local_stack  # noqa: E402


def command_body(stack: LocalStack, index: int) -> bytes:
    """A slash command body built field for field like Slack's (see bot/slack_standin/signing.py)."""
    user, channel = "U0VIEW", "C0BENCH"
    fields = {
        "token": "legacy-verification-token", "team_id": stack.fake.team_id, "team_domain": "tdemo",
        "channel_id": channel, "channel_name": "bench", "user_id": user, "user_name": "drew",
        "command": "/whalet", "text": "balance USD", "api_app_id": "A0WHALET", "is_enterprise_install": "false",
        "response_url": stack.fake.new_response_url(channel_id=channel, user_id=user, message_ts=None,
                                                    is_ephemeral=False),
        "trigger_id": stack.fake.new_trigger_id(user),
    }
    return urlencode(fields).encode()


async def fire(stack: LocalStack, count: int) -> tuple[list[float], float, int]:
    bodies = [command_body(stack, i) for i in range(count)]
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        before = len(stack.fake.responses())
        started = time.perf_counter()

        async def one(body: bytes) -> float:
            sent = time.perf_counter()
            response = await client.post(stack.slack_requests.url, content=body,
                                         headers=stack.slack_requests.sign(body))
            if response.status_code != 200:
                raise RuntimeError(f"ack failed: HTTP {response.status_code} {response.text[:200]}")
            return time.perf_counter() - sent

        acks = await asyncio.gather(*[one(b) for b in bodies])
        deadline = started + 30
        while len(stack.fake.responses()) - before < count and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        answered = len(stack.fake.responses()) - before
        all_answers = time.perf_counter() - started
    return list(acks), all_answers, answered


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=2000)
    options = parser.parse_args()
    print(f"starting sandbox (latency {options.latency_ms} ms), Slack stand-in and app…")
    stack = start_local_stack(sandbox_options={"latency_ms": options.latency_ms})
    try:
        acks, all_answers, answered = asyncio.run(fire(stack, options.commands))
    finally:
        stack.stop()
    ms = [a * 1000 for a in acks]
    print(f"{options.commands} concurrent signed `/whalet balance USD` commands")
    print(f"ack   p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms   max {max(ms):7.1f} ms"
          f"   (target p99 < 250 ms; Slack's limit 3000 ms)")
    budget = options.latency_ms / 1000 + 1
    print(f"answers delivered: {answered}/{options.commands}; all within {all_answers:.2f} s of the first command"
          f"   (target {budget:.1f} s)")


if __name__ == "__main__":
    main()
