"""Is a big digest as fast as its configured concurrency allows when Whalet is slow?

Starts the Whalet sandbox in its own process with every call delayed (200 ms by default), the
Slack stand-in and the real app (the local stack the tests and the demo use), gives the sandbox
N Whalet users with balances in all three fund sources (two currencies each, six per user), puts
them all in the policy file, and sends a signed `/whalet digest now`. It times the command until
the digest is complete in Slack: the message, every thread reply with the full table, and the
chart uploaded into the thread. Then it prints:

- the time taken;
- the floor: Whalet calls made (counted by the app's own metrics) ÷ ``[digest] concurrency`` ×
  latency, i.e. what the Whalet round trips alone cost at that concurrency;
- the ratio, against the target of at most 1.2× the floor.

    python bench/digest.py [--users 100] [--latency-ms 200] [--concurrency 4] [--protocol legacy|v1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.localstack import DEMO_CONFIG, LocalStack, start_local_stack  # noqa: E402

CHANNEL = "C0FINANCE"
DEMO_USERS = 'users = [{ id = "U10001", name = "Acme Trading Ltd" }, { id = "U10002", name = "Globex Export Co" }]'
BALANCES = (
    ("B2C", "USD", "125000.50"),
    ("B2C", "EUR", "48250.75"),
    ("B2B", "USD", "82340.55"),
    ("B2B", "CNY", "560000.00"),
    ("Acquiring", "USD", "12500.00"),
    ("Acquiring", "HKD", "8888.88"),
)


def users(count: int) -> list[tuple[str, str]]:
    return [(f"U5{n:05d}", f"Bench Trading {n:03d} Ltd") for n in range(count)]


def config(people: list[tuple[str, str]], concurrency: int) -> str:
    listed = ", ".join(f'{{ id = "{uid}", name = "{name}" }}' for uid, name in people)
    text = DEMO_CONFIG.replace(DEMO_USERS, f"users = [{listed}]").replace(
        'default_user_id = "U10001"', f'default_user_id = "{people[0][0]}"'
    )
    return text + f"concurrency = {concurrency}\n"  # [digest] is the file's last section


def whalet_calls(stack: LocalStack) -> float:
    return sum(
        sample.value
        for metric in stack.services.metrics.whalet_calls.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def complete(stack: LocalStack) -> dict[str, Any] | None:
    """The run once its message and thread replies are posted and its chart is settled."""
    with stack.services.store.read() as db:
        run = db.execute("SELECT id, chart_state, chart_error FROM digest_runs ORDER BY id DESC LIMIT 1").fetchone()
        if run is None or run[1] not in ("done", "failed"):
            return None
        waiting = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE correlation_id = ? AND state != 'done'", [f"digest-{run[0]}"]
        ).fetchone()[0]
        posted = db.execute("SELECT COUNT(*) FROM outbox WHERE correlation_id = ?", [f"digest-{run[0]}"]).fetchone()[0]
    return None if waiting else {"run": run[0], "chart": run[1], "error": run[2], "messages": posted}


def run(stack: LocalStack, people: list[tuple[str, str]]) -> tuple[float, float, dict[str, Any]]:
    for uid, name in people:
        balances = [
            {"fundSource": source, "currency": currency, "available": amount} for source, currency, amount in BALANCES
        ]
        stack.operator.post(
            "/sandbox/users", json={"userId": uid, "name": name, "balances": balances}
        ).raise_for_status()
    warm = len(stack.fake.responses())  # a running app has resolved its bot identity long before
    stack.slack_requests.command("U0VIEW", "help")
    stack.fake.wait_for(lambda: len(stack.fake.responses()) > warm, timeout=30)
    calls_before = whalet_calls(stack)
    seen: dict[str, float] = {}

    def on_event(event: Any) -> None:  # when each part reached the stand-in (a callback: no polling)
        record = event.record
        if event.kind == "message" and getattr(record, "channel", None) == CHANNEL:
            part = "chart" if record.files else "thread" if record.is_reply else "message"
            seen[part] = time.perf_counter()

    stack.fake.on_event(on_event)
    started = time.perf_counter()
    answer = stack.slack_requests.command("U0REQ", "digest now", channel_id=CHANNEL)
    if answer.status_code != 200:
        raise RuntimeError(f"the command failed: HTTP {answer.status_code}")
    outcome = stack.fake.wait_for(lambda: complete(stack), timeout=600, interval=0.02)
    elapsed = time.perf_counter() - started
    outcome["parts"] = "  ".join(
        f"{part} at {moment - started:.2f} s" for part, moment in sorted(seen.items(), key=lambda item: item[1])
    )
    return elapsed, whalet_calls(stack) - calls_before, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="[digest] concurrency (the default is 4)")
    parser.add_argument("--protocol", choices=("legacy", "v1"), default="legacy")
    options = parser.parse_args()
    people = users(options.users)
    print(f"starting sandbox (latency {options.latency_ms} ms, own process), Slack stand-in and app…")
    stack = start_local_stack(
        config_toml=config(people, options.concurrency),
        sandbox_options={"latency_ms": options.latency_ms},
        sandbox_in_process=False,
        protocol=options.protocol,
    )
    try:
        elapsed, calls, outcome = run(stack, people)
        files = stack.fake.uploaded_files(CHANNEL)
    finally:
        stack.stop()
    floor = calls / options.concurrency * options.latency_ms / 1000
    print(
        f"{options.users} Whalet users × 3 fund sources ({options.users * len(BALANCES)} balances), "
        f"concurrency {options.concurrency}, Whalet latency {options.latency_ms} ms, {options.protocol} protocol"
    )
    print(
        f"digest posted: {outcome['messages']} message(s) (the digest and its thread), chart {outcome['chart']}"
        + (f" ({outcome['error']})" if outcome["error"] else f", {len(files)} file(s) in the thread")
    )
    print(f"in Slack: {outcome['parts']}")
    print(
        f"time {elapsed:.2f} s   floor {floor:.2f} s ({calls:.0f} Whalet calls ÷ {options.concurrency} × "
        f"{options.latency_ms} ms)   ratio " + (f"{elapsed / floor:.2f}×" if floor else "n/a") + "   (target ≤ 1.20×)"
    )


if __name__ == "__main__":
    main()
