"""Kill-and-restart harness: the real app as a child process, the sandbox and fake Slack in ours.

The app runs what production runs (``whalet-bot run`` with settings in the environment) in a process
of its own, forked from a server that imported it once (tests/faults/forked.py), on a database
file that outlives it. ``WHALET_BOT_FAULT_POINT`` makes the child
SIGKILL itself at a named step (bot/faultpoints.py); ``restart()`` waits for that death and starts
the app again on the same database and port, without the fault point, so the test can check that
recovery is the real code's. Whalet (the sandbox) and Slack (the stand-in) stay up throughout,
as they would in real life, and keep their own record of what reached them: the sandbox's
``confirmCount`` per payout and its webhook deliveries, the stand-in's channel messages.
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

from core.storage.dialect import to_postgres
from devkit.localstack import DEMO_BOT_TOKEN, DEMO_CONFIG, DEMO_PARTNER_ID
from devkit.serving import ThreadedServer, free_port
from devkit.slack_standin.server import FakeSlack
from devkit.slack_standin.signing import SlackRequests
from devkit.whalet_sandbox import SandboxConfig, create_sandbox
from tests.faults.forked import ForkedRun
from tests.fixtures.loopback import loopback
from whalet.tls import shared_tls

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# Whalet retries an unacknowledged notification after 15 s, 1 min, 5 min... x this: 0.06 s, 0.3 s,
# 1.5 s, 5.1 s, 19.5 s after the first attempt, so a notification whose ack died with the app is
# redelivered a few seconds after the restart.
RETRY_TIME_SCALE = 0.004


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class World:
    """Sandbox + Slack stand-in, shared by the app processes of one test (or module)."""

    def __init__(self, workdir: Path, keys_dir: Path, *, payout_result_delay_s: float = 1.0) -> None:
        self.workdir = workdir
        self.sandbox = create_sandbox(
            SandboxConfig(
                keys_dir=keys_dir,
                partner_id=DEMO_PARTNER_ID,
                retry_time_scale=RETRY_TIME_SCALE,
                payout_result_delay_s=payout_result_delay_s,
                notify_timeout_s=3.0,
            )
        )
        self.sandbox_server = ThreadedServer(self.sandbox.app).start()
        self.fake = FakeSlack(bot_token=DEMO_BOT_TOKEN)
        self.fake_server = ThreadedServer(self.fake.app).start()
        self.fake.bind(self.fake_server.url)
        self.operator = httpx.Client(base_url=self.sandbox_server.url, timeout=10, verify=shared_tls())

    def stop(self) -> None:
        self.operator.close()
        self.fake_server.stop()
        self.sandbox_server.stop()

    # --- what Whalet and Slack saw -----------------------------------------------------------
    def confirm_counts(self) -> dict[str, int]:
        records = self.operator.get("/sandbox/payouts").json()["records"]
        return {r["merOrderNo"]: int(r.get("confirmCount", 0)) for r in records}

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.operator.get("/sandbox/deliveries").json()["deliveries"])

    def collect(self, amount: str, currency: str = "USD", user: str = "U10001") -> dict[str, Any]:
        """Money arrives: the sandbox sends collectionReceivedNotify to the app's webhook."""
        answer = self.operator.post(
            "/sandbox/collect", json={"userId": user, "currency": currency, "amount": amount, "payerName": "Initech"}
        )
        answer.raise_for_status()
        return dict(answer.json())


