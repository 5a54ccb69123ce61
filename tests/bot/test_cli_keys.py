"""`whalet-bot keys generate DIR`: a usable partner key pair, and never an overwrite."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from whalet.envelope import EnvelopeCodec, load_private_key, load_public_key


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
