"""Soak: minutes of mixed load with Slack and Whalet misbehaving at random; nothing lost or doubled.

    python bench/soak.py --minutes 2        # default 2; not part of CI

The whole product runs on loopback (devkit.localstack: the Whalet sandbox, the Slack stand-in and the
real app). A few simulated people type commands, request payouts and approve them, while the
sandbox sends notifications (money received, generic events). Random faults are switched on:
Whalet answers late, times out after applying a confirm, answers 5xx before or after applying,
forges signatures, rate-limits; Slack rate-limits (real per-channel limit plus scripted 429s),
answers 503, drops connections and answers slowly. Afterwards the faults are cleared, the app is
given time to drain, and the totals are printed. Exit status 1 if any notification was lost or
duplicated, any approved payout was confirmed twice or never, or memory grew by more than
``--max-growth-mb``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.localstack import DEMO_CONFIG, LocalStack, start_local_stack  # noqa: E402
from devkit.slack_standin.signing import SlackRequests  # noqa: E402

CONFIG = DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 5").replace(
    'alerts_channel = "C0ALERTS"',
    'alerts_channel = "C0ALERTS"\nfold_threshold = 100000',  # count posts 1:1
)
WHALET_FAULTS = [
    {"apiCode": "payoutConfirm", "kind": "timeout_after_apply", "seconds": 3, "rate": 0.08, "times": None},
    {"apiCode": "payoutConfirm", "kind": "http_500_after_apply", "rate": 0.06, "times": None},
    {"apiCode": "payoutConfirm", "kind": "http_500", "rate": 0.06, "times": None},
    {"apiCode": "payoutConfirm", "kind": "bad_signature", "rate": 0.06, "times": None},
    {"apiCode": "queryCurrencyBalance", "kind": "too_many_requests", "rate": 0.15, "times": None},
    {"apiCode": "queryRate", "kind": "too_many_requests", "rate": 0.1, "times": None},
    {"apiCode": "*", "kind": "latency", "seconds": 0.3, "rate": 0.05, "times": None},
]
SLACK_FAULTS = [("ratelimited", 1), ("status", 503), ("reset",), ("sleep", 2.5)]
COMMANDS = ["balance", "balance USD", "rate USD HKD", "pending", "help", "beneficiaries", "status"]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Totals:
    commands_sent: int = 0
    ack_seconds: list[float] = field(default_factory=list)
    response_ids: list[str] = field(default_factory=list)
    payouts_requested: list[str] = field(default_factory=list)
    approvals_clicked: list[str] = field(default_factory=list)
    notifications_sent: list[str] = field(default_factory=list)  # unique markers in the Slack text
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Person:
    """One simulated Slack user session, on its own thread and HTTP client."""

    def __init__(self, stack: LocalStack, totals: Totals, seed: int) -> None:
        self.stack, self.totals, self.rng = stack, totals, random.Random(seed)
        self.slack = SlackRequests.for_fake(stack.fake, stack.settings.slack_signing_secret, stack.url, timeout=30)

    def command(self, user: str, text: str) -> str | None:
        started = time.perf_counter()
        answer = self.slack.command(user, text)
        elapsed = time.perf_counter() - started
        response_id = str(self.slack.last_payload["response_url"]).rsplit("/", 1)[-1]
        with self.totals.lock:
            self.totals.commands_sent += 1
            self.totals.ack_seconds.append(elapsed)
            if answer.status_code != 200:
                self.totals.errors[f"command HTTP {answer.status_code}"] += 1
                return None
            if not answer.text:  # answered later through response_url
                self.totals.response_ids.append(response_id)
        return response_id

    def response(self, response_id: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.stack.fake.responses() if r.response_id == response_id]
            if found:
                return found[0]
            time.sleep(0.1)
        return None

    def payout_and_approve(self) -> None:
        amount = f"{self.rng.randint(10, 9000)}.{self.rng.choice(['00', '25', '50', '99'])}"
        response_id = self.command("U0REQ", f'payout {amount} USD to acme-us for "soak"')
        answer = self.response(response_id) if response_id else None
        if answer is None or "Request `" not in answer.text:
            with self.totals.lock:
                self.totals.errors["payout not put up for approval" + (f": {answer.text[:60]}" if answer else "")] += 1
            return
        request_id = answer.text.split("Request `")[1].split("`")[0]
        with self.totals.lock:
            self.totals.payouts_requested.append(request_id)
        card = None
        deadline = time.monotonic() + 40
        while card is None and time.monotonic() < deadline:
            card = next(
                (m for m in self.stack.fake.messages("C0APPROVALS") if not m.is_reply and request_id in str(m.blocks)),
                None,
            )
            time.sleep(0.2)
        if card is None:
            with self.totals.lock:
                self.totals.errors["card never posted"] += 1
            return
        approver = self.rng.choice(["U0APP1", "U0APP2"])
        if self.slack.block_action(approver, card, "approval_approve").status_code == 200:
            with self.totals.lock:
                self.totals.approvals_clicked.append(request_id)

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            roll = self.rng.random()
            try:
                if roll < 0.6:
                    self.command(self.rng.choice(["U0REQ", "U0APP1", "U0VIEW", "U0ADM"]), self.rng.choice(COMMANDS))
                else:
                    self.payout_and_approve()
            except Exception as exc:  # noqa: BLE001 - a soak counts failures, it does not stop at one
                with self.totals.lock:
                    self.totals.errors[f"{type(exc).__name__}"] += 1
            time.sleep(self.rng.uniform(0.2, 1.0))
        self.slack.close()


def notifier(stack: LocalStack, totals: Totals, deadline: float, rng: random.Random) -> None:
    """Whalet's side: money received and generic events, one unique marker each."""
    for n in itertools.count(1):
        if time.monotonic() >= deadline:
            return
        marker = f"SOAK{n:05d}"
        if rng.random() < 0.6:
            answer = stack.operator.post(
                "/sandbox/collect",
                json={
                    "userId": rng.choice(["U10001", "U10002"]),
                    "currency": "USD" if rng.random() < 0.5 else "EUR",
                    "amount": f"{rng.randint(1, 5000)}.{rng.randint(0, 99):02d}",
                    "payerName": marker,
                    **({"fundSource": "B2B"} if rng.random() < 0.3 else {}),
                },
            )
        else:
            answer = stack.operator.post(
                "/sandbox/notify",
                json={
                    "apiCode": "cardLimitChangedNotify",
                    "body": {"userId": "U10001", "reference": marker, "newLimit": "5000", "status": "DONE"},
                },
            )
        if answer.status_code == 200:
            with totals.lock:
                totals.notifications_sent.append(marker)
        else:
            with totals.lock:
                totals.errors[f"sandbox refused an event: {answer.text[:80]}"] += 1
        time.sleep(rng.uniform(0.4, 1.2))


