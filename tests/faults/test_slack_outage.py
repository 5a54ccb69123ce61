"""A real ``whalet-bot run`` through a four-minute Slack outage, on a clock ten times fast.

The bot runs under libfaketime at ten times real speed (``faketime -f '+0 x10'``: its wall clock,
monotonic clock, sleeps and event-loop waits all run fast, nothing else is changed), so its four
minutes pass in 24 real seconds while the Slack stand-in answers 503 to every post. Before
transient errors stopped counting toward ``max_attempts``, ~3.5 minutes of this parked everything
queued, for good. Now nothing is parked, no alert comes before ``outage_alert_minutes`` (5),
``/healthz`` says Slack is unreachable, and once Slack answers again every notification is
posted exactly once.
"""

from __future__ import annotations

import shutil
import time

import pytest

from devkit.localstack import DEMO_CONFIG
from tests.faults.harness import App, World, wait_until
from tests.faults.test_replicas import COLLECT, _collection, _shown, _webhook
from tests.fixtures.loopback import loopback

SPEED = 10
OUTAGE_MINUTES = 4
WITH_TWO_ATTEMPTS = DEMO_CONFIG.replace('alerts_channel = "C0ALERTS"', 'alerts_channel = "C0ALERTS"\nmax_attempts = 2')


@pytest.mark.long_running(seconds=40)
@pytest.mark.skipif(
    shutil.which("faketime") is None, reason="needs libfaketime (Debian: faketime); .ci/run installs it"
)
def test_a_four_minute_slack_outage_parks_nothing_and_everything_is_posted_once_after(world: World, make_app) -> None:
    world.fake.script("chat.postMessage", [("status", 503)] * 10_000)
    app: App = make_app(config_toml=WITH_TWO_ATTEMPTS, forked=False, prefix=("faketime", "-f", f"+0 x{SPEED}"))
    app.start(point_webhook=False)
    notes = range(700, 703)
    assert all(_webhook(world, app, n) for n in notes)
    wait_until(lambda: world.fake.scripted_pending("chat.postMessage") < 10_000, 20, what="a first failed post")

    time.sleep(OUTAGE_MINUTES * 60 / SPEED)  # four minutes of the bot's time
    health = loopback.get(app.url + "/healthz", timeout=5).json()
    assert "unreachable since" in health.get("slack", ""), health
    assert app.query("SELECT COUNT(*) FROM outbox WHERE state = 'parked'") == [(0,)], app.log()
    assert app.query("SELECT COUNT(*) FROM outbox WHERE kind = 'alert'") == [(0,)]  # 4 < outage_alert_minutes
    assert not world.fake.messages(COLLECT)

    world.fake.clear_scripts()  # Slack is back
    shown = [_shown(_collection(n)["amount"]["amount"]) for n in notes]
    wait_until(
        lambda: all(any(s in m.text for m in world.fake.messages(COLLECT)) for s in shown),
        30,
        what=f"every notification posted after the outage\n{app.log()}",
    )
    texts = [m.text for m in world.fake.messages(COLLECT)]
    assert [sum(s in t for t in texts) for s in shown] == [1, 1, 1], texts
    assert app.query("SELECT COUNT(*) FROM outbox WHERE state = 'parked'") == [(0,)]
    assert "slack" not in loopback.get(app.url + "/healthz", timeout=5).json()
