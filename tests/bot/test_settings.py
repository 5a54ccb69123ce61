"""Settings from the environment: secrets stay masked, errors name variables, keys load."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.settings import SettingsError, load_settings
from whalet.envelope import generate_key_pair

ENV_VARS = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_BASE_URL",
    "WHALET_BASE_URL",
    "WHALET_PARTNER_ID",
    "WHALET_PARTNER_PRIVATE_KEY",
    "WHALET_PUBLIC_KEY",
    "WHALET_BOT_CONFIG",
    "WHALET_BOT_DB",
    "WHALET_BOT_HOST",
    "WHALET_BOT_PORT",
    "WHALET_BOT_LOG_LEVEL",
    "WHALET_BOT_METRICS_PUBLIC",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable from the developer's shell or a stray .env leaks into a test."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return generate_key_pair()


def full_env(monkeypatch: pytest.MonkeyPatch, keys: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = keys
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-value")
    monkeypatch.setenv("WHALET_PARTNER_ID", "P0001")
    monkeypatch.setenv("WHALET_PARTNER_PRIVATE_KEY", private_pem.decode())
    monkeypatch.setenv("WHALET_PUBLIC_KEY", public_pem.decode())


def test_defaults_and_env_names(monkeypatch: pytest.MonkeyPatch, keys: tuple[bytes, bytes]) -> None:
    full_env(monkeypatch, keys)
    monkeypatch.setenv("WHALET_BOT_PORT", "8080")
    monkeypatch.setenv("WHALET_BOT_METRICS_PUBLIC", "true")
    monkeypatch.setenv("WHALET_BOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://127.0.0.1:9999/api")
    settings = load_settings()
    assert settings.whalet_bot_port == 8080
    assert settings.whalet_bot_metrics_public is True
    assert settings.whalet_bot_log_level == "DEBUG"
    assert settings.slack_api_base_url == "http://127.0.0.1:9999/api/"
    assert settings.whalet_base_url == "https://test-open.whalet.com/api"
    assert settings.whalet_bot_config == Path("whalet-bot.toml")
    assert settings.whalet_bot_db == Path("whalet-bot.db")
    assert settings.whalet_bot_host == "127.0.0.1"
    assert settings.slack_app_token is None and not settings.socket_mode
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret-token"


def test_dotenv_file_is_read(keys: tuple[bytes, bytes], tmp_path: Path) -> None:
    private_pem, public_pem = keys
    (tmp_path / "priv.pem").write_bytes(private_pem)
    (tmp_path / "pub.pem").write_bytes(public_pem)
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\nSLACK_APP_TOKEN=xapp-1\nWHALET_PARTNER_ID=P1\n"
        f"WHALET_PARTNER_PRIVATE_KEY={tmp_path / 'priv.pem'}\nWHALET_PUBLIC_KEY={tmp_path / 'pub.pem'}\n"
        "UNRELATED_VARIABLE=ignored\n"
    )
    settings = load_settings()
    assert settings.socket_mode
    assert isinstance(settings.partner_private_key(), rsa.RSAPrivateKey)


def test_repr_and_str_never_show_secrets(monkeypatch: pytest.MonkeyPatch, keys: tuple[bytes, bytes]) -> None:
    full_env(monkeypatch, keys)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-secret-app-token")
    settings = load_settings()
    shown = repr(settings) + str(settings) + repr(settings.model_dump())
    for secret in ("xoxb-very-secret-token", "signing-secret-value", "xapp-secret-app-token", "PRIVATE KEY"):
        assert secret not in shown
    assert "P0001" in shown  # the partner id is not a secret: the repr is still useful


def test_missing_variables_listed_by_env_name() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    lines = str(caught.value).splitlines()[1:]
    named = {line.split(":")[0].strip() for line in lines}
    # The Whalet credentials depend on the protocol profile (policy file), so they are checked
    # when the transport is built: see the two tests below.
    assert named == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "WHALET_PARTNER_ID"}
    assert all("missing" in line for line in lines)


def test_each_profile_names_the_credentials_it_misses() -> None:
    from core.config import WhaletSection
    from core.transport import build_transport

    settings = load_settings(_env_file=None, slack_bot_token="x", slack_signing_secret="y", whalet_partner_id="P1")
    with pytest.raises(SettingsError, match="^WHALET_PARTNER_PRIVATE_KEY: missing; the legacy protocol"):
        build_transport(settings, WhaletSection())
    with pytest.raises(SettingsError) as caught:
        build_transport(
            settings.model_copy(update={"whalet_aes_key": SecretStr("c2hvcnQ=")}), WhaletSection(protocol="v1")
        )
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "WHALET_CLIENT_ID",
        "WHALET_SECRET_KEY",
        "WHALET_HMAC_KEY",
        "WHALET_AES_KEY",
    ]
    assert "decodes to 5 bytes; an AES-128 key is 16" in lines[-1] and "c2hvcnQ" not in str(caught.value)


def test_v1_base_url_is_the_host_without_api() -> None:
    base = {"_env_file": None, "slack_bot_token": "x", "slack_signing_secret": "y", "whalet_partner_id": "P1"}
    assert load_settings(**base).gateway_url("v1") == "https://test-open.whalet.com"
    assert load_settings(**base).gateway_url("legacy") == "https://test-open.whalet.com/api"
    assert (
        load_settings(**base, whalet_base_url="https://open.whalet.com/").gateway_url("v1") == "https://open.whalet.com"
    )
    with pytest.raises(SettingsError, match="^WHALET_BASE_URL: for protocol v1 give the host without /api"):
        load_settings(**base, whalet_base_url="https://open.whalet.com/api").gateway_url("v1")


def test_bad_values_named_without_echoing_them(monkeypatch: pytest.MonkeyPatch, keys: tuple[bytes, bytes]) -> None:
    full_env(monkeypatch, keys)
    monkeypatch.setenv("WHALET_BOT_PORT", "not-a-port-secretish")
    monkeypatch.setenv("WHALET_BOT_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("WHALET_BASE_URL", "ftp://example")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "WHALET_BOT_PORT: " in message and "integer" in message
    assert "WHALET_BOT_LOG_LEVEL: must be one of" in message
    assert "WHALET_BASE_URL: must start with http" in message
    assert "not-a-port-secretish" not in message and "LOUD" not in message
    assert isinstance(caught.value, ValueError)


def _der_base64(private_pem: bytes, public_pem: bytes) -> tuple[str, str]:
    private = serialization.load_pem_private_key(private_pem, password=None)
    public = serialization.load_pem_public_key(public_pem)
    private_der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(private_der).decode(), base64.b64encode(public_der).decode()


@pytest.mark.parametrize("form", ["pem", "base64_der", "path"])
def test_keys_load_in_every_form(form: str, keys: tuple[bytes, bytes], tmp_path: Path) -> None:
    private_pem, public_pem = keys
    if form == "pem":
        private, public = private_pem.decode(), public_pem.decode()
    elif form == "base64_der":
        private, public = _der_base64(private_pem, public_pem)
    else:
        (tmp_path / "partner.pem").write_bytes(private_pem)
        (tmp_path / "whalet.pub").write_bytes(public_pem)
        private, public = str(tmp_path / "partner.pem"), str(tmp_path / "whalet.pub")
    settings = load_settings(
        _env_file=None,
        slack_bot_token="x",
        slack_signing_secret="y",
        whalet_partner_id="P",
        whalet_partner_private_key=private,
        whalet_public_key_source=public,
    )
    own = settings.partner_private_key()
    peer = settings.whalet_public_key()
    # The pair matches: both sides of one generated key pair.
    assert own.public_key().public_numbers() == peer.public_numbers()


def test_unreadable_keys_name_the_variable(tmp_path: Path) -> None:
    settings = load_settings(
        _env_file=None,
        slack_bot_token="x",
        slack_signing_secret="y",
        whalet_partner_id="P",
        whalet_partner_private_key="c2VjcmV0LWJ1dC1ub3QtYS1rZXk=",
        whalet_public_key_source=str(tmp_path / "missing.pem"),
    )
    with pytest.raises(SettingsError, match="^WHALET_PARTNER_PRIVATE_KEY: ") as caught:
        settings.partner_private_key()
    assert "c2VjcmV0" not in str(caught.value)
    with pytest.raises(SettingsError, match="^WHALET_PUBLIC_KEY: "):
        settings.whalet_public_key()
