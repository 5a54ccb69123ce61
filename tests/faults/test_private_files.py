"""The database, its WAL and SHM, and the lock file are the bot's user's alone, whatever the umask;
a lock file that another user could open is refused with what is wrong with it, not blamed on a
whalet-bot that is not running."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.storage.instance_lock import InstanceLock, LockFileNotPrivate
from core.storage.store import Store
from devkit.localstack import DEMO_CONFIG
from tests.faults.harness import REPO, App, World

HOLD_SHARED = """
import fcntl, sys, time
handle = open(sys.argv[1], "r")  # read access is all a shared lock needs
fcntl.lockf(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
print("held", flush=True)
time.sleep(60)
"""


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The process umask for the block (children started inside inherit it), restored after."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(database: Path) -> dict[str, str]:
    names = [database.name + tail for tail in ("", "-wal", "-shm", ".lock")]
    return {name: oct(stat.S_IMODE((database.parent / name).stat().st_mode)) for name in names}


def test_whalet_bot_run_under_umask_022_creates_every_file_0600(world: World, tmp_path: Path) -> None:
    app = App(world, tmp_path / "app", forked=False)  # `python -m bot.cli run`, as installed
    try:
        with umask(0o022):
            app.start()
        assert modes(app.db_path) == dict.fromkeys(modes(app.db_path), "0o600"), app.log()
    finally:
        app.stop()


def test_the_store_and_the_lock_create_their_files_0600_even_under_umask_000(tmp_path: Path) -> None:
    database = tmp_path / "data" / "whalet-bot.db"
    with umask(0o000):
        lock = InstanceLock(database).acquire()
        store = Store(database)
    try:
        with store.transaction() as db:
            db.execute("INSERT INTO kv (key, value) VALUES ('vaccount', '6222020012345678')")  # lands in the WAL
        assert (database.parent / (database.name + "-wal")).stat().st_size > 0
        assert modes(database) == dict.fromkeys(modes(database), "0o600")
    finally:
        store.close()
        lock.release()


@pytest.fixture
def shared_holder(tmp_path: Path) -> Iterator[Path]:
    """A lock file left 0644 by an older version, held (shared, read-only) by another local process."""
    database = tmp_path / "whalet-bot.db"
    lock_file = tmp_path / "whalet-bot.db.lock"
    lock_file.write_text("")
    lock_file.chmod(0o644)
    process = subprocess.Popen([sys.executable, "-c", HOLD_SHARED, str(lock_file)], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"held"
    yield database
    process.kill()
    process.wait()


def test_a_lock_file_others_can_open_is_refused_with_what_is_wrong(shared_holder: Path) -> None:
    with pytest.raises(LockFileNotPrivate) as refused:
        InstanceLock(shared_holder).acquire()
    message = str(refused.value)
    assert "whalet-bot.db.lock is mode 0644: group and others can read it" in message
    assert "Remove it while no whalet-bot runs" in message
    assert "Another whalet-bot" not in message and "pid" not in message


def test_whalet_bot_run_refuses_such_a_lock_file_in_one_sentence(shared_holder: Path) -> None:
    config = shared_holder.parent / "whalet-bot.toml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHALET_"))}
    env |= {
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "WHALET_PARTNER_ID": "P1",
        "WHALET_BOT_DB": str(shared_holder),
        "WHALET_BOT_CONFIG": str(config),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], env=env, cwd=shared_holder.parent, capture_output=True, timeout=60
    )
    said = " ".join(done.stderr.decode().split())
    assert done.returncode == 2, said
    assert "whalet-bot.db.lock is mode 0644: group and others can read it" in said
    assert "Another whalet-bot" not in said and "Traceback" not in said


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_lock_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "whalet-bot.db"
    lock_file = tmp_path / "whalet-bot.db.lock"
    lock_file.write_text("")
    lock_file.chmod(0o600)
    os.chown(lock_file, 65534, 65534)  # nobody
    with pytest.raises(LockFileNotPrivate, match=r"whalet-bot.db.lock is owned by another user \(uid 65534\)"):
        InstanceLock(database).acquire()
