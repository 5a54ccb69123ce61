"""The whole product on one machine: Whalet sandbox + Slack stand-in + the real app, over loopback.

`whalet-bot demo`, `whalet-bot console` and the end-to-end tests all start this same stack, so the
tour a newcomer watches is the code path the tests prove. Nothing here is faked on our side: the
app is built by `bot.wiring.build_runtime` exactly as `whalet-bot run` builds it, and talks to the
sandbox and the stand-in over real HTTP.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from core.clock import Clock
from core.config import BotConfig, load_config
from devkit.inprocess import AppTransport, LoopHost
from devkit.serving import ThreadedServer, free_port, stop_all
from core.settings import Settings, load_settings
from devkit.slack_standin.server import FakeSlack
from devkit.slack_standin.signing import SlackRequests
from bot.wiring import Runtime, build_runtime
from whalet.tls import shared_tls
from devkit.whalet_sandbox import SandboxConfig, SandboxKeys, create_sandbox, ensure_keys, ensure_v1_credentials

T = TypeVar("T")
DEMO_PARTNER_ID = "PDEMO0001"
DEMO_BOT_TOKEN = "xoxb-standin"
# Where an in-process stack's parts say they live (``*.localhost`` is loopback: no money switch).
IN_PROCESS_APP = "http://whalet-bot.localhost"
IN_PROCESS_SANDBOX = "http://sandbox.localhost"

# Slack user ids the tour plays; names for the terminal rendering.
DEMO_USERS = {
    "U0REQ": "Riley (requester)",
    "U0APP1": "Avery (approver)",
    "U0APP2": "Blake (approver)",
    "U0ADM": "Casey (admin)",
    "U0VIEW": "Drew (viewer)",
}

DEMO_CONFIG = """\
# The demo's policy file: the sandbox's users and beneficiaries (names and account tails exactly as
# the sandbox holds them, so a card shows what Whalet would pay), demo Slack users and channels.
[whalet]
default_user_id = "U10001"
default_fund_source = "B2C"
users = [{ id = "U10001", name = "Acme Trading Ltd" }, { id = "U10002", name = "Globex Export Co" }]

[roles]
requesters = ["U0REQ"]
approvers = ["U0APP1", "U0APP2"]
admins = ["U0ADM"]
viewers = ["U0VIEW"]

[approvals]
channel = "C0APPROVALS"
ttl_minutes = 30
tiers = [ { currency = "USD", up_to = "10000", approvals = 1 },
          { currency = "USD", up_to = "100000", approvals = 2 },
          { currency = "HKD", up_to = "80000", approvals = 1 },
          { currency = "EUR", up_to = "10000", approvals = 1 },
          { currency = "EUR", up_to = "90000", approvals = 2 } ]
ceiling = { USD = "250000", HKD = "80000", EUR = "90000" }
flag_above = { USD = "20000" }

[[beneficiaries]]
id = "BEN001"
nickname = "acme-hk"
name = "Acme Trading Ltd"
country = "HK"
currency = "HKD"
account_tail = "8901"

[[beneficiaries]]
id = "BEN002"
nickname = "acme-us"
name = "Hooli Components Inc"
country = "US"
currency = "USD"
account_tail = "6789"

[[beneficiaries]]
id = "BEN003"
nickname = "berlin-gmbh"
name = "Müller Maschinenbau GmbH"
country = "DE"
currency = "EUR"
account_tail = "3000"

[[routes]]
events = ["collections"]
channel = "C0COLLECT"

[[routes]]
events = ["replenish", "onboarding"]
channel = "C0COMPLIANCE"

[notifications]
default_channel = "C0FINANCE"
alerts_channel = "C0ALERTS"

