"""Burst folding on two replicas: each waiting collection is folded into exactly one summary.

Two outbox workers (the real ``OutboxWorker``, one per replica, each with its own connection
pool to one real Postgres) fold the same channel's burst at the same moment, lined up by a
barrier, over and over. Before folding claimed its rows, both read the same rows at READ
COMMITTED and both posted a summary of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Notifications
from core.storage import outbox as rows
from core.storage.backend import open_store
from services.slack.outbox import OutboxWorker
from tests.fixtures.race import at_once

ROUNDS = 15
BURST = 12


def test_two_replicas_folding_one_burst_fold_each_collection_once(database_url: str | None, tmp_path: Path) -> None:
    if database_url is None:
        pytest.skip("one process per SQLite file: the race between replicas exists on Postgres only")
    stores = [open_store(database_url, tmp_path / "unused.db") for _ in range(2)]
    config = Notifications(fold_threshold=5, alerts_channel="C0ALERTS")
    workers = [OutboxWorker(store, client=None, config=config) for store in stores]  # type: ignore[arg-type]
    try:
        for round_ in range(ROUNDS):
            with stores[0].transaction() as db:
                for i in range(BURST):
                    rows.enqueue_post(
                        db, channel="C0COLLECT", text=f"r{round_}c{i}", kind="collection", fold_line=f"r{round_}c{i}"
                    )
            failures = [r for r in at_once(*(w._fold_bursts for w in workers)) if isinstance(r, BaseException)]
            assert not failures, failures
            with stores[1].read() as db:
                summaries = [r[0] for r in db.execute("SELECT text FROM outbox WHERE kind = 'summary'")]
                folded = db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'folded'").fetchone()[0]
                waiting = db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE kind = 'collection' AND state = 'pending'"
                ).fetchone()[0]
            lines = [line for text in summaries for line in text.split("\n")[1:] if line.startswith("• ")]
            assert len(lines) == len(set(lines)) == folded, summaries  # no collection in two summaries
            assert folded + waiting == BURST * (round_ + 1)
    finally:
        for store in stores:
            store.close()
