"""`whalet-bot check` against the real sandbox and the Slack stand-in: every failure kind, with its fix."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console

from bot.check import CHECK_TEXT, run_checks
from core.storage.store import Store
from devkit.localstack import DEMO_BOT_TOKEN, DEMO_CONFIG, DEMO_PARTNER_ID
from devkit.postgres import Cluster
from devkit.serving import ThreadedServer
from devkit.slack_standin.server import FakeSlack
from whalet.envelope import generate_key_pair
from devkit.whalet_sandbox import SandboxConfig, create_sandbox

CHANNELS = {"C0APPROVALS", "C0COLLECT", "C0COMPLIANCE", "C0FINANCE", "C0ALERTS"}


@dataclass
class World:
    sandbox: Any
    fake: FakeSlack
    sandbox_url: str
    config_path: Path
    tmp: Path

    def settings(self, **changes: Any) -> dict[str, Any]:
        values = dict(
            slack_bot_token=DEMO_BOT_TOKEN,
            slack_signing_secret="s3cret",
            slack_api_base_url=f"{self.fake.url}/api/",
            whalet_base_url=self.sandbox_url + "/api",
            whalet_partner_id=DEMO_PARTNER_ID,
            whalet_partner_private_key=str(self.sandbox.keys.partner_private),
            whalet_public_key_source=str(self.sandbox.keys.whalet_public),
            whalet_bot_config=self.config_path,
            _env_file=None,
        )
        values.update(changes)
        return values


@pytest.fixture
def world(tmp_path: Path, stack_keys: Path) -> Iterator[World]:
    sandbox = create_sandbox(SandboxConfig(keys_dir=stack_keys, partner_id=DEMO_PARTNER_ID))
    config_path = tmp_path / "whalet-bot.toml"
    config_path.write_text(DEMO_CONFIG, encoding="utf-8")
    with ThreadedServer(sandbox.app) as sandbox_server:
        fake = FakeSlack(bot_token=DEMO_BOT_TOKEN).serve()
        fake.channel_names["C0APPROVALS"] = "payout-approvals"
        try:
            yield World(sandbox, fake, sandbox_server.url, config_path, tmp_path)
        finally:
            fake.stop()


def check(world: World, config_path: Path | None = None, **changes: Any) -> tuple[int, list[str]]:
    buffer = io.StringIO()
    code = run_checks(world.settings(**changes), config_path, Console(file=buffer, width=1000))
    return code, buffer.getvalue().splitlines()


def line(lines: list[str], start: str) -> str:
    found = [text for text in lines if text.startswith(start)]
    assert len(found) == 1, f"no single line starting {start!r} in:\n" + "\n".join(lines)
    return found[0]


def test_everything_passes_and_channels_are_tried_without_leaving_messages(world: World) -> None:
    code, lines = check(world)
    assert code == 0, "\n".join(lines)
    assert all(text.startswith(("PASS  ", "NOTE  ")) for text in lines), lines
    for step in (
        "Whalet gateway reachable",
        "Whalet knows partner id",
        "our signature accepted",
        "Whalet's answer verified with WHALET_PUBLIC_KEY",
        "Whalet connectivity (legacy protocol",
    ):
        line(lines, f"PASS  {step}")
    assert "not needed" in line(lines, "NOTE  live-money switch")
    line(lines, "PASS  Slack auth.test")
    posted = {c.params["channel"] for c in world.fake.calls("chat.postMessage")}
    assert posted == CHANNELS
    assert {c.params["text"] for c in world.fake.calls("chat.postMessage")} == {CHECK_TEXT}
    assert world.fake.messages() == []  # each test message was deleted again
    assert "can post in #payout-approvals (C0APPROVALS)" in line(lines, "PASS  can post in #payout-approvals")


def test_wrong_partner_id(world: World) -> None:
    code, lines = check(world, whalet_partner_id="PNOBODY99")
    assert code == 1
    assert "Whalet does not know partner id PNOBODY99: check WHALET_PARTNER_ID" in line(
        lines, "FAIL  Whalet knows partner id PNOBODY99"
    )
    line(lines, "PASS  Whalet gateway reachable")
    line(lines, "SKIP  Whalet connectivity")


def test_key_pair_the_sandbox_does_not_know(world: World) -> None:
    private_pem, _ = generate_key_pair()
    stranger = world.tmp / "stranger.pem"
    stranger.write_bytes(private_pem)
    code, lines = check(world, whalet_partner_private_key=str(stranger))
    assert code == 1
    line(lines, "PASS  partner private key")  # it loads: only Whalet can tell it is not ours
    failure = line(lines, "FAIL  our signature accepted")
    assert "Whalet could not verify our signature: check WHALET_PARTNER_PRIVATE_KEY" in failure
    assert "[whalet.legacy] sign_hash" in failure and "--probe" in failure
    assert "partner_public.pem" in failure


def test_wrong_whalet_public_key(world: World) -> None:
    _, other_public = generate_key_pair()
    code, lines = check(world, whalet_public_key_source=other_public.decode())
    assert code == 1
    assert "Whalet's answer did not verify: check WHALET_PUBLIC_KEY" in line(lines, "FAIL  Whalet's answer verified")
    line(lines, "SKIP  our signature accepted")  # an unverified answer's code is not trusted


def test_unreachable_whalet(world: World) -> None:
    code, lines = check(world, whalet_base_url="http://127.0.0.1:9/api")
    assert code == 1
    assert "could not reach Whalet at http://127.0.0.1:9/api: check WHALET_BASE_URL" in line(
        lines, "FAIL  Whalet gateway reachable"
    )


def test_slack_token_rejected(world: World) -> None:
    code, lines = check(world, slack_bot_token="xoxb-revoked")
    assert code == 1
    failure = line(lines, "FAIL  Slack auth.test")
    assert "invalid_auth" in failure
    assert "Slack rejected SLACK_BOT_TOKEN: reinstall the app and copy the Bot User OAuth Token" in failure
    line(lines, "PASS  Whalet connectivity")  # one failure does not hide the others
    assert world.fake.calls("chat.postMessage") == []


def test_unreachable_slack(world: World) -> None:
    code, lines = check(world, slack_api_base_url="http://127.0.0.1:9/api/")
    assert code == 1
    assert "could not reach Slack: check SLACK_API_BASE_URL" in line(lines, "FAIL  Slack auth.test")


def test_channel_not_accessible(world: World) -> None:
    world.fake.deny_channel("C0APPROVALS", "not_in_channel")
    world.fake.deny_channel("C0ALERTS", "channel_not_found")
    code, lines = check(world)
    assert code == 1
    assert "invite @whalet to #payout-approvals" in line(lines, "FAIL  can post in #payout-approvals")
    assert "no channel C0ALERTS that the bot can see" in line(lines, "FAIL  can post in C0ALERTS")
    line(lines, "PASS  can post in #c0finance")
    assert sum(text.startswith("FAIL") for text in lines) == 2


def test_a_channel_the_bot_posts_into_without_being_a_member_fails_with_the_invite(world: World) -> None:
    """chat:write.public lets the post through; the crash-recovery history lookup would not be."""
    world.fake.add_channel("C0COLLECT", "collections", member=False)
    code, lines = check(world)
    assert code == 1
    failure = line(lines, "FAIL  can post in #collections")
    assert "posting works, but not_in_channel" in failure
    assert "type /invite @whalet in the channel" in failure and "history" in failure
    line(lines, "PASS  can post in #payout-approvals")
    assert world.fake.messages("C0COLLECT") == []  # the test message was deleted
    assert sum(text.startswith("FAIL") for text in lines) == 1


def test_partner_key_must_be_rsa_2048(world: World) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = world.tmp / "small.pem"
    path.write_bytes(
        small.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    code, lines = check(world, whalet_partner_private_key=str(path))
    assert code == 1
    assert "1024 bits" in line(lines, "FAIL  partner private key")
    assert "whalet-bot keys generate" in line(lines, "FAIL  partner private key")
    line(lines, "SKIP  Whalet connectivity")


def test_unreadable_key_and_broken_policy_file(world: World) -> None:
    broken = world.tmp / "broken.toml"
    broken.write_text(DEMO_CONFIG.replace("ttl_minutes = 30", 'ttl_minutes = "soon"'), encoding="utf-8")
    code, lines = check(world, config_path=broken, whalet_public_key_source="not a key")
    assert code == 1
    assert "WHALET_PUBLIC_KEY" in line(lines, "FAIL  Whalet public key")
    failure = line(lines, f"FAIL  policy file {broken}")
    assert "ttl_minutes" in failure and "whalet-bot.example.toml" in failure


def test_missing_settings_are_named_and_the_rest_skipped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(world.tmp)  # no .env here
    buffer = io.StringIO()
    code = run_checks({"_env_file": None}, world.config_path, Console(file=buffer, width=400))
    lines = buffer.getvalue().splitlines()
    assert code == 1
    failure = line(lines, "FAIL  settings")
    assert "SLACK_BOT_TOKEN: missing" in failure and "WHALET_PARTNER_ID: missing" in failure
    line(lines, "SKIP  Whalet connectivity")
    line(lines, "SKIP  Slack auth.test")


def test_cli_check_reads_the_environment_and_sets_the_exit_code(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.chdir(world.tmp)  # no stray .env
    env = {
        "SLACK_BOT_TOKEN": DEMO_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_BASE_URL": f"{world.fake.url}/api/",
        "WHALET_BASE_URL": world.sandbox_url + "/api",
        "WHALET_PARTNER_ID": DEMO_PARTNER_ID,
        "WHALET_PARTNER_PRIVATE_KEY": str(world.sandbox.keys.partner_private),
        "WHALET_PUBLIC_KEY": str(world.sandbox.keys.whalet_public),
    }
    passed = CliRunner().invoke(app, ["check", "--config", str(world.config_path)], env=env)
    assert passed.exit_code == 0, passed.output
    assert "PASS  Whalet connectivity" in passed.output
    failed = CliRunner().invoke(
        app, ["check", "--config", str(world.config_path)], env=env | {"SLACK_BOT_TOKEN": "xoxb-wrong"}
    )
    assert failed.exit_code == 1
    assert "FAIL  Slack auth.test" in failed.output and "Traceback" not in failed.output


def test_the_database_line_names_the_backend_and_its_version(world: World, database_url: str | None) -> None:
    if database_url is None:
        Store(world.tmp / "bot.db").close()
        code, lines = check(world, whalet_bot_db=world.tmp / "bot.db")
        expected = f"PASS  database: SQLite {sqlite3.sqlite_version} at {world.tmp / 'bot.db'}; schema current"
    else:
        code, lines = check(world, whalet_bot_database_url=database_url)
        expected = "PASS  database: PostgreSQL 1"
    assert code == 0, "\n".join(lines)
    assert line(lines, "PASS  database").startswith(expected)
    assert "schema current" in line(lines, "PASS  database")


def test_an_unreachable_postgres_is_a_failure_with_the_fix_and_no_password(world: World) -> None:
    code, lines = check(world, whalet_bot_database_url="postgresql://bot:hunter2@127.0.0.1:1/whalet")
    assert code == 1
    failed = line(lines, "FAIL  database")
    assert "Cannot connect to PostgreSQL at 127.0.0.1:1/whalet" in failed and "hunter2" not in "\n".join(lines)
    assert "check WHALET_BOT_DATABASE_URL" in failed


def test_a_database_and_a_key_file_others_can_read_are_a_failure_with_the_fix(world: World) -> None:
    database = world.tmp / "bot.db"
    Store(database).close()
    database.chmod(0o644)  # as an older version created it under umask 022
    key_file = world.tmp / "partner_private.pem"
    key_file.write_bytes(world.sandbox.keys.partner_private.read_bytes())
    key_file.chmod(0o640)
    code, lines = check(world, whalet_bot_db=database, whalet_partner_private_key=str(key_file))
    assert code == 1
    failed = line(lines, "FAIL  private files")
    assert f"{database} is mode 0644: group and others can read it" in failed
    assert f"{key_file} is mode 0640: group can read it" in failed
    assert f"run `chmod 600 {database} {key_file}`" in failed
    assert "BEGIN" not in "\n".join(lines)  # the key's file is named, its content never shown
    database.chmod(0o600)
    key_file.chmod(0o600)
    code, lines = check(world, whalet_bot_db=database, whalet_partner_private_key=str(key_file))
    assert code == 0, "\n".join(lines)
    assert line(lines, "PASS  private files") == f"PASS  private files: only this user can open {database}, {key_file}"


def test_on_postgres_only_the_key_file_is_looked_at(world: World, postgres_cluster: Cluster) -> None:
    database_url = postgres_cluster.new_database()
    stray = world.tmp / "whalet-bot.db"
    stray.write_bytes(b"")
    stray.chmod(0o644)  # a file Postgres does not use is not this check's business
    code, lines = check(world, whalet_bot_database_url=database_url, whalet_bot_db=stray)
    assert code == 0, "\n".join(lines)
    assert line(lines, "PASS  private files") == (
        f"PASS  private files: only this user can open {world.sandbox.keys.partner_private}"
    )
