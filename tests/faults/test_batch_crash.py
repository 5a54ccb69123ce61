"""SIGKILL the real app in the middle of releasing a batch; after a restart no line is confirmed
twice and none is lost (the sandbox counts every payoutConfirm per order number).

Three lines, released one at a time. The kill comes as the second line's payout request is
committed but not yet applied (``batch.line_claimed@2``: after the lease runs out the release
applies it again under the SAME order number), or as the second line's confirm lease is committed
but nothing sent (``approval.confirming@2``: the restart looks the order up first, then confirms
once).
"""

from __future__ import annotations

import json

import pytest

from devkit.localstack import DEMO_CONFIG
from tests.commands.batch_helpers import batch_id_of, submit_batch
from tests.faults.harness import App, World, wait_until

pytestmark = pytest.mark.long_running

BATCH = """beneficiary,amount,currency,reference
acme-us,101.01,USD,K-1
acme-us,202.02,USD,K-2
acme-us,303.03,USD,K-3
"""
CONFIG = DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 2") + "\n[batch]\nconcurrency = 1\n"


@pytest.mark.parametrize("point", ["batch.line_claimed@2", "approval.confirming@2"])
def test_a_batch_killed_mid_release_pays_every_line_once(world: World, make_app, point: str) -> None:
    app: App = make_app(config_toml=CONFIG, env={"WHALET_TIMEOUT_SECONDS": "2"}).start(fault_point=point)
    batch_id = batch_id_of(submit_batch(world.fake, app.slack, BATCH))
    card = wait_until(
        lambda: next(
            (m for m in world.fake.messages("C0APPROVALS") if not m.is_reply and batch_id in json.dumps(m.blocks)),
            None,
        ),
        20,
        what="the batch card",
    )
    try:  # the app acks the click, then dies at the fault point while releasing
        app.slack.block_action("U0APP1", card, "approval_approve")
    except Exception:  # noqa: BLE001 - the kill may cut the connection before the ack
        pass
    app.restart()  # waits for the SIGKILL first

    def settled() -> bool:
        rows = app.query("SELECT state FROM approval_requests WHERE id = ?", (batch_id,))
        return bool(rows) and rows[0][0] == "SUCCEEDED"

    try:
        wait_until(settled, 60, what=f"{batch_id} to settle")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nrows: {app.query('SELECT id, state, mer_order_no, note FROM approval_requests')}\n"
            f"lines: {app.query('SELECT * FROM batch_lines')}\n{app.log()}"
        ) from None
    paid = app.query(
        "SELECT line_no, mer_order_no FROM approval_requests WHERE batch_id = ? AND state = 'SUCCEEDED' ORDER BY line_no",
        (batch_id,),
    )
    assert [line for line, _ in paid] == [1, 2, 3]  # none lost, none paid twice
    counts = world.confirm_counts()
    assert [counts[order] for _, order in paid] == [1, 1, 1]
    assert sum(counts.values()) == 3  # no other order of the batch was confirmed