def slack_chaos(stack: LocalStack, deadline: float, rng: random.Random) -> None:
    while time.monotonic() < deadline:
        method = rng.choice(["chat.postMessage", "chat.postMessage", "chat.update"])
        stack.fake.script(method, [rng.choice(SLACK_FAULTS)])
        time.sleep(rng.uniform(1.0, 3.0))


def settled(stack: LocalStack, totals: Totals) -> bool:
    with stack.services.store.read() as db:
        busy = db.execute("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')").fetchone()[0]
        unrelayed = db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0]
        unresolved = db.execute(
            "SELECT COUNT(*) FROM approval_requests WHERE state IN "
            "('APPLYING', 'CONFIRMING', 'CONFIRM_UNKNOWN', 'CONFIRMED')"
        ).fetchone()[0]
    notes = stack.operator.get("/sandbox/notifications").json()["notifications"]
    undelivered = sum(n["status"] == "PENDING" for n in notes)
    return busy == unrelayed == unresolved == undelivered == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain-seconds", type=float, default=120.0)
    parser.add_argument("--max-growth-mb", type=float, default=64.0)
    args = parser.parse_args()

    import logging

    from bot.logs import configure_logging

    configure_logging(logging.ERROR)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="whalet-soak-") as tmp:
        stack = start_local_stack(
            Path(tmp),
            config_toml=CONFIG,
            sandbox_options={"retry_time_scale": 0.01, "seed": args.seed, "payout_result_delay_s": 2.0},
            # Slack calls give up after 2 s, so a scripted 2.5 s answer is one our client gave up on.
            settings_overrides={"whalet_timeout_seconds": 2, "slack_timeout_seconds": 2},
        )
        try:
            return soak(stack, args, rng)
        finally:
            stack.stop()