class App:
    """One ``whalet-bot run`` child process on a fixed database and port."""

    def __init__(
        self,
        world: World,
        workdir: Path,
        config_toml: str = DEMO_CONFIG,
        env: dict[str, str] | None = None,
        *,
        database_url: str | None = None,
        signing_secret: str | None = None,
        forked: bool = True,
        prefix: tuple[str, ...] = (),
    ) -> None:
        """``database_url``: a Postgres database instead of this app's own SQLite file (replicas
        share one URL and one ``signing_secret``, as they share one Slack app). ``forked``: start
        it from the pre-imported fork server (tests/faults/forked.py); False executes
        ``python -m bot.cli run`` afresh, for tests about the command line itself, after ``prefix``
        (a wrapper such as ``faketime``; only without the fork server)."""
        assert not (forked and prefix), "a prefix needs a fresh process: forked=False"
        self.world = world
        self.database_url = database_url
        self.extra_env = dict(env or {})
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / "whalet-bot.db"
        self.config_path = workdir / "whalet-bot.toml"
        self.config_path.write_text(config_toml, encoding="utf-8")
        self.log_path = workdir / "app.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.signing_secret = signing_secret or secrets.token_hex(16)
        self.slack = SlackRequests.for_fake(world.fake, self.signing_secret, self.url)
        self.forked = forked
        self.prefix = prefix
        self.process: subprocess.Popen[bytes] | ForkedRun | None = None
        self.starts = 0

    def env(self, fault_point: str | None) -> dict[str, str]:
        keys = self.world.sandbox.keys
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHALET_"))}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "PYTHONUNBUFFERED": "1",
                "SLACK_BOT_TOKEN": DEMO_BOT_TOKEN,
                "SLACK_SIGNING_SECRET": self.signing_secret,
                "SLACK_API_BASE_URL": self.world.fake_server.url + "/api/",
                "WHALET_BASE_URL": self.world.sandbox_server.url + "/api",
                "WHALET_PARTNER_ID": DEMO_PARTNER_ID,
                "WHALET_PARTNER_PRIVATE_KEY": str(keys.partner_private),
                "WHALET_PUBLIC_KEY": str(keys.whalet_public),
                "WHALET_BOT_CONFIG": str(self.config_path),
                "WHALET_BOT_DB": str(self.db_path),
                "WHALET_BOT_HOST": "127.0.0.1",
                "WHALET_BOT_PORT": str(self.port),
                "WHALET_BOT_LOG_LEVEL": "INFO",
            }
        )
        if self.database_url:
            env["WHALET_BOT_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        if fault_point:
            env["WHALET_BOT_FAULT_POINT"] = fault_point
        return env

    def start(self, fault_point: str | None = None, *, wait: bool = True, point_webhook: bool = True) -> App:
        """Start the app; ``wait=False`` for a fault point that may fire during start-up."""
        assert self.process is None or self.process.poll() is not None, "the app is still running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {self.starts} fault_point={fault_point}\n".encode())
            log.flush()
            if self.forked:
                self.process = ForkedRun(self.env(fault_point), self.workdir, self.log_path)
            else:
                self.process = subprocess.Popen(
                    [*self.prefix, sys.executable, "-m", "bot.cli", "run"],
                    cwd=self.workdir,
                    env=self.env(fault_point),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        if wait:
            self.wait_healthy()
        if point_webhook:
            self.world.sandbox.set_webhook_url(self.url + "/whalet/webhook")
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the app exited with {self.process.returncode} during start-up:\n{self.log()}")
            try:
                return loopback.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, what="GET /healthz")

    def wait_killed(self, timeout: float = 30.0) -> int:
        """Wait for the fault point to fire; the child must have died of SIGKILL."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the fault point never fired:\n{self.log()}") from None
        assert code == -signal.SIGKILL, f"expected death by SIGKILL, got exit code {code}:\n{self.log()}"
        return code

    def restart(self, timeout: float = 30.0) -> App:
        self.wait_killed(timeout)
        return self.start()

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the app did not stop within {timeout}s of SIGTERM:\n{self.log()}") from None

    def stop(self) -> None:
        self.slack.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:] if self.log_path.exists() else ""

    # --- the app's own database, read from outside (WAL: readers never block the writer) ------
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.database_url:
            with psycopg.connect(self.database_url, autocommit=True) as pg:
                rows = pg.execute(to_postgres(sql, has_params=bool(params)), params or None).fetchall()
                return [tuple(row) for row in rows]
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()
