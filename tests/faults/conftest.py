"""Fixtures of the fault suite: a sandbox + Slack stand-in per test, app processes on top."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import App, World


@pytest.fixture
def world(tmp_path: Path, stack_keys: Path) -> Iterator[World]:
    started = World(tmp_path, stack_keys)
    yield started
    started.stop()


@pytest.fixture
def make_app(world: World, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**options: Any) -> App:
        app = App(world, tmp_path / f"app{len(apps)}", **options)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.stop()
