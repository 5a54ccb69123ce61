"""`whalet-bot keys generate DIR`: a usable partner key pair, and never an overwrite."""

from __future__ import annotations

import resource
import stat
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from whalet.envelope import EnvelopeCodec, load_private_key, load_public_key

REPO = Path(__file__).resolve().parents[2]


def test_generated_pair_signs_and_opens_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "generate", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    private_path, public_path = tmp_path / "keys" / "partner_private.pem", tmp_path / "keys" / "partner_public.pem"
    assert private_path.stat().st_mode & 0o777 == 0o600
    assert "give this one to Whalet" in result.output
    private, public = load_private_key(str(private_path)), load_public_key(str(public_path))
    assert private.key_size == 2048
    partner = EnvelopeCodec(private, public)  # a message to ourselves proves the two halves match
    assert partner.decode_request(partner.encode_request("P1", "connectivity", "R1", {"message": "hi"})).body == {
        "message": "hi"
    }


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "generate", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "partner_private.pem").read_bytes()
    again = runner.invoke(app, ["keys", "generate", str(tmp_path)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    assert (tmp_path / "partner_private.pem").read_bytes() == before


def generate(directory: Path, *, umask: int, file_size_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """``whalet-bot keys generate`` as installed (``bot.cli.main``), in a process of its own with
    this umask and, if given, a cap on the size of any file it writes (RLIMIT_FSIZE)."""

    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [sys.executable, "-B", "-m", "bot.cli", "keys", "generate", str(directory)],
        cwd=REPO,
        umask=umask,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_under_umask_000_the_private_key_is_0600_and_nothing_written_is_open_to_others(tmp_path: Path) -> None:
    done = generate(tmp_path / "keys", umask=0o000)
    assert done.returncode == 0, done.stderr
    written = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (tmp_path / "keys").iterdir()}
    assert written == {"partner_private.pem": "0o600", "partner_public.pem": "0o600"}  # umask 077 from main()
    assert oct(stat.S_IMODE((tmp_path / "keys").stat().st_mode)) == "0o700"


def test_a_key_whose_writing_fails_was_never_open_to_others_and_is_not_left_half_written(tmp_path: Path) -> None:
    # The write of the PEM fails after the file was created (Python ignores SIGXFSZ, so the
    # write raises EFBIG): whatever exists at that moment is what a chmod-afterwards would expose.
    done = generate(tmp_path / "keys", umask=0o000, file_size_limit=64)
    left = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (tmp_path / "keys").iterdir()}
    assert left == {}  # before: {"partner_private.pem": "0o666"}, 64 bytes of the key readable by anyone
    assert done.returncode == 2, done.stderr
    assert "Could not write" in done.stderr and "partner_private.pem" in done.stderr
    assert "Traceback" not in done.stderr
