"""Prometheus metrics: what an operator needs to see that money and messages are flowing.

Counters are bumped where things happen; backlogs and states are read from the database at
scrape time, so they can never drift from the truth. Each process has its own registry, so the
tests can run several apps side by side.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.storage import approvals, digests, inbox, outbox
from core.storage.store import Store

log = logging.getLogger("whalet_bot.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "whalet_bot_commands_total",
            "/whalet sub-commands by outcome",
            ["subcommand", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "whalet_bot_slack_ack_seconds",
            "Time to answer a Slack request (the ack)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
            registry=self.registry,
        )
        self.webhook_receipts = Counter(
            "whalet_bot_webhook_receipts_total",
            "Whalet notifications received",
            ["api_code", "outcome"],
            registry=self.registry,
        )
        self.whalet_calls = Counter(
            "whalet_bot_whalet_calls_total",
            "Calls to Whalet by operation and result",
            ["operation", "result"],
            registry=self.registry,
        )
        self.approval_whalet_calls = Counter(
            "whalet_bot_approval_whalet_calls_total",
            "Whalet calls made for approval requests (apply, confirm, "
            "lookup); per request they are bounded by 1 + max_confirm_attempts + the lookup cap",
            ["operation"],
            registry=self.registry,
        )
        self.whalet_seconds = Histogram(
            "whalet_bot_whalet_call_seconds", "Whalet call duration", ["operation"], registry=self.registry
        )

    def observe_whalet_call(self, operation: str, result: str, seconds: float) -> None:
        self.whalet_calls.labels(operation, result).inc()
        self.whalet_seconds.labels(operation).observe(seconds)

    def watch(self, store: Store) -> None:
        """Read backlogs and states from this database at every scrape."""
        self.registry.register(_StateCollector(store))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Backlogs and states straight from SQLite at scrape time."""

    def __init__(self, store: Store):
        self.store = store

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        outbox_rows = GaugeMetricFamily("whalet_bot_outbox_messages", "Outbox rows by state", labels=["state"])
        inbox_backlog = GaugeMetricFamily("whalet_bot_inbox_backlog", "Notifications stored but not yet relayed")
        approval_requests = GaugeMetricFamily(
            "whalet_bot_approval_requests", "Approval requests by state", labels=["state"]
        )
        digest_runs = GaugeMetricFamily("whalet_bot_digest_runs", "Digest runs recorded, by state", labels=["state"])
        slack_429 = GaugeMetricFamily("whalet_bot_slack_rate_limited", "Slack 429 answers seen by the outbox")
        try:
            with self.store.read() as db:
                for state, count in outbox.counts_by_state(db):
                    outbox_rows.add_metric([state], count)
                slack_429.add_metric([], outbox.rate_limited_total(db))
                inbox_backlog.add_metric([], inbox.backlog(db))
                for state, count in approvals.counts_by_state(db):
                    approval_requests.add_metric([state], count)
                for state, count in digests.runs_by_state(db):
                    digest_runs.add_metric([state], count)
        except Exception:  # a scrape must never take the process down
            log.exception("could not read state for metrics")
        yield from (outbox_rows, inbox_backlog, approval_requests, digest_runs, slack_429)
