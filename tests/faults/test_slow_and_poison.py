"""A real ``whalet-bot run`` process against a slow Whalet and a poisoned inbox.

- A confirm that Whalet answers after the bot's read timeout (13 s against 10 s, and the same
  ratio shrunk to 1.3 s against 1 s): the sandbox, a real server, keeps working on it; the bot
  keeps the confirm's lease (three timeouts plus ``confirm_settle_seconds`` plus one timeout) before
  it looks the order up. Whalet ends with one confirm and no two confirms of the order ever ran
  at once.
- A notification with a number no amount needs is refused with a 400 at the door; a row that an
  older version stored and nobody can read is parked alone with an alert, and the good
  notifications after it are posted.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from devkit.localstack import DEMO_CONFIG, DEMO_PARTNER_ID
from tests.faults.harness import App, World, wait_until
from tests.faults.test_replicas import COLLECT, FAST, _click, _collection, _request, _shown, _webhook
from tests.fixtures.loopback import loopback

SETTLE = DEMO_CONFIG.replace("ttl_minutes = 30\n", "ttl_minutes = 30\nconfirm_settle_seconds = 1\nsweep_seconds = 1\n")


@pytest.mark.long_running(seconds=50)
@pytest.mark.parametrize(("answer_after", "timeout"), [(1.3, 1), (13, 10)])
def test_a_confirm_answered_after_the_timeout_is_confirmed_once_without_overlap(
    world: World, make_app, answer_after: float, timeout: int
) -> None:
    app: App = make_app(config_toml=SETTLE, env={**FAST, "WHALET_TIMEOUT_SECONDS": str(timeout)})
    app.start()
    request_id, card = _request(world, app, "250.00")
    world.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "payoutConfirm", "kind": "latency", "seconds": answer_after}]}
    ).raise_for_status()
    _click(app, card)
    wait_until(
        lambda: (
            app.query("SELECT state FROM approval_requests WHERE id = ?", (request_id,))[0][0]
            in ("CONFIRMED", "SUCCEEDED")
        ),
        timeout * 5 + 20,  # the lease: 3 timeouts + settle (1 s) + 1 timeout, then a sweep
        what=f"the payout confirmed\n{app.log()}",
    )
    [(order,)] = app.query("SELECT mer_order_no FROM approval_requests WHERE id = ?", (request_id,))
    record = next(r for r in world.operator.get("/sandbox/payouts").json()["records"] if r["merOrderNo"] == order)
    assert record["confirmCount"] == 1 and record["overlappingConfirms"] == 0, record
    actions = [r[0] for r in app.query("SELECT action FROM audit_log WHERE subject = ?", (f"approval:{request_id}",))]
    assert "confirm.unknown" in actions and "reconcile.confirm_again" not in actions


@pytest.mark.long_running(seconds=10)
def test_poison_is_refused_or_parked_and_the_notifications_after_it_are_posted(world: World, make_app) -> None:
    app: App = make_app()
    app.start()
    codec = world.sandbox.keys.whalet_codec()
    poison = _collection(1)
    poison["amount"]["amount"] = Decimal("1E+5000")
    message = codec.encode_request(DEMO_PARTNER_ID, "collectionReceivedNotify", "WNP00000001", poison)
    assert loopback.post(app.url + "/whalet/webhook", json=message, timeout=5).status_code == 400
    assert app.query("SELECT COUNT(*) FROM inbox")[0][0] == 0

    db = sqlite3.connect(app.db_path, timeout=10)  # as an older version without the bounds stored it
    with db:
        db.execute(
            """INSERT INTO inbox (request_no, api_code, body, received_at, business_id, correlation_id)
               VALUES ('WNOLD0001', 'collectionReceivedNotify', '{"amount":{"amount":1e5000}}',
                       '2026-01-01T00:00:00+00:00', 'COLOLD', 'c-old')"""
        )
    db.close()
    for n in range(2, 5):
        assert _webhook(world, app, n)
    wait_until(
        lambda: all(
            any(_shown(_collection(n)["amount"]["amount"]) in m.text for m in world.fake.messages(COLLECT))
            for n in range(2, 5)
        ),
        20,
        what=f"the good notifications posted\n{app.log()}",
    )
    wait_until(lambda: [m for m in world.fake.messages("C0ALERTS") if "cannot be read" in m.text], 20)
    assert app.query("SELECT outcome FROM inbox WHERE request_no = 'WNOLD0001'") == [("parked",)]
    assert loopback.get(app.url + "/healthz", timeout=5).status_code == 200
