"""``run_sandbox``: the blocking entry point behind ``whalet-bot sandbox`` (wired in bot/cli.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_sandbox
from .config import SandboxConfig
from .v1_recipe import CREDENTIALS_FILE

log = logging.getLogger(__name__)


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8090,
    keys_dir: Path | str = "sandbox-keys",
    webhook_url: str | None = None,
    partner_id: str = "PDEMO0001",
    latency_ms: int = 0,
    seed: int = 0,
    protocol: str = "legacy",
    v1: dict[str, Any] | None = None,
) -> None:
    """``v1``: [whalet.v1] settings the sandbox speaks (``request_signature``, ``errors``...)."""
    sandbox = create_sandbox(
        SandboxConfig(
            keys_dir=Path(keys_dir),
            partner_id=partner_id,
            webhook_url=webhook_url,
            latency_ms=latency_ms,
            seed=seed,
            protocol=protocol,
            v1=dict(v1 or {}),
        )
    )
    keys = sandbox.keys
    if protocol == "v1":
        print(f"Whalet sandbox (REST v1) for partner {partner_id}: WHALET_BASE_URL=http://{host}:{port}")
        settings = sandbox.v1_gateway.recipe if sandbox.v1_gateway else None
        if settings is not None:
            print(
                f"  request signatures {'checked' if settings.request_signature else 'NOT checked'}; "
                f"refusals as {'HTTP error statuses' if settings.errors == 'http' else 'HTTP 200 with the code in the body'}"
            )
        print(
            f"  give the bot the credentials in {Path(keys_dir) / CREDENTIALS_FILE} "
            "(WHALET_CLIENT_ID, WHALET_SECRET_KEY, WHALET_HMAC_KEY, WHALET_AES_KEY)"
        )
    else:
        print(f"Whalet sandbox for partner {partner_id}: gateway http://{host}:{port}/api")
        print(f"  give the bot: Whalet public key {keys.whalet_public}, partner private key {keys.partner_private}")
    print(f"  webhook: {webhook_url or 'not set (POST /sandbox/config from this host)'}")
    uvicorn.run(sandbox.app, host=host, port=port, log_level="info", lifespan="on")
