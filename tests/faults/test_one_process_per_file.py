"""One process per SQLite file: a second `whalet-bot run` on the same file refuses to start and
names the first; a first process killed with SIGKILL leaves no lock behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.storage.instance_lock import DatabaseInUse, InstanceLock
from tests.faults.harness import App, World

HOLD = """
import sys, time
from pathlib import Path
from core.storage.instance_lock import InstanceLock
InstanceLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Another process holding the lock on ``tmp_path/app/whalet-bot.db``, as a running bot does."""
    database = tmp_path / "app" / "whalet-bot.db"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2]
    )
    assert process.stdout is not None and process.stdout.readline().strip() == b"held"
    yield process, database
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_lock_names_its_holder_and_dies_with_it(holder: tuple[subprocess.Popen[bytes], Path]) -> None:
    process, database = holder
    with pytest.raises(DatabaseInUse, match=f"pid {process.pid} on host .*, started .*WHALET_BOT_DATABASE_URL"):
        InstanceLock(database).acquire()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    InstanceLock(database).acquire().release()  # kill -9 released it: no stale lock to clean up


def test_a_second_run_on_the_same_file_refuses_to_start(
    world: World, holder: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, database = holder
    second = App(world, database.parent, forked=False)  # `python -m bot.cli run` on the file the holder has
    try:
        second.start(wait=False, point_webhook=False)
        assert second.process is not None
        assert second.process.wait(30) == 2
        refusal = " ".join(second.log().split())
        assert f"Another whalet-bot (pid {process.pid} on host" in refusal, refusal
        assert "One SQLite file serves one process" in refusal
        assert "Traceback" not in refusal
    finally:
        second.stop()
    assert process.poll() is None  # the first one runs on, untouched
