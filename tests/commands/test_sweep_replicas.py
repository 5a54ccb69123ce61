"""Two replicas sweeping at once (issue 19 item 4): each stuck request is recovered once, by
whichever compare-and-set wins, and the other replica's sweep goes on with its other requests
instead of failing its whole pass on ``StaleRequest``. Two stacks on one Postgres database."""

from __future__ import annotations

from typing import Any

import pytest

from devkit.localstack import DEMO_CONFIG, LocalStack
from services.approvals.reconcile import sweep
from tests.commands.helpers import ask, row
from tests.fixtures.race import at_once

ROUNDS = 6
QUIET = DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 3600")


def _sweep_together(replicas: tuple[LocalStack, LocalStack]) -> list[BaseException]:
    """What each sweep raised (what the sweep loop would log as a failed pass)."""
    results = at_once(*(lambda stack=stack: stack.run(sweep(stack.services)) for stack in replicas))
    return [r for r in results if isinstance(r, BaseException)]


def test_replicas_sweeping_at_once_recover_a_stuck_request_once(make_stack: Any, database_url: str | None) -> None:
    if database_url is None:
        pytest.skip("one process per SQLite file: two sweeps never run at once there")
    first: LocalStack = make_stack(QUIET)
    second: LocalStack = make_stack(QUIET)
    for _ in range(ROUNDS):
        _, post = ask(first, "U0REQ", 'payout 12.50 USD to acme-us for "stuck"')
        assert post is not None and "Request `" in post.text, post and post.text
        request_id = post.text.split("Request `")[1].split("`")[0]
        with first.services.store.transaction() as db:  # left APPLYING long ago by a replica that died
            db.execute(
                "UPDATE approval_requests SET state = 'APPLYING', created_at = ? WHERE id = ?",
                ["2000-01-01T00:00:00+00:00", request_id],
            )
        assert _sweep_together((first, second)) == []
        assert row(first, request_id)["state"] == "ABANDONED"
        with first.services.store.read() as db:
            recovered = db.execute(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'recover' AND subject LIKE ?", [f"%{request_id}%"]
            ).fetchone()[0]
        assert recovered == 1
