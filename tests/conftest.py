"""Shared fixtures live in tests/fixtures/ and are registered here once for the whole suite."""

import os

# Tests must never pick up a developer's real Slack or Whalet credentials from the environment.
for _name in (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "WHALET_PARTNER_ID",
    "WHALET_PARTNER_PRIVATE_KEY",
    "WHALET_PUBLIC_KEY",
    "WHALET_BASE_URL",
    "SLACK_API_BASE_URL",
    "WHALET_CLIENT_ID",
    "WHALET_SECRET_KEY",
    "WHALET_HMAC_KEY",
    "WHALET_AES_KEY",
):
    os.environ.pop(_name, None)

pytest_plugins = ["tests.fixtures.app", "tests.fixtures.whalet", "tests.fixtures.postgres"]


def pytest_xdist_auto_num_workers(config: object) -> int:
    """``-n auto`` (pyproject.toml): two workers per core, at most eight. Most of the suite's time is
    spent waiting on loopback servers, Slack's pacing and child processes, not on the CPU; each
    worker also starts its own throwaway Postgres cluster, hence the cap."""
    return min(8, 2 * (os.cpu_count() or 1))
