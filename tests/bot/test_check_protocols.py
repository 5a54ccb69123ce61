"""`check` and `check --probe` in both profiles, against sandboxes speaking a non-default recipe."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.check import CheckOptions, run_checks
from devkit.localstack import (
    DEMO_BOT_TOKEN,
    DEMO_CONFIG,
    DEMO_PARTNER_ID,
    LocalStack,
    with_protocol,
)
from bot.probe import MAX_CALLS
from devkit.serving import ThreadedServer
from core.settings import Settings
from devkit.slack_standin.server import FakeSlack
from tests.fixtures.whalet import BOTH_PROTOCOLS
from devkit.whalet_sandbox import SandboxConfig, create_sandbox, ensure_v1_credentials

# What each sandbox speaks instead of the canonical reading (spec §10), and what --probe must print.
ODD_RECIPES: dict[str, dict[str, Any]] = {
    "legacy": {
        "sign_hash": "SHA1",
        "sign_encoding": "hex",
        "key_padding": "OAEP-SHA1",
        "response_sign_fields": ["apiCode", "code", "detail", "encrypt", "partnerId", "requestNo", "version"],
    },
    "v1": {"timestamp_unit": "s", "sign_encoding": "base64", "sign_hash": "SHA512"},
}
EXPECTED_LINES = {
    "legacy": [
        'sign_hash = "SHA1"',
        'sign_encoding = "hex"',
        'key_padding = "OAEP-SHA1"',
        'response_sign_fields = ["apiCode", "code", "detail", "encrypt", "partnerId", "requestNo", "version"]',
    ],
    "v1": ['timestamp_unit = "s"', 'sign_encoding = "base64"', 'sign_hash = "SHA512"'],
}


def run(settings: Settings | dict[str, Any], config: Path, **options: Any) -> tuple[int, list[str]]:
    buffer = io.StringIO()
    code = run_checks(settings, config, Console(file=buffer, width=400), CheckOptions(probe_interval=0.0, **options))
    return code, buffer.getvalue().splitlines()


def line(lines: list[str], start: str) -> str:
    found = [text for text in lines if text.startswith(start)]
    assert len(found) == 1, f"no single line starting {start!r} in:\n" + "\n".join(lines)
    return found[0]


@pytest.fixture
def odd_world(tmp_path: Path, stack_keys: Path, whalet_protocol: str) -> Iterator[Callable[..., Any]]:
    """A sandbox speaking ODD_RECIPES[profile], a Slack stand-in, and the settings to reach both."""
    recipe = ODD_RECIPES[whalet_protocol]
    recipes: dict[str, Any] = {whalet_protocol: recipe}
    sandbox = create_sandbox(
        SandboxConfig(keys_dir=stack_keys, partner_id=DEMO_PARTNER_ID, protocol=whalet_protocol, **recipes)
    )
    with ThreadedServer(sandbox.app) as server:
        fake = FakeSlack(bot_token=DEMO_BOT_TOKEN).serve()
        try:
            settings: dict[str, Any] = {
                "slack_bot_token": DEMO_BOT_TOKEN,
                "slack_signing_secret": "s3cret",
                "slack_api_base_url": f"{fake.url}/api/",
                "whalet_partner_id": DEMO_PARTNER_ID,
                "_env_file": None,
            }
            if whalet_protocol == "v1":
                creds = ensure_v1_credentials(stack_keys, DEMO_PARTNER_ID)
                settings |= {
                    "whalet_base_url": server.url,
                    "whalet_client_id": creds.client_id,
                    "whalet_secret_key": creds.secret_key,
                    "whalet_hmac_key": creds.hmac_key,
                    "whalet_aes_key": creds.aes_key,
                }
            else:
                settings |= {
                    "whalet_base_url": server.url + "/api",
                    "whalet_partner_private_key": str(sandbox.keys.partner_private),
                    "whalet_public_key_source": str(sandbox.keys.whalet_public),
                }

            def config(extra: str = "") -> Path:
                path = tmp_path / "whalet-bot.toml"
                path.write_text(with_protocol(DEMO_CONFIG, whalet_protocol) + extra, encoding="utf-8")
                return path

            yield lambda: (settings, config)
        finally:
            fake.stop()


@BOTH_PROTOCOLS
def test_check_names_the_step_and_probe_finds_the_recipe_that_works(
    odd_world: Callable[..., Any], whalet_protocol: str
) -> None:
    settings, config = odd_world()
    code, lines = run(settings, config())
    assert code == 1
    first_failure = next(text for text in lines if text.startswith("FAIL"))
    if whalet_protocol == "v1":
        assert first_failure.startswith("FAIL  v1 token obtained") and "timestamp_unit" in first_failure
    else:  # Whalet's refusal is signed with its recipe too, so it is the answer that fails first
        assert first_failure.startswith("FAIL  Whalet's answer verified") and "sign_hash" in first_failure
        line(lines, "SKIP  our signature accepted")
    line(lines, "PASS  Whalet gateway reachable")

    code, lines = run(settings, config(), probe=True)
    found = line(lines, f"PASS  probe ({whalet_protocol} protocol")
    calls = int(found.split("(")[-1].split(" ")[0])
    assert calls <= MAX_CALLS
    printed = [text.strip() for text in lines[lines.index(found) + 1 : lines.index(found) + 6]]
    assert printed[0] == f"[whalet.{whalet_protocol}]"
    assert sorted(printed[1 : 1 + len(EXPECTED_LINES[whalet_protocol])]) == sorted(EXPECTED_LINES[whalet_protocol])

    code, lines = run(settings, config("\n" + "\n".join(printed[: 1 + len(EXPECTED_LINES[whalet_protocol])]) + "\n"))
    assert code == 0, "\n".join(lines)  # the printed lines, pasted into the policy file, make check pass
    line(lines, f"PASS  Whalet connectivity ({whalet_protocol} protocol")


@pytest.mark.parametrize("whalet_protocol", ["v1"])
def test_probe_says_so_when_the_configured_recipe_already_works(odd_world: Callable[..., Any]) -> None:
    settings, config = odd_world()
    fixed = config('\n[whalet.v1]\ntimestamp_unit = "s"\nsign_encoding = "base64"\nsign_hash = "SHA512"\n')
    code, lines = run(settings, fixed, probe=True)
    assert code == 0 and "nothing to change" in line(lines, "PASS  probe")
    line(lines, "PASS  v1 token obtained")


@BOTH_PROTOCOLS
def test_probe_refuses_a_production_gateway_unless_allowed(odd_world: Callable[..., Any], whalet_protocol: str) -> None:
    settings, config = odd_world()
    url = "https://gateway.whalet.invalid" + ("/api" if whalet_protocol == "legacy" else "")
    code, lines = run({**settings, "whalet_base_url": url}, config(), probe=True)
    assert code == 1
    assert "not Whalet's test host" in line(lines, "FAIL  probe") and "--allow-production" in line(lines, "FAIL  probe")
    assert "OFF for https://gateway.whalet.invalid" in line(lines, "NOTE  live-money switch")
    line(lines, "FAIL  Whalet gateway reachable")
    _, lines = run({**settings, "whalet_base_url": url}, config(), probe=True, allow_production=True)
    assert "not reachable" in line(lines, "FAIL  probe")  # allowed, it tried (and stopped at once)


@BOTH_PROTOCOLS
def test_the_webhook_url_answer(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(loopback=True)  # `check` probes the webhook over real HTTP
    _, lines = run(stack.settings, stack.config_path, webhook_url=stack.url + "/whalet/webhook")
    assert "refuses an unsigned notification (HTTP 401)" in line(lines, "PASS  webhook URL answers")
    _, lines = run(stack.settings, stack.config_path, webhook_url=stack.url + "/healthz")
    assert "ends in /whalet/webhook" in line(lines, "FAIL  webhook URL answers")
    _, lines = run(stack.settings, stack.config_path, webhook_url="http://127.0.0.1:9/whalet/webhook")
    assert "not reachable from here" in line(lines, "FAIL  webhook URL answers")
