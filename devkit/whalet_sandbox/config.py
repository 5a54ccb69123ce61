"""Settings of one sandbox instance (see README.md for what each one changes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class SandboxConfig:
    keys_dir: Path
    partner_id: str = "PDEMO0001"
    webhook_url: str | None = None
    latency_ms: int = 0
    seed: int = 0
    payout_result_delay_s: float = 3.0  # virtual seconds after a confirm until the result
    retry_time_scale: float = 1.0  # multiplies the notification retry schedule (tests: 0.001)
    notify_timeout_s: float = 5.0
    protocol: str = "legacy"  # "legacy": POST /api envelopes; "v1": REST under /v1 (protocol spec §9)
    legacy: dict[str, Any] = field(default_factory=dict)  # [whalet.legacy] settings the sandbox speaks
    v1: dict[str, Any] = field(default_factory=dict)  # [whalet.v1] settings the sandbox speaks
    amounts: str = "number"  # how the sandbox insists request amounts are written: "number" / "string"
    token_ttl_s: int = 7200  # v1 token lifetime
    # How webhooks travel: None is real HTTP; the in-process test stack hands the app's ASGI app here.
    webhook_transport: httpx.AsyncBaseTransport | None = None