def soak(stack: LocalStack, args: argparse.Namespace, rng: random.Random) -> int:
    stack.fake.enforce_rate(1.0, burst=3)  # Slack's own per-channel limit: real 429s with Retry-After
    totals = Totals()
    Person(stack, totals, 0).command("U0REQ", "balance")  # warm-up: imports, connections, first auth.test
    time.sleep(1)
    gc.collect()
    memory_start = rss_mb()
    stack.operator.post("/sandbox/faults", json={"rules": WHALET_FAULTS}).raise_for_status()
    started = time.monotonic()
    deadline = started + args.minutes * 60
    print(f"soak: {args.minutes:g} min, {args.people} people, seed {args.seed}; faults on", flush=True)
    with ThreadPoolExecutor(max_workers=args.people + 2) as pool:
        jobs = [pool.submit(Person(stack, totals, rng.randrange(1 << 30)).run, deadline) for _ in range(args.people)]
        jobs.append(pool.submit(notifier, stack, totals, deadline, random.Random(rng.random())))
        jobs.append(pool.submit(slack_chaos, stack, deadline, random.Random(rng.random())))
        for job in jobs:
            job.result()
    fired = stack.operator.get("/sandbox/faults").json()["fired"]
    stack.operator.delete("/sandbox/faults")
    stack.fake.enforce_rate(None)
    load_seconds = time.monotonic() - started
    drain_deadline = time.monotonic() + args.drain_seconds
    while not settled(stack, totals) and time.monotonic() < drain_deadline:
        time.sleep(0.5)
    drained = settled(stack, totals)
    gc.collect()
    memory_end = rss_mb()
    return report(stack, totals, fired, load_seconds, drained, memory_start, memory_end, args)


def report(
    stack: LocalStack,
    totals: Totals,
    fired: list[dict[str, Any]],
    load_seconds: float,
    drained: bool,
    memory_start: float,
    memory_end: float,
    args: argparse.Namespace,
) -> int:
    answered_ids = {r.response_id for r in stack.fake.responses()}
    answered = sum(rid in answered_ids for rid in totals.response_ids)
    acks = sorted(totals.ack_seconds)
    p99 = acks[min(len(acks) - 1, int(len(acks) * 0.99))] if acks else float("nan")

    texts = [m.text + str(m.blocks) for m in stack.fake.messages()]
    seen = Counter(marker for text in texts for marker in set(re.findall(r"SOAK\d{5}", text)))
    relayed = sum(1 for marker in totals.notifications_sent if seen[marker] >= 1)
    duplicated = sum(seen[marker] - 1 for marker in totals.notifications_sent if seen[marker] > 1)
    lost = sum(1 for marker in totals.notifications_sent if seen[marker] == 0)

    with stack.services.store.read() as db:
        rows = {r["id"]: r for r in db.query("SELECT id, state, mer_order_no FROM approval_requests")}
    counts = stack.confirm_counts()
    approved = [
        rid
        for rid in set(totals.approvals_clicked)
        if rid in rows and rows[rid]["state"] not in ("PENDING", "EXPIRED", "REJECTED", "ABANDONED")
    ]
    confirmed = [rid for rid in approved if counts.get(rows[rid]["mer_order_no"], 0) >= 1]
    double = [rid for rid in approved if counts.get(rows[rid]["mer_order_no"], 0) > 1]
    never = [rid for rid in approved if counts.get(rows[rid]["mer_order_no"], 0) == 0]
    states = Counter(rows[rid]["state"] for rid in approved)
    outbox = stack.services.outbox.counters

    print(f"load: {load_seconds:.0f} s, drained: {'yes' if drained else 'NO (timed out)'}")
    print(
        f"commands: sent {totals.commands_sent}, answered later {answered}/{len(totals.response_ids)}, "
        f"ack p50 {statistics.median(acks) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {acks[-1] * 1000:.0f} ms"
    )
    print(
        f"notifications: received {len(totals.notifications_sent)}, relayed {relayed}, duplicated {duplicated}, "
        f"lost {lost}"
    )
    print(
        f"payouts: requested {len(totals.payouts_requested)}, approved {len(approved)}, confirmed {len(confirmed)}, "
        f"double-confirmed {len(double)}, approved-never-confirmed {len(never)}; end states {dict(states)}"
    )
    print(f"whalet faults fired: {dict(Counter(f['kind'] for f in fired))}")
    print(
        f"slack: {dict(Counter(c.error or 'ok' for c in stack.fake.calls('chat.postMessage')))} "
        f"(chat.postMessage); outbox counters {outbox}"
    )
    if totals.errors:
        print(f"client-side errors: {dict(totals.errors)}")
    growth = memory_end - memory_start
    print(
        f"memory (RSS of the whole loopback stack): start {memory_start:.1f} MB, end {memory_end:.1f} MB, "
        f"growth {growth:+.1f} MB"
    )
    failed = lost or duplicated or double or never or not drained or growth > args.max_growth_mb
    print("RESULT: " + ("FAIL" if failed else "OK (no loss, no duplicate, no double confirm)"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
