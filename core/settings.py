"""Process settings: secrets and endpoints from the environment or ``.env``.

Secrets live here, not in the TOML policy file, so the policy file can be reviewed and committed
while the keys stay in the deployment's secret store. Every secret is a ``SecretStr``: its repr,
str and log output are masked, and error messages name the variable, never its value.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from whalet.envelope import EnvelopeError, load_private_key, load_public_key
from whalet.gateways import LEGACY_TEST_GATEWAY, V1_TEST_HOST
from whalet.transport.v1 import V1Credentials, decode_aes_key

TEST_GATEWAY = LEGACY_TEST_GATEWAY
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """Settings that cannot start the bot; the message names each variable and the reason."""


class Settings(BaseSettings):
    """Environment variables (names are the upper-case field names, e.g. ``SLACK_BOT_TOKEN``)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_base_url: str = "https://slack.com/api/"
    # How long any one Slack Web API call may take. One number for every client of the process:
    # they share one HTTP session (bot/app.py), and a shared session's timeout is what applies.
    slack_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    whalet_base_url: str = TEST_GATEWAY
    whalet_partner_id: str
    # The legacy protocol's RSA keys (required by that profile only, see legacy_codec_keys()).
    whalet_partner_private_key: SecretStr | None = None
    # Named *_source so the attribute does not clash with the whalet_public_key() loader.
    whalet_public_key_source: str | None = Field(
        default=None, validation_alias=AliasChoices("WHALET_PUBLIC_KEY", "whalet_public_key_source")
    )
    # The REST v1 protocol's credentials (required by that profile only, see v1_credentials()).
    whalet_client_id: str | None = None
    whalet_secret_key: SecretStr | None = None
    whalet_hmac_key: SecretStr | None = None
    whalet_aes_key: SecretStr | None = None
    whalet_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    whalet_max_connections: int = Field(default=256, ge=1, le=1000)
    # The first pause before a read-only query is retried (doubled each time, with jitter; 3 retries).
    whalet_retry_backoff_seconds: float = Field(default=0.5, ge=0, le=30)
    whalet_bot_config: Path = Path("whalet-bot.toml")
    whalet_bot_db: Path = Path("whalet-bot.db")
    # postgresql://user:password@host:port/dbname: Postgres instead of the SQLite file, so that
    # several replicas can share the database. Secret: the URL usually holds a password.
    whalet_bot_database_url: SecretStr | None = None
    # How long a process's claim on a piece of work (an outbox delivery, a digest run) lasts
    # before another replica may take it over, should the holder have died. Longer than any one
    # delivery (Slack calls time out after 10 s).
    whalet_bot_claim_lease_seconds: float = Field(default=30.0, ge=3, le=600)
    whalet_bot_host: str = "127.0.0.1"
    whalet_bot_port: int = Field(default=3000, ge=0, le=65535)
    # Slow and many clients (bot/http_server.py): the whole header block, and the whole body, must
    # arrive within these; past the cap the connection waited on longest is closed.
    whalet_bot_http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    whalet_bot_http_body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    whalet_bot_http_max_connections: int = Field(default=1000, ge=8, le=100_000)
    whalet_bot_log_level: str = "INFO"
    whalet_bot_metrics_public: bool = False
    # After a command or an Approve click is acked, the pause before its handler's CPU work, so that
    # Bolt's runner (it looks for the ack every 10 ms) sends every ack of a burst first
    # (commands/dispatch.py). Tests that feed Bolt directly have no HTTP ack to wait for: 0.
    whalet_bot_ack_flush_seconds: float = Field(default=0.04, ge=0, le=1)
    # The digest chart is drawn by a child process (notifications/digest_chart_process.py); one
    # that takes longer is killed, and the digest stays posted without its chart.
    whalet_bot_chart_timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator(
        "slack_app_token",
        "whalet_partner_private_key",
        "whalet_public_key_source",
        "whalet_client_id",
        "whalet_secret_key",
        "whalet_hmac_key",
        "whalet_aes_key",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # `SLACK_APP_TOKEN=` in a .env file means "not set": HTTP mode, not Socket Mode (and the
        # same for the credentials of the protocol profile not in use).
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("whalet_bot_database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None  # `WHALET_BOT_DATABASE_URL=` in .env: the SQLite file
        if isinstance(text, str) and not text.strip().startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (leave it unset to use the SQLite file WHALET_BOT_DB)")
        return text.strip() if isinstance(text, str) else value

    @property
    def database_url(self) -> str | None:
        """The Postgres URL, or None for the SQLite file ``whalet_bot_db``."""
        url = self.whalet_bot_database_url
        return None if url is None else url.get_secret_value()

    @field_validator("slack_api_base_url", "whalet_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("slack_api_base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto base_url without adding a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("whalet_partner_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("whalet_bot_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.whalet_bot_log_level)  # type: ignore[no-any-return]

    def partner_private_key(self) -> rsa.RSAPrivateKey:
        """Our RSA key for signing requests and opening notifications."""
        if self.whalet_partner_private_key is None:
            raise SettingsError(
                "WHALET_PARTNER_PRIVATE_KEY: missing; the legacy protocol needs the partner's "
                'RSA private key (or choose protocol = "v1" under [whalet] if Whalet gave you '
                "v1 credentials)"
            )
        try:
            return load_private_key(self.whalet_partner_private_key.get_secret_value())
        except EnvelopeError:
            # The loader's message is generic, but say nothing that could hint at the value.
            raise SettingsError(
                "WHALET_PARTNER_PRIVATE_KEY: not a readable RSA private key; give PEM text, "
                "bare Base64 PKCS#8 DER, or the path of a file holding either"
            ) from None

    def whalet_public_key(self) -> rsa.RSAPublicKey:
        """Whalet's RSA public key for checking its signatures."""
        if self.whalet_public_key_source is None:
            raise SettingsError("WHALET_PUBLIC_KEY: missing; the legacy protocol needs Whalet's RSA public key")
        try:
            return load_public_key(self.whalet_public_key_source)
        except EnvelopeError as exc:
            raise SettingsError(f"WHALET_PUBLIC_KEY: {exc}; give PEM text, bare Base64 DER, or a file path") from None

    def v1_credentials(self) -> V1Credentials:
        """The REST v1 credentials; one SettingsError naming every missing or unusable variable."""
        values = {
            "WHALET_CLIENT_ID": self.whalet_client_id,
            "WHALET_SECRET_KEY": self.whalet_secret_key,
            "WHALET_HMAC_KEY": self.whalet_hmac_key,
            "WHALET_AES_KEY": self.whalet_aes_key,
        }
        problems = [
            f"  {name}: missing; the v1 protocol needs it (Whalet issues it with the partner id)"
            for name, value in values.items()
            if value is None
        ]
        aes_key = b""
        if self.whalet_aes_key is not None:
            try:
                aes_key = decode_aes_key(self.whalet_aes_key.get_secret_value())
            except ValueError as exc:
                problems.append(f"  WHALET_AES_KEY: {exc}")
        if problems:
            raise SettingsError("\n".join(["Settings for the v1 protocol are missing or invalid:", *problems]))
        assert self.whalet_client_id and self.whalet_secret_key and self.whalet_hmac_key
        return V1Credentials(
            self.whalet_client_id.strip(),
            self.whalet_secret_key.get_secret_value(),
            self.whalet_hmac_key.get_secret_value(),
            aes_key,
        )

    def gateway_url(self, protocol: str) -> str:
        """WHALET_BASE_URL for the profile: legacy's gateway ends in /api; v1's is the bare host."""
        if protocol != "v1":
            return self.whalet_base_url
        if "whalet_base_url" not in self.model_fields_set:
            return V1_TEST_HOST  # the default test gateway, without /api
        url = self.whalet_base_url.rstrip("/")
        if url.endswith("/api"):
            raise SettingsError(
                f"WHALET_BASE_URL: for protocol v1 give the host without /api (e.g. {url.removesuffix('/api')})"
            )
        return url


def env_name(field: str) -> str:
    return field.upper()


def describe_errors(error: ValidationError) -> str:
    """One line per variable: ENV_NAME: reason. Never the input value (it may be a secret)."""
    lines = ["Settings are missing or invalid (environment variables or .env):"]
    for item in error.errors(include_input=False, include_url=False):
        loc = item.get("loc") or ("?",)
        name = env_name(str(loc[0]))
        if item["type"] == "missing":
            reason = "missing (set it in the environment or in .env)"
        else:
            reason = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"  {name}: {reason}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read settings; overrides use attribute names (``whalet_bot_port=0``) or ``_env_file``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None