[digest]
schedules = [ { channel = "C0FINANCE", time = "09:00", timezone = "Asia/Shanghai" } ]
"""


@dataclass
class LocalStack:
    workdir: Path
    settings: Settings
    config: BotConfig
    runtime: Runtime
    fake: FakeSlack
    sandbox: Any
    slack_requests: SlackRequests
    operator: httpx.Client
    http: httpx.Client  # the app's own routes (/healthz, /metrics, /whalet/webhook), however it is served
    url: str
    servers: list[ThreadedServer] = field(default_factory=list)
    sandbox_url: str = ""
    sandbox_process: subprocess.Popen[bytes] | None = None
    host: LoopHost | None = None  # in process: the loop the app and the sandbox share
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def services(self) -> Any:
        return self.runtime.services

    @property
    def workdir_is_kept(self) -> bool:
        """False when the work dir is a temporary folder that ``stop()`` removes."""
        return self._tmp is None

    @property
    def config_path(self) -> Path:
        return self.workdir / "whalet-bot.toml"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the app's event loop and wait for it, from any other thread: the app's
        Slack clients share one HTTP session, which belongs to that loop."""
        loop = self.host.loop if self.host is not None else self.servers[-1].loop  # the app's server is last
        assert loop is not None, "the app is not running"
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def confirm_counts(self) -> dict[str, int]:
        """merOrderNo → number of payoutConfirm calls the sandbox received."""
        rows = self.operator.get("/sandbox/payouts").json()
        records = rows.get("records", rows) if isinstance(rows, dict) else rows
        return {r["merOrderNo"]: int(r.get("confirmCount", 0)) for r in records}

    def stop(self) -> None:
        self.slack_requests.close()
        self.operator.close()
        self.http.close()
        if self.host is not None:
            self.host.stop()  # the app first (its outbox hands rows back), then the sandbox
        stop_all(reversed(self.servers))
        self.servers.clear()
        if self.sandbox_process is not None:
            self.sandbox_process.terminate()
            self.sandbox_process.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()


def start_local_stack(
    workdir: Path | None = None,
    *,
    config_toml: str = DEMO_CONFIG,
    clock: Clock | None = None,
    keys_dir: Path | None = None,
    sandbox_options: dict[str, Any] | None = None,
    db_path: Path | None = None,
    settings_overrides: dict[str, Any] | None = None,
    sandbox_in_process: bool = True,
    protocol: str = "legacy",
    in_process: bool = False,
    slack_tls: tuple[str, str] | None = None,
) -> LocalStack:
    """Start sandbox, Slack stand-in and app; the caller must call ``stop()``.

    ``sandbox_in_process=False`` runs the sandbox as its own process (`whalet-bot sandbox`), as
    Whalet really is: benchmarks use it so the sandbox's CPU does not count against the app's.
    ``protocol``: "legacy" or "v1", spoken by both the sandbox and the app (``[whalet] protocol``).
    ``in_process``: the app and the sandbox share one event loop and reach each other through
    httpx's ASGI transport (devkit/inprocess.py), with no port but the Slack stand-in's: the tests'
    default. The demo and the console serve every part on a loopback port.
    ``slack_tls``: (certificate, key) files: the Slack stand-in serves HTTPS, as Slack does; the
    app's clients must trust the certificate (``SSL_CERT_FILE``, read when aiohttp is imported).
    """
    if in_process and not sandbox_in_process:
        raise ValueError("an in-process stack runs the sandbox in process")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="whalet-bot-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    keys_dir = keys_dir or workdir / "keys"
    options = {"payout_result_delay_s": 2.0, **(sandbox_options or {})}
    host = LoopHost() if in_process else None
    runtime: Runtime | None = None
    process = None
    if host is not None:

        async def the_app(scope: Any, receive: Any, send: Any) -> None:  # built below, once the keys exist
            assert runtime is not None
            await runtime.asgi(scope, receive, send)

        options["webhook_transport"] = AppTransport(the_app, host.background)
    if sandbox_in_process:
        sandbox: Any = create_sandbox(
            SandboxConfig(keys_dir=keys_dir, partner_id=DEMO_PARTNER_ID, protocol=protocol, **options)
        )
        keys = sandbox.keys
        servers = [] if host is not None else [ThreadedServer(sandbox.app).start()]
        sandbox_url = IN_PROCESS_SANDBOX if host is not None else servers[0].url
    else:
        sandbox, keys, servers = None, ensure_keys(keys_dir), []
        process, sandbox_url = _start_sandbox_process(keys_dir, int(options.get("latency_ms", 0)), protocol)
    fake = FakeSlack(bot_token=DEMO_BOT_TOKEN)
    servers.append(ThreadedServer(fake.app, tls=slack_tls).start())
    fake.bind(servers[-1].url)
    config_path = workdir / "whalet-bot.toml"
    config_path.write_text(with_protocol(config_toml, protocol), encoding="utf-8")
    signing_secret = secrets.token_hex(16)
    settings = load_settings(
        slack_bot_token=DEMO_BOT_TOKEN,
        slack_signing_secret=signing_secret,
        slack_api_base_url=servers[-1].url + "/api/",
        whalet_bot_config=config_path,
        whalet_bot_db=db_path or workdir / "whalet-bot.db",
        **{
            "whalet_partner_id": DEMO_PARTNER_ID,
            **_whalet_credentials(protocol, sandbox_url, keys),
            **(settings_overrides or {}),
        },
    )
    config = load_config(config_path)
    if host is not None:
        runtime = build_runtime(
            settings, config, clock=clock, whalet_transport=AppTransport(sandbox.app, host.background)
        )
        host.start(sandbox.app, runtime.asgi)
        url = IN_PROCESS_APP
        to_app: httpx.BaseTransport | None = host.transport_to(runtime.asgi)
        http = httpx.Client(base_url=url, transport=to_app)
        operator = httpx.Client(base_url=sandbox_url, transport=host.transport_to(sandbox.app))
    else:
        runtime = build_runtime(settings, config, clock=clock)
        servers.append(ThreadedServer(runtime.asgi).start())
        url, to_app = servers[-1].url, None
        http = httpx.Client(base_url=url, timeout=10)
        operator = httpx.Client(base_url=sandbox_url, timeout=10, verify=shared_tls())
    operator.post("/sandbox/config", json={"webhook_url": url + "/whalet/webhook"}).raise_for_status()
    requests = SlackRequests.for_fake(fake, signing_secret, url, transport=to_app)
    return LocalStack(
        workdir=workdir,
        settings=settings,
        config=config,
        runtime=runtime,
        fake=fake,
        sandbox=sandbox,
        slack_requests=requests,
        operator=operator,
        http=http,
        url=url,
        servers=servers,
        sandbox_url=sandbox_url,
        sandbox_process=process,
        host=host,
        _tmp=tmp,
    )


