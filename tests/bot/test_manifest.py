"""`whalet-bot manifest --url`: the shipped manifest with the deployment's URLs, URL validation."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.manifest import PLACEHOLDER, ManifestError, locate_manifest, render_manifest, validate_base_url

SAMPLE = f"""\
# Replace {PLACEHOLDER} with your host.
display_information:
  name: whalet-bot
features:
  slash_commands:
    - command: /whalet
      url: {PLACEHOLDER}/slack/events
settings:
  interactivity:
    is_enabled: true
    request_url: {PLACEHOLDER}/slack/events
"""
URL_FIELD = re.compile(r"^\s*(?:url|request_url):\s*(\S+)\s*$", re.M)


def test_every_placeholder_url_is_replaced() -> None:
    out = render_manifest("https://bot.acme.example/", text=SAMPLE)
    first, rest = out.split("\n", 1)
    assert first == "# Request URLs filled in for https://bot.acme.example by `whalet-bot manifest`."
    assert URL_FIELD.findall(out) == ["https://bot.acme.example/slack/events"] * 2
    assert f"# Replace {PLACEHOLDER} with your host." in rest  # comments are left alone
    assert rest.replace("https://bot.acme.example", PLACEHOLDER) == SAMPLE  # nothing else changed


def test_a_path_prefix_is_kept() -> None:
    out = render_manifest("https://acme.example:8443/whalet", text=SAMPLE)
    assert URL_FIELD.findall(out)[0] == "https://acme.example:8443/whalet/slack/events"


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://bot.acme.example", "Slack requires https"),
        ("bot.acme.example", "is not a URL"),
        ("ftp://bot.acme.example", "is not a URL"),
        ("https://bot.acme.example/?x=1", "no query"),
        ("https://user:pw@bot.acme.example", "credentials"),
        ("https://bad host", "not a host name"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ManifestError, match=reason):
        validate_base_url(url)


def test_http_only_when_allowed() -> None:
    assert validate_base_url("http://127.0.0.1:3000", allow_http=True) == "http://127.0.0.1:3000"


def test_a_manifest_without_placeholder_is_refused() -> None:
    with pytest.raises(ManifestError, match="no https://whalet-bot.example.com placeholder"):
        render_manifest("https://bot.acme.example", text=f"# see {PLACEHOLDER}\nsettings: {{}}\n")


def test_the_shipped_manifest_points_every_url_at_the_given_host() -> None:
    text = locate_manifest()
    assert PLACEHOLDER in text
    assert text == (Path(__file__).parents[2] / "app_manifest.yml").read_text(encoding="utf-8")
    # bot/app_manifest.yml is a symlink to the root file: package data for wheels, never a copy.
    assert resources.files("bot").joinpath("app_manifest.yml").read_text(encoding="utf-8") == text
    out = render_manifest("https://bot.acme.example", text=text)
    urls = URL_FIELD.findall(out)
    assert urls, "the manifest declares no request URL"
    assert all(u.startswith("https://bot.acme.example/") for u in urls), urls
    assert "/slack/events" in out


def test_cli_prints_the_manifest(tmp_path: Path) -> None:
    source = tmp_path / "m.yml"
    source.write_text(SAMPLE, encoding="utf-8")
    result = CliRunner().invoke(app, ["manifest", "--url", "https://bot.acme.example", "--file", str(source)])
    assert result.exit_code == 0, result.output
    assert result.output == render_manifest("https://bot.acme.example", text=SAMPLE)
    assert "url: https://bot.acme.example/slack/events" in result.output


def test_cli_refuses_http_with_one_message_and_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "m.yml"
    source.write_text(SAMPLE, encoding="utf-8")
    result = CliRunner().invoke(app, ["manifest", "--url", "http://bot.acme.example", "--file", str(source)])
    assert result.exit_code == 2
    assert "Slack requires https" in result.output
    assert "Traceback" not in result.output


def test_cli_names_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["manifest", "--url", "https://x.example", "--file", str(tmp_path / "no.yml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


# --- the manifest against Slack's own schema --------------------------------------------------

SCHEMA = Path(__file__).parents[1] / "fixtures" / "slack_manifest.schema.1.0.0.json"


def _manifest() -> dict[str, Any]:
    return yaml.safe_load(locate_manifest())


def test_the_manifest_validates_against_slacks_manifest_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(_manifest(), schema)  # raises ValidationError with the path on a mistake
    filled = yaml.safe_load(render_manifest("https://bot.acme.example"))
    jsonschema.validate(filled, schema)


def test_the_schema_catches_what_slack_would_refuse() -> None:
    """The vendored schema is not a rubber stamp: a too-long usage hint or an unknown key fails."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = _manifest()
    broken["features"]["slash_commands"][0]["usage_hint"] = "x" * 1001
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = _manifest()
    broken["features"]["bot_user"]["display_nmae"] = "typo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_home_and_messages_tabs_and_exactly_the_events_the_code_handles() -> None:
    manifest = _manifest()
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"]
    handled = {"app_home_opened", "app_uninstalled", "tokens_revoked"}  # registered in commands/__init__.py
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == handled
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    assert len(hint) <= 80, hint  # Slack shows it in one line under the command


def test_the_app_does_not_pass_for_whalets_own() -> None:
    manifest = _manifest()
    for name in (manifest["display_information"]["name"], manifest["features"]["bot_user"]["display_name"]):
        assert name.strip().lower() not in ("whalet", "易鲸", "whalet app", "whalet official")
        assert not name.lower().startswith("whalet ") and name.lower() != "whalet"
