"""The machine's clock, read in one place for the whole product.

``core.clock`` (what the app injects and tests freeze) is built on these two functions; they live
here, at the bottom, because the Whalet client layer cannot import ``core`` (imports point down)
yet needs the time too: request numbers carry it, and a v1 token's expiry is a duration. Nothing
else reads the machine's clock (ruff's banned-api rule in pyproject.toml enforces it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def wall() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds on a clock that never steps, for durations."""
    return time.monotonic()


def epoch_seconds() -> float:
    """Now as Unix seconds (what signed headers carry)."""
    return wall().timestamp()
