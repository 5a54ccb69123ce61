"""SIGKILL the real app at each step of its durable paths, restart it, and check the end state.

Each test runs ``whalet-bot run`` as a child process with ``WHALET_BOT_FAULT_POINT`` set, lets it
die at that step (bot/faultpoints.py lists the points), restarts it on the same database without
the fault point, and then reads what Whalet (the sandbox) and Slack (the stand-in) received:

- notifications: every one relayed to Slack exactly once and acknowledged to Whalet;
- approvals: every approved payout confirmed exactly once (the sandbox's ``confirmCount``) and the
  request ends CONFIRMED/SUCCEEDED, decided after the restart by a lookup, never a blind resend;
- digests: the day's digest posted once, neither skipped nor doubled, even across another restart;
  its chart in its thread once, whether the kill came before or after Slack took the upload.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devkit.localstack import DEMO_CONFIG
from core.storage.store import Store
from tests.faults.harness import App, World, wait_until

pytestmark = pytest.mark.long_running

AMOUNTS = ("101.01", "202.02", "303.03")
COLLECT = "C0COLLECT"
APPROVALS = "C0APPROVALS"


def texts(world: World, channel: str) -> list[str]:
    return [m.text for m in world.fake.messages(channel)]


def all_delivered(world: World) -> bool:
    notes = world.operator.get("/sandbox/notifications").json()["notifications"]
    return bool(notes) and all(n["status"] == "DELIVERED" for n in notes)


@pytest.mark.parametrize("point", ["webhook.stored@2", "relay.committed", "outbox.claimed@2", "outbox.posted@2"])
def test_notifications_are_relayed_exactly_once_across_a_kill(world: World, make_app, point: str) -> None:
    app: App = make_app().start(fault_point=point)
    for amount in AMOUNTS:
        world.collect(amount)
    app.restart()

    def every_amount_posted() -> bool:
        shown = texts(world, COLLECT)
        return all(any(f"{amount} USD" in text for text in shown) for amount in AMOUNTS)

    wait_until(every_amount_posted, 30, what=f"all collections in {COLLECT}\n{app.log()}")
    wait_until(lambda: all_delivered(world), 30, what="Whalet to hear every ack")
    wait_until(
        lambda: not app.query("SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')"),
        15,
        what="the outbox to drain",
    )
    shown = texts(world, COLLECT)
    for amount in AMOUNTS:
        assert sum(f"{amount} USD" in text for text in shown) == 1, (amount, shown)
    assert len(world.fake.calls("chat.postMessage")) == len(AMOUNTS)  # a kill after the post did not re-post
    assert app.query("SELECT COUNT(*) FROM inbox")[0][0] == len(AMOUNTS)
    assert app.query("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL")[0][0] == 0


def _request_and_approve(world: World, app: App) -> str:
    """`/whalet payout ...` as the requester, then Approve as an approver; returns the request id."""
    before = len(world.fake.responses())
    assert app.slack.command("U0REQ", 'payout 1200.50 USD to acme-us for "fault suite"').status_code == 200
    answer = wait_until(
        lambda: [r for r in world.fake.responses()[before:] if "Request `" in r.text],
        20,
        what="the payout request's answer",
    )[0]
    request_id = answer.text.split("Request `")[1].split("`")[0]
    card = wait_until(
        lambda: next(
            (m for m in world.fake.messages(APPROVALS) if not m.is_reply and request_id in json.dumps(m.blocks)), None
        ),
        20,
        what="the approval card",
    )
    try:  # the app acks the click, then dies at the fault point on its way to Whalet
        app.slack.block_action("U0APP1", card, "approval_approve")
    except Exception:  # noqa: BLE001 - the kill may cut the connection before the ack: same test
        pass
    return request_id


@pytest.mark.parametrize(
    "point, decided_by",
    [
        ("approval.confirming", "reconcile.confirm_again"),  # lookup: WAIT_CONFIRM -> confirm now, once
        ("approval.confirmed_unstored", "reconcile.lookup"),  # lookup: PROCESSING/SUCCESS -> no second confirm
    ],
)
def test_approved_payout_is_confirmed_exactly_once_across_a_kill(
    world: World, make_app, point: str, decided_by: str
) -> None:
    # The restarted process takes over only once the dead one's lease has run out: a 2 s Whalet
    # timeout makes that lease 8 s, and a 2 s sweep notices it soon after.
    config = DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 2")
    app: App = make_app(config_toml=config, env={"WHALET_TIMEOUT_SECONDS": "2"}).start(fault_point=point)
    request_id = _request_and_approve(world, app)
    app.restart()

    def final_state() -> str | None:
        rows = app.query("SELECT state FROM approval_requests WHERE id = ?", (request_id,))
        return rows[0][0] if rows and rows[0][0] == "SUCCEEDED" else None

    try:
        wait_until(final_state, 45, what=f"{request_id} to succeed")
    except AssertionError as exc:  # say where it got stuck
        audit = app.query(
            "SELECT action, detail FROM audit_log WHERE subject = ? ORDER BY id", (f"approval:{request_id}",)
        )
        raise AssertionError(
            f"{exc}\nrow: {app.query('SELECT * FROM approval_requests')}\naudit: {audit}\n"
            f"sandbox: {world.operator.get('/sandbox/payouts').json()}\n"
            f"notifications: {world.operator.get('/sandbox/notifications').json()}\n"
            f"{app.log()}"
        ) from None
    mer_order_no = app.query("SELECT mer_order_no FROM approval_requests WHERE id = ?", (request_id,))[0][0]
    assert world.confirm_counts()[mer_order_no] == 1
    actions = [
        r[0]
        for r in app.query("SELECT action FROM audit_log WHERE subject = ? ORDER BY id", (f"approval:{request_id}",))
    ]
    if decided_by == "reconcile.lookup":  # Whalet has the confirm: its result notification may settle it first
        assert ("recover" in actions and decided_by in actions) or "result.success" in actions, actions
    else:
        assert "recover" in actions and decided_by in actions, actions
    # the one confirm answer we stored: the re-confirm after WAIT_CONFIRM, or none (the lookup decided)
    assert actions.count("confirm") == (1 if decided_by == "reconcile.confirm_again" else 0), actions


def _digest_config(fire: datetime) -> str:
    schedule = 'schedules = [ { channel = "C0FINANCE", time = "09:00", timezone = "Asia/Shanghai" } ]'
    assert schedule in DEMO_CONFIG
    return DEMO_CONFIG.replace(
        schedule, f'schedules = [ {{ channel = "C0FINANCE", time = "{fire:%H:%M}", timezone = "UTC" }} ]'
    )


def _digest_due_a_minute_ago(make_app) -> tuple[datetime, App]:  # type: ignore[no-untyped-def]
    """An app whose daily digest fired a minute ago, a schedule known since yesterday (a fresh
    install would wait for tomorrow's fire), so start-up catch-up runs it."""
    fire = datetime.now(UTC) - timedelta(minutes=1)
    app: App = make_app(config_toml=_digest_config(fire))
    store = Store(app.db_path)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO digest_known (schedule_key, first_seen) VALUES (?, ?)",
            [f"digest:C0FINANCE:{fire:%H:%M}:UTC", (fire - timedelta(days=1)).isoformat(timespec="seconds")],
        )
    store.close()
    return fire, app


