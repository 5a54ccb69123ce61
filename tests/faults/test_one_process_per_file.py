"""One process per SQLite file: a second `whalet-bot run` on the same file refuses to start and
names the first; a first process killed with SIGKILL leaves no lock behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    database = tmp_path / "whalet-bot.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(DatabaseInUse, match=f"pid {holder.pid} on host .*, started .*WHALET_BOT_DATABASE_URL"):
            InstanceLock(database).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        InstanceLock(database).acquire().release()  # kill -9 released it: no stale lock to clean up
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_second_run_on_the_same_file_refuses_to_start(world: World, make_app, tmp_path: Path) -> None:
    first: App = make_app().start()
    second = App(world, first.workdir)  # same folder: the same whalet-bot.db
    try:
        second.start(wait=False, point_webhook=False)
        assert second.process is not None
        assert second.process.wait(30) == 2
        refusal = " ".join(second.log().split())
        assert f"Another whalet-bot (pid {first.process.pid} on host" in refusal, refusal  # type: ignore[union-attr]
        assert "One SQLite file serves one process" in refusal
        assert "Traceback" not in refusal
    finally:
        second.stop()
    assert first.process is not None and first.process.poll() is None  # the first one runs on, untouched
