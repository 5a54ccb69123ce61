"""How fast does a backlog of notifications drain into Slack channels that enforce Slack's pace?

Starts the local stack (Whalet sandbox, Slack stand-in, the real app), makes the stand-in enforce
1 message/s per channel with a burst of 3 (answering 429 + Retry-After beyond that), then has the
sandbox deliver N notifications spread over 6 channels through the real webhook. Prints the drain
time against the theoretical floor, the number of 429s Slack would have sent, and how many
notifications were lost or shown twice (both must be 0).

    python bench/relay_drain.py [--notifications 600] [--channels 6]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.localstack import DEMO_CONFIG, start_local_stack  # noqa: E402

RATE, BURST = 1.0, 3


def bench_config(channels: int) -> str:
    routes = "".join(
        f'\n[[routes]]\nevents = ["benchChannel{n}Notify"]\nchannel = "C0BENCH{n}"\n' for n in range(channels)
    )
    return DEMO_CONFIG.replace("\n[notifications]", routes + "\n[notifications]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=600)
    parser.add_argument("--channels", type=int, default=6)
    options = parser.parse_args()
    total, channels = options.notifications, options.channels
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


if __name__ == "__main__":
    sys.exit(main())
