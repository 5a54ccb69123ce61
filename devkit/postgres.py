"""A throwaway Postgres cluster from the installed binaries, for tests and benchmarks.

``initdb`` into a temporary folder, ``postgres`` on a free loopback port through ``pg_ctl``,
``stop()`` shuts it down at once and removes the folder. Postgres refuses to run as root, so as
root the binaries run as the ``postgres`` user. Durability is off (``fsync=off``): the cluster
is thrown away, and what it serves is claims and races, not surviving a power cut. Each caller
gets its own database, copied from a template that already holds every migration.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from core.storage.postgres import PostgresStore
from devkit.serving import free_port

TEMPLATE = "whalet_template"


class PostgresMissing(RuntimeError):
    """No initdb on PATH nor under /usr/lib/postgresql/*/bin."""


def postgres_bin() -> Path | None:
    """The folder holding initdb: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class Cluster:
    bin: Path
    base: Path
    port: int
    as_user: list[str]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.base / "data"

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh database with every migration applied; returns its URL."""
        name = f"db{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster() -> Cluster:
    """Start a cluster (raises PostgresMissing without the binaries); the caller must ``stop()`` it."""
    binaries = postgres_bin()
    if binaries is None:
        raise PostgresMissing("Postgres binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    base = Path(tempfile.mkdtemp(prefix="whalet-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(base, "postgres")
        base.chmod(0o700)
    cluster = Cluster(binaries, base, free_port(), as_user)
    try:
        cluster.run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        cluster.run("pg_ctl", "-D", str(cluster.data), "-l", str(base / "log"), "-o", options, "-w", "start")
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        PostgresStore(cluster.url(TEMPLATE)).close()  # every migration, once, in the template
    except BaseException:
        cluster.stop()
        raise
    return cluster
