"""Parked Slack messages go back in the queue once their cause is fixed: from the command line
(``whalet-bot outbox retry-parked [--id N]``) and from the admins' button under `/whalet status`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from core.storage.outbox import enqueue_post
from core.storage.store import Store
from devkit.localstack import LocalStack
from tests.commands.helpers import ask, click
from tests.notifications.test_outbox import _enqueue, _wait_state


def _audit(stack_or_store: Store, action: str) -> list[str]:
    with stack_or_store.read() as db:
        return [r[0] for r in db.execute("SELECT actor FROM audit_log WHERE action = ?", [action])]


def test_the_admins_button_under_status_sends_parked_messages_again(stack: LocalStack) -> None:
    stack.fake.deny_channel("C0PRIVATE", "not_in_channel")
    row_id = _enqueue(stack, channel="C0PRIVATE", text="money received")
    _wait_state(stack, row_id, "parked", timeout=15)

    _, viewer_status = ask(stack, "U0VIEW", "status")
    assert "outbox_retry_parked" not in json.dumps(viewer_status.blocks)  # admins only
    _, reply = ask(stack, "U0ADM", "status")
    assert "Retry 1 parked message" in json.dumps(reply.blocks)
    status = {"channel": "C0DEMO", "ts": "1.000001", "blocks": reply.blocks}  # the ephemeral reply, clicked

    refused = click(stack, "U0APP1", status, "outbox_retry_parked")  # a forged click by a non-admin
    assert "Only admins" in refused.text and _wait_state(stack, row_id, "parked")

    stack.fake.allow_channel("C0PRIVATE")  # the cause, fixed (the bot invited)
    answer = click(stack, "U0ADM", status, "outbox_retry_parked")
    assert "1 parked message back in the queue" in answer.text
    _wait_state(stack, row_id, "done", timeout=15)
    assert [m.text for m in stack.fake.messages("C0PRIVATE")] == ["money received"]
    assert _audit(stack.services.store, "outbox.retry_parked") == ["U0ADM"]


def test_the_command_line_retries_one_row_or_every_parked_one(tmp_path: Path) -> None:
    db_path = tmp_path / "whalet-bot.db"
    store = Store(db_path)
    with store.transaction() as db:
        ids = [enqueue_post(db, channel="C0X", text=f"m{i}") for i in range(3)]
        db.execute("UPDATE outbox SET state = 'parked', attempts = 8, last_error = 'not_in_channel'")
    store.close()
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "s" * 32,
        "WHALET_PARTNER_ID": "P1",
        "WHALET_BOT_DB": str(db_path),
    }
    runner = CliRunner()
    one = runner.invoke(app, ["outbox", "retry-parked", "--id", str(ids[1])], env=env)
    assert one.exit_code == 0 and "1 parked message back in the queue" in one.output, one.output
    again = runner.invoke(app, ["outbox", "retry-parked", "--id", str(ids[1])], env=env)
    assert again.exit_code == 2 and f"outbox row {ids[1]} is not parked" in again.output
    rest = runner.invoke(app, ["outbox", "retry-parked"], env=env)
    assert rest.exit_code == 0 and "2 parked messages back in the queue" in rest.output

    store = Store(db_path)
    try:
        with store.read() as db:
            rows = list(db.query("SELECT state, attempts FROM outbox ORDER BY id"))
        assert rows == [{"state": "pending", "attempts": 0}] * 3
        assert _audit(store, "outbox.retry_parked") == ["cli", "cli"]
    finally:
        store.close()
