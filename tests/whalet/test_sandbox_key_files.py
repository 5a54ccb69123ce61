"""The sandbox's own secrets (its RSA key pairs, the v1 credentials file) are never readable by
others, not even for the moment between writing them and a chmod."""

from __future__ import annotations

import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WRITERS = {
    "keys": "from devkit.whalet_sandbox.keys import ensure_keys; ensure_keys(Path(sys.argv[1]))",
    "v1 credentials": "from devkit.whalet_sandbox.v1_recipe import ensure_v1_credentials; "
    "ensure_v1_credentials(Path(sys.argv[1]), 'PDEMO0001')",
}


def modes(folder: Path) -> dict[str, str]:
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()}


def write(what: str, folder: Path, file_size_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """The sandbox writing its secrets in a process of its own under umask 000 (and, if given, a cap
    on the size of any file it writes, so the write fails after the file was created)."""

    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    code = f"import sys; from pathlib import Path; {WRITERS[what]}"
    return subprocess.run(
        [sys.executable, "-B", "-c", code, str(folder)],
        cwd=REPO,
        umask=0o000,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("what", WRITERS)
def test_a_secret_whose_writing_fails_was_never_open_to_others(tmp_path: Path, what: str) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    done = write(what, folder, file_size_limit=64)
    assert done.returncode != 0  # the write failed (EFBIG)
    # Before: the half-written secret stayed behind as 0666 (written, then to be chmod-ed).
    assert {name: mode for name, mode in modes(folder).items() if "private" in name or "credentials" in name} == {}
