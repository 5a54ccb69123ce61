"""Shared fixtures live in tests/fixtures/ and are registered here once for the whole suite."""

import compileall
import os
import sys
import tempfile
from pathlib import Path

import pytest

PACKAGES = ("bot", "commands", "core", "devkit", "notifications", "services", "whalet")


def _share_bytecode() -> None:
    """The suite starts some fifty Python processes (xdist workers, the app processes it kills with
    -9, replicas, the CLI demo). Where bytecode writing is off (``PYTHONDONTWRITEBYTECODE``, as on
    the machines this project is built on), each of them compiled the project from source again,
    0.3-0.5 s of CPU per start. The caches go to a folder under the system's temp dir instead of
    the source tree; the project is compiled once, here, before the workers start."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return  # bytecode is cached as usual, or this is a worker the controller already set up
    prefix = str(Path(tempfile.gettempdir()) / "whalet-bot-pycache")
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=2)


_share_bytecode()


def _sleep_without_clock_nanosleep() -> None:
    """Under libfaketime (CI runs the suite a second time with the machine clock moved),
    ``time.sleep`` fails with EINVAL: Python sleeps with an absolute ``clock_nanosleep`` on
    CLOCK_MONOTONIC, and libfaketime 0.9.10 shifts that deadline by the faked wall-clock offset
    even when monotonic time is not faked (``FAKETIME_DONT_FAKE_MONOTONIC=1``, which the run needs:
    with a faked monotonic clock, lock and event timeouts never end). ``select`` takes a relative
    timeout and is left alone, so the test process sleeps with it. Nothing changes without
    libfaketime."""
    if "faketime" not in os.environ.get("LD_PRELOAD", ""):
        return
    import select
    import time

    def sleep(seconds: float) -> None:
        select.select([], [], [], max(0.0, seconds))

    time.sleep = sleep


_sleep_without_clock_nanosleep()

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deal the ``long_running`` tests (the stateful approval test, kill -9, replicas, SIGTERM) out
    to the workers first, longest first to the least loaded, so that no worker is still
    running a minute-long test after the others have finished.

    xdist's ``worksteal`` hands each worker a contiguous block of the collection and later steals
    from the blocks' tails; so each block here starts with its share of the long tests, followed
    by the short ones in their usual order. Only the speed depends on this, never a result."""
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    marked = [(item, item.get_closest_marker("long_running")) for item in items]
    long = sorted(
        ((item, mark.kwargs.get("seconds", 10)) for item, mark in marked if mark is not None), key=lambda x: -x[1]
    )
    short = [item for item, mark in marked if mark is None]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item, seconds in long:
        lightest = load.index(min(load))
        heads[lightest].append(item)
        load[lightest] += seconds
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for index, head in enumerate(heads):
        size = remaining // (workers - index)  # the block worksteal sends this worker
        fill = max(0, size - len(head))
        ordered += head + short[:fill]
        short = short[fill:]
        remaining -= len(head) + fill
    items[:] = ordered + short
