"""How close does releasing a batch come to the floor its concurrency sets?

Starts the local stack with the Whalet sandbox as its own process answering every call after
``--latency-ms`` (200 ms), sends a CSV of ``--lines`` payments through `/whalet payout batch`
(the modal, the file read from the Slack stand-in), approves the card once, and times from the
click until every line's payout is confirmed at Whalet. Each line costs two Whalet calls (apply
and confirm), ``[batch] concurrency`` lines at a time, so the floor is
lines / concurrency x 2 x latency. Prints the time, the floor, the ratio (goal <= 1.2) and the
sandbox's confirm count per order (each must be 1).

    python bench/batch.py [--lines 500] [--latency-ms 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.localstack import DEMO_CONFIG, start_local_stack  # noqa: E402

TARGET = 1.2


def bench_config(lines: int, concurrency: int) -> str:
    return (
        DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 120")
        + f"\n[batch]\nmax_lines = {max(lines, 1)}\nconcurrency = {concurrency}\n"
    )


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    options = parser.parse_args()
    lines, latency = options.lines, options.latency_ms / 1000
    csv = "beneficiary,amount,currency,reference\n" + "".join(
        f"acme-us,10.{n % 100:02d},USD,B{n}\n" for n in range(lines)
    )
    stack = start_local_stack(
        config_toml=bench_config(lines, options.concurrency),
        sandbox_in_process=False,
        sandbox_options={"latency_ms": options.latency_ms},
    )
    try:
        before = len(stack.fake.views("U0REQ"))
        stack.slack_requests.command("U0REQ", "payout batch").raise_for_status()
        opened = wait_for(lambda: stack.fake.views("U0REQ")[before:], 20, "the batch modal")[-1]
        picked = stack.fake.add_user_file("U0REQ", "bench.csv", csv.encode())
        stack.slack_requests.view_submission("U0REQ", opened, {"file": [picked]}).raise_for_status()
        card = wait_for(
            lambda: next(
                (m for m in stack.fake.messages("C0APPROVALS") if not m.is_reply and "Pay out the batch" in m.text),
                None,
            ),
            120,
            "the batch card",
        )
        batch_id = json.dumps(card.blocks).split("Batch `")[1].split("`")[0]

        prefix = f"WBB{batch_id[3:]}"

        def confirmed() -> int:
            """Lines whose order Whalet has a confirm for (the sandbox's count; some later fail there)."""
            return sum(1 for order, count in stack.confirm_counts().items() if order.startswith(prefix) and count)

        started = time.monotonic()
        stack.slack_requests.block_action("U0APP1", card, "approval_approve").raise_for_status()
        floor = math.ceil(lines / options.concurrency) * 2 * latency
        try:
            wait_for(lambda: confirmed() >= lines, floor * 5 + 120, "every line confirmed")
        except SystemExit:
            with stack.services.store.read() as db:
                states = list(
                    db.execute(
                        "SELECT state, COUNT(*), MIN(note) FROM approval_requests WHERE batch_id = ? GROUP BY state",
                        [batch_id],
                    )
                )
                outcomes = list(
                    db.execute(
                        "SELECT outcome, COUNT(*), MIN(reason) FROM batch_lines WHERE batch_id = ? GROUP BY outcome",
                        [batch_id],
                    )
                )
            print(f"stuck: {states} lines: {outcomes}")
            raise
        elapsed = time.monotonic() - started
        counts = stack.confirm_counts()
        per_order = [count for order, count in counts.items() if order.startswith(prefix)]
    finally:
        stack.stop()
    ratio = elapsed / floor
    print(f"{lines} lines, concurrency {options.concurrency}, Whalet latency {options.latency_ms} ms")
    print(f"released in {elapsed:.1f} s; floor {floor:.1f} s; ratio {ratio:.2f} (goal <= {TARGET})")
    print(f"orders confirmed {len(per_order)}, each once: {all(c == 1 for c in per_order)}")
    return 0 if ratio <= TARGET and len(per_order) == lines and all(c == 1 for c in per_order) else 1


if __name__ == "__main__":
    sys.exit(main())