def test_digest_claimed_then_killed_is_posted_once_after_restart(world: World, make_app) -> None:
    fire, app = _digest_due_a_minute_ago(make_app)
    key = f"digest:C0FINANCE:{fire:%H:%M}:UTC"

    app.start(fault_point="digest.claimed", wait=False)  # start-up catch-up claims today's run, then dies
    app.restart()
    digests = lambda: [t for t in texts(world, "C0FINANCE") if t.startswith("Whalet digest")]  # noqa: E731
    wait_until(digests, 30, what=f"the digest\n{app.log()}")
    assert app.terminate() == 0
    app.start()  # another restart: the day's digest is done, catch-up must not post it again
    wait_until(lambda: app.query("SELECT 1 FROM outbox WHERE state = 'done' AND kind = 'digest'"), 10)
    runs = app.query("SELECT run_date, state, attempts FROM digest_runs WHERE schedule_key = ?", (key,))
    assert runs == [(fire.date().isoformat(), "done", 2)]  # claimed twice (killed once), posted once
    assert len(digests()) == 1


@pytest.mark.parametrize("point", ["digest.chart_claimed", "digest.chart_uploaded"])
def test_the_digest_chart_is_in_its_thread_once_across_a_kill(world: World, make_app, point: str) -> None:
    fire, app = _digest_due_a_minute_ago(make_app)

    app.start(fault_point=point, wait=False)  # catch-up posts the digest; the chart upload dies at ``point``
    app.restart()
    wait_until(
        lambda: app.query("SELECT 1 FROM digest_runs WHERE chart_state = 'done'"),
        30,
        what=f"the chart recorded\n{app.log()}",
    )
    [parent] = [m for m in world.fake.messages("C0FINANCE") if m.text.startswith("Whalet digest")]
    charts = world.fake.uploaded_files("C0FINANCE")
    assert len(charts) == 1 and charts[0].thread_ts == parent.ts
    assert app.query("SELECT chart_file_id FROM digest_runs") == [(charts[0].id,)]
