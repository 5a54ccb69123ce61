"""`whalet-bot run` as a real process, without paying for its imports at every start.

The fault tests start the app about thirty times, and a fresh interpreter spends some two seconds
of CPU importing slack_bolt, aiohttp, pydantic, psycopg and the rest before it serves a request:
more than the app then spends being tested, and most of the suite's CPU in the real-process tier.
So each test process keeps one fork server (``multiprocessing``'s ``forkserver``) that imported
`bot.cli` and what it needs once, and forks a child for every start.

The child is a process of its own in everything the tests are about: its own pid, working
directory, environment, log, database connections, event loop, sockets and signal handlers, and a
real SIGKILL ends it. What it inherits is imported code and one TLS context (settings and trusted
roots): the server runs nothing else, so no thread, connection or event loop exists to be copied.
The child then runs exactly what ``python -m bot.cli run`` runs (``bot.cli.main``, same
arguments). Tests about the command line as installed (its exit codes, a SIGTERM to a freshly
executed process) start it with ``exec`` instead (``App(forked=False)``).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import bot.cli
from whalet.tls import shared_tls

# What `whalet-bot run` imports before serving (bot.cli imports its command bodies' modules
# lazily), and what its first requests import (httpx's HTTP/1.1 stack, uvloop, babel's numbers).
PRELOAD = [
    __name__,
    "bot.wiring",
    "bot.logs",
    "core.storage.instance_lock",
    "core.storage.postgres",
    "uvicorn",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "httpcore",
    "h11",
    "babel.numbers",
    "apscheduler.executors.asyncio",
    "devkit.cli",
]

# The one TLS context (whalet/tls.py) is built here too: it only holds settings and the trusted
# roots, and parsing the CA bundle again in every child is 50 ms of CPU each.
shared_tls()

_forkserver = multiprocessing.get_context("forkserver")
_forkserver.set_forkserver_preload(PRELOAD)


def _run(env: dict[str, str], cwd: str, log_path: str) -> None:
    """In the child: the process's own directory, environment and log, then `whalet-bot run`."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as PYTHONUNBUFFERED would
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.argv = ["whalet-bot", "run"]
    bot.cli.main()


class ForkedRun:
    """The part of ``subprocess.Popen`` the harness uses, for a child of the fork server."""

    def __init__(self, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        # daemon: if a test process exits with the app still running, multiprocessing kills it
        # instead of waiting for it forever.
        self._process = _forkserver.Process(target=_run, args=(env, str(cwd), str(log_path)), daemon=True)
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or minus the signal that ended it (``-9`` after kill -9), like Popen."""
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(["whalet-bot", "run"], timeout or 0)
        return code

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()
