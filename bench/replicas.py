"""Webhook ingest and relay drain: one replica on SQLite, one on Postgres, two on Postgres.

For each case: the Whalet sandbox's keys and the Slack stand-in (enforcing Slack's pace, 1
message/s per channel with a burst of 3, 429 + Retry-After beyond) in this process, the bot as
real ``whalet-bot run`` processes (two share one Postgres database and one signing secret, as
replicas do). N signed notifications spread over C channels are posted to the replicas
alternately, 16 at a time. Printed per case: ingest (all acknowledged) in notifications/s,
drain (all shown in Slack) against the pace's floor, lost and duplicated (both must be 0); then
the ratios. Slack's pace bounds the drain whatever the number of replicas: the point is that a
second replica loses no throughput and duplicates nothing.

    python bench/replicas.py [--notifications 240] [--channels 8]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.localstack import DEMO_CONFIG, DEMO_PARTNER_ID  # noqa: E402
from devkit.postgres import start_cluster  # noqa: E402
from tests.faults.harness import App, World  # noqa: E402

RATE, BURST = 1.0, 3
SENDERS = 16


@dataclass
class Result:
    name: str
    ingest_per_s: float
    drained_s: float
    floor_s: float
    lost: int
    duplicated: int


def bench_config(channels: int) -> str:
    routes = "".join(
        f'\n[[routes]]\nevents = ["benchChannel{n}Notify"]\nchannel = "C0BENCH{n}"\n' for n in range(channels)
    )
    return DEMO_CONFIG.replace("\n[notifications]", routes + "\n[notifications]")


def run_case(
    name: str, workdir: Path, keys: Path, replicas: int, database_url: str | None, total: int, channels: int
) -> Result:
    world = World(workdir, keys)
    apps: list[App] = []
    try:
        world.fake.enforce_rate(RATE, BURST)
        config = bench_config(channels)
        for index in range(replicas):
            secret = apps[0].signing_secret if apps else None
            apps.append(App(world, workdir / f"app{index}", config, database_url=database_url, signing_secret=secret))
        starters = [threading.Thread(target=app.start, kwargs={"point_webhook": False}) for app in apps]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join(60)
        codec = world.sandbox.keys.whalet_codec()
        messages = [
            codec.encode_request(
                DEMO_PARTNER_ID,
                f"benchChannel{n % channels}Notify",
                f"WNB{n:08d}",
                {"userId": "U10001", "note": f"bench-{n:05d}", "status": "SUCCESS"},
            )
            for n in range(total)
        ]
        with httpx.Client(timeout=30) as client:

            def send(n: int) -> None:
                answer = client.post(apps[n % replicas].url + "/whalet/webhook", json=messages[n])
                answer.raise_for_status()

            started = time.monotonic()
            with ThreadPoolExecutor(SENDERS) as pool:
                list(pool.map(send, range(total)))
            ingested = time.monotonic() - started
        floor = max(0.0, (math.ceil(total / channels) - BURST) / RATE)
        deadline = started + floor * 3 + 60

        def delivered() -> Counter[str]:
            return Counter(
                tag
                for m in world.fake.messages()
                if m.channel.startswith("C0BENCH")
                for tag in re.findall(r"bench-\d{5}", m.text + str(m.blocks))
            )

        while sum(1 for count in delivered().values() if count) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        drained = time.monotonic() - started
        time.sleep(1.0)  # a duplicate would arrive after the last first copy: give it a moment
        seen = delivered()
    finally:
        for app in apps:
            if app.process is not None and app.process.poll() is None:
                app.terminate()
            app.stop()
        world.stop()
    lost = sum(1 for n in range(total) if seen[f"bench-{n:05d}"] == 0)
    duplicated = sum(count - 1 for count in seen.values() if count > 1)
    return Result(name, total / ingested, drained, floor, lost, duplicated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=240)
    parser.add_argument("--channels", type=int, default=8)
    options = parser.parse_args()
    cluster = start_cluster()
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="whalet-bench-") as tmp:
            base = Path(tmp)
            cases = [
                ("SQLite, 1 replica", 1, None),
                ("Postgres, 1 replica", 1, cluster.new_database()),
                ("Postgres, 2 replicas", 2, cluster.new_database()),
            ]
            for index, (name, replicas, url) in enumerate(cases):
                results.append(
                    run_case(
                        name,
                        base / f"case{index}",
                        base / "keys",
                        replicas,
                        url,
                        options.notifications,
                        options.channels,
                    )
                )
    finally:
        cluster.stop()
    print(
        f"{options.notifications} notifications over {options.channels} channels "
        f"(Slack pace {RATE:g}/s per channel, burst {BURST}); {SENDERS} senders"
    )
    for r in results:
        print(
            f"{r.name:22} ingest {r.ingest_per_s:7.1f}/s   drain {r.drained_s:6.1f} s (floor {r.floor_s:.1f} s, "
            f"ratio {r.drained_s / r.floor_s if r.floor_s else 0:.2f})   lost {r.lost}   duplicated {r.duplicated}"
        )
    sqlite, pg1, pg2 = results
    print(
        f"ingest ratios: Postgres 1 / SQLite {pg1.ingest_per_s / sqlite.ingest_per_s:.2f}   "
        f"Postgres 2 / Postgres 1 {pg2.ingest_per_s / pg1.ingest_per_s:.2f}"
    )
    print(
        f"drain ratios:  Postgres 1 / SQLite {pg1.drained_s / sqlite.drained_s:.2f}   "
        f"Postgres 2 / Postgres 1 {pg2.drained_s / pg1.drained_s:.2f}"
    )
    return 0 if all(r.lost == 0 and r.duplicated == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