def with_protocol(config_toml: str, protocol: str) -> str:
    """The policy file with ``protocol = ...`` under ``[whalet]`` (legacy is the default: unchanged)."""
    if protocol == "legacy":
        return config_toml
    line = f'protocol = "{protocol}"\n'
    if "[whalet]\n" in config_toml:
        return config_toml.replace("[whalet]\n", "[whalet]\n" + line, 1)
    return f"[whalet]\n{line}\n{config_toml}"


def _whalet_credentials(protocol: str, sandbox_url: str, keys: SandboxKeys) -> dict[str, Any]:
    """The settings the app needs for the sandbox's profile (v1 reads ``v1-credentials.json``)."""
    if protocol == "v1":
        creds = ensure_v1_credentials(keys.dir, DEMO_PARTNER_ID)
        return {
            "whalet_base_url": sandbox_url,
            "whalet_client_id": creds.client_id,
            "whalet_secret_key": creds.secret_key,
            "whalet_hmac_key": creds.hmac_key,
            "whalet_aes_key": creds.aes_key,
        }
    return {
        "whalet_base_url": sandbox_url + "/api",
        "whalet_partner_private_key": str(keys.partner_private),
        "whalet_public_key_source": str(keys.whalet_public),
    }


def _start_sandbox_process(keys_dir: Path, latency_ms: int, protocol: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--keys-dir",
            str(keys_dir),
            "--partner-id",
            DEMO_PARTNER_ID,
            "--latency-ms",
            str(latency_ms),
            "--protocol",
            protocol,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=1, verify=shared_tls()) as poll:  # one client for every poll
        while time.monotonic() < deadline:
            try:
                if poll.get(url + "/sandbox/health").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the sandbox process did not start")
