"""The policy file: the example loads, and every kind of mistake names the key and the reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import BotConfig, ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "whalet-bot.example.toml"


@pytest.fixture(scope="module")
def example_text() -> str:
    return EXAMPLE.read_text()


def load_text(tmp_path: Path, text: str) -> BotConfig:
    path = tmp_path / "whalet-bot.toml"
    path.write_text(text)
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    first, *rest = str(caught.value).splitlines()
    assert first.startswith(str(tmp_path / "whalet-bot.toml"))
    assert "Traceback" not in str(caught.value)
    return [line.strip() for line in rest] or [first]


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.whalet.user_id == "U10001"
    assert config.whalet.default_fund_source == "B2C"
    assert config.roles.approvers == ["U0APP1", "U0APP2"]
    assert config.approvals is not None and config.approvals.channel == "C0APPROVALS"
    assert config.approvals.ceiling == {"USD": Decimal("250000")}
    assert config.beneficiary("ACME-US") is config.beneficiary("BEN002") is not None
    assert config.routes[0].mention is None  # "" means nobody
    assert config.routes[0].min_amount == Decimal("0")
    schedule = config.digest.schedules[0]
    assert (schedule.hour, schedule.minute, schedule.timezone) == (9, 0, "Asia/Shanghai")
    assert config.all_channels() == {"C0APPROVALS", "C0COLLECT", "C0FINANCE", "C0ALERTS"}


def test_example_documents_every_key(example_text: str) -> None:
    """Each key of every section appears in the example, so the file is the full reference."""
    sections = {
        "whalet": BotConfig.model_fields["whalet"].annotation,
        "roles": BotConfig.model_fields["roles"].annotation,
        "notifications": BotConfig.model_fields["notifications"].annotation,
        "digest": BotConfig.model_fields["digest"].annotation,
    }
    from core.config import Approvals, Beneficiary, DigestSchedule, Route, Tier, WhaletUser
    from whalet.recipes import LegacyRecipe, V1Recipe

    models = [
        *sections.values(),
        Approvals,
        Beneficiary,
        Route,
        Tier,
        DigestSchedule,
        WhaletUser,
        LegacyRecipe,
        V1Recipe,
    ]
    for model in models:
        for key in model.model_fields:  # type: ignore[union-attr]
            documented = f"{key} =" in example_text or f"[whalet.{key}]" in example_text  # a sub-table
            assert documented, f"{key} is not documented in the example"


def test_the_example_spells_out_each_protocol_setting_at_its_default() -> None:
    from whalet.recipes import LegacyRecipe, V1Recipe

    whalet = load_config(EXAMPLE).whalet
    assert whalet.legacy == LegacyRecipe() and whalet.v1 == V1Recipe()
    assert (whalet.protocol, whalet.money_enabled, whalet.amounts) == ("legacy", False, "number")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")
    assert config.approvals is None
    assert config.required_approvals("USD", Decimal("1")) is None  # no policy, no payouts
    assert config.notifications.max_attempts == 8 and config.digest.misfire_grace_seconds == 3600
    assert config.all_channels() == set()


def test_required_approvals_tiers_and_ceiling(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """
[approvals]
channel = "C1"
tiers = [
  { currency = "USD", up_to = "10000", approvals = 1 },
  { currency = "USD", up_to = "50000", approvals = 2 },
  { currency = "JPY", up_to = 5000000, approvals = 2 },
]
ceiling = { USD = "80000" }
""",
    )
    rules = config.approvals
    assert rules is not None
    assert rules.required_approvals("USD", Decimal("0.01")) == 1
    assert rules.required_approvals("USD", Decimal("10000")) == 1
    assert rules.required_approvals("USD", Decimal("10000.01")) == 2
    assert rules.required_approvals("USD", Decimal("50000")) == 2
    assert rules.required_approvals("USD", Decimal("50000.01")) == 2  # above the top tier: its approvals
    assert rules.required_approvals("USD", Decimal("80000")) == 2
    assert rules.required_approvals("USD", Decimal("80000.01")) is None  # above the ceiling
    assert rules.required_approvals("JPY", Decimal("5000000")) == 2
    assert rules.required_approvals("JPY", Decimal("5000001")) is None  # above the highest tier
    assert rules.required_approvals("EUR", Decimal("1")) is None  # unconfigured currency
    assert rules.required_approvals("USD", Decimal("0")) is None
    assert rules.ceiling_for("USD") == Decimal("80000")
    assert rules.ceiling_for("JPY") == Decimal("5000000")
    assert rules.ceiling_for("EUR") is None


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('up_to = "100000"', 'up_to = "5000"', "approvals.tiers[1].up_to", "larger than the previous USD tier"),
        (
            '"100000", approvals = 2',
            '"100000", approvals = 9',
            "approvals.tiers[1].approvals",
            "less than or equal to 5",
        ),
        ('up_to = "100000"', 'up_to = "100000.001"', "approvals.tiers[1].up_to", "more decimals than USD allows (2)"),
        ('up_to = "100000"', 'up_to = "lots"', "approvals.tiers[1].up_to", "'lots' is not a number"),
        (
            '{ currency = "USD", up_to = "10000"',
            '{ currency = "XYZ", up_to = "10000"',
            "approvals.tiers[0].currency",
            "XYZ",
        ),
        ('ceiling = { USD = "250000" }', 'ceiling = { EUR = "250000" }', "approvals.ceiling.EUR", "no tiers"),
        ('daily_limit = { USD = "150000" }', 'daily_limit = { USD = "-1" }', "approvals.daily_limit.USD", "negative"),
        ("ttl_minutes = 1440", "ttl_minutes = 0", "approvals.ttl_minutes", "greater than or equal to 1"),
        ("ttl_minutes = 1440", "ttl_minutes = 10081", "approvals.ttl_minutes", "less than or equal to 10080"),
        ("ttl_minutes = 1440", 'ttl_minutes = "30"', "approvals.ttl_minutes", "valid integer"),
        ("max_rate_drift_bps = 50", "max_rate_drift_bps = -1", "approvals.max_rate_drift_bps", "greater than"),
        ('channel = "C0APPROVALS"', 'channel = "#approvals"', "approvals.channel", "not a Slack channel id"),
        ('channel = "C0APPROVALS"', "", "approvals.channel", "required key is missing"),
        (
            'approvers = ["U0APP1", "U0APP2"]',
            'approvers = ["U0APP1", "alice"]',
            "roles.approvers[1]",
            "not a Slack user id",
        ),
        ("approver_groups = []", 'approver_groups = ["U0APP1"]', "roles.approver_groups[0]", "user-group id"),
        (
            'default_fund_source = "B2C"',
            'default_fund_source = "b2c"',
            "whalet.default_fund_source",
            "'B2C', 'B2B' or 'Acquiring'",
        ),
        ('default_user_id = "U10001"', 'default_user_id = "U2"', "whalet.default_user_id", "not one of users"),
        ('nickname = "acme-us"', 'nickname = "Acme US"', "beneficiaries[0].nickname", "lowercase"),
        ('country = "US"', 'country = "USA"', "beneficiaries[0].country", "alpha-2"),
        ('account_tail = "6789"', 'account_tail = "123456789"', "beneficiaries[0].account_tail", "last 4"),
        ('events = ["collections"]', 'events = ["payments"]', "routes[0].events[0]", "ending in Notify"),
        ('events = ["collections"]', "events = []", "routes[0].events", "at least 1"),
        ('mention = ""', 'mention = "U0REQ"', "routes[0].mention", "user-group id"),
        ("currencies = []", 'currencies = ["usd", "QQQ"]', "routes[0].currencies[1]", "QQQ"),
        ('day_zone = "Asia/Shanghai"', 'day_zone = "Asia/Atlantis"', "approvals.day_zone", "IANA time zone"),
        ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Atlantis"', "digest.schedules[0].timezone", "IANA time zone"),
        ('time = "09:00"', 'time = "24:00"', "digest.schedules[0].time", "HH:MM"),
        ("concurrency = 4", "concurrency = 0", "digest.concurrency", "greater than or equal to 1"),
        (
            "confirm_settle_seconds = 30",
            "confirm_settle_seconds = -1",
            "approvals.confirm_settle_seconds",
            "greater than or equal to 0",
        ),
        ("fold_threshold = 5", "fold_threshold = true", "notifications.fold_threshold", "valid integer"),
    ],
)
def test_bad_value_names_key_and_reason(
    tmp_path: Path, example_text: str, old: str, new: str, key: str, reason: str
) -> None:
    assert old in example_text
    found = problems(tmp_path, example_text.replace(old, new, 1))
    assert any(line.startswith(f"{key}: ") and reason in line for line in found), found


def test_float_amount_refused_with_hint(tmp_path: Path, example_text: str) -> None:
    found = problems(tmp_path, example_text.replace('ceiling = { USD = "250000" }', "ceiling = { USD = 10000.5 }"))
    assert found == ['approvals.ceiling.USD: write amounts as strings, e.g. "10000.50" (TOML floats are not exact)']


def test_integer_amounts_are_fine(tmp_path: Path, example_text: str) -> None:
    config = load_text(tmp_path, example_text.replace('ceiling = { USD = "250000" }', "ceiling = { USD = 250000 }"))
    assert config.approvals is not None and config.approvals.ceiling["USD"] == Decimal("250000")


@pytest.mark.parametrize(
    ("old", "new", "key", "allowed"),
    [
        ("ttl_minutes", "ttl_minute", "approvals.ttl_minute", "ttl_minutes"),
        ("[digest]", "[digests]", "digests", "digest"),
        (
            'account_tail = "6789"',
            'account_tail = "6789"\niban = "DE89370400440532013000"',
            "beneficiaries[0].iban",
            "account_tail",
        ),
        ("approvals = 1 }", 'approvals = 1, approver = "U1" }', "approvals.tiers[0].approver", "approvals"),
    ],
)
def test_unknown_key_refused(tmp_path: Path, example_text: str, old: str, new: str, key: str, allowed: str) -> None:
    found = problems(tmp_path, example_text.replace(old, new, 1))
    line = next(line for line in found if line.startswith(f"{key}: "))
    assert "unknown key" in line and allowed in line.split("allowed here:")[1]


def test_duplicate_beneficiary_nickname(tmp_path: Path, example_text: str) -> None:
    extra = '\n[[beneficiaries]]\nid = "BEN003"\nnickname = "acme-us"\nname = "Other"\ncountry = "DE"\ncurrency = "EUR"\naccount_tail = "1234"\n'
    found = problems(tmp_path, example_text + extra)
    assert found == ["beneficiaries[1].nickname: 'acme-us' is used by another beneficiary"]


def test_several_problems_reported_together(tmp_path: Path, example_text: str) -> None:
    text = example_text.replace("ttl_minutes = 1440", "ttl_minutes = 0").replace('country = "US"', 'country = "us"')
    found = problems(tmp_path, text)
    assert {line.split(":")[0] for line in found} == {"approvals.ttl_minutes", "beneficiaries[0].country"}


def test_toml_syntax_error_gives_line(tmp_path: Path, example_text: str) -> None:
    lines = example_text.splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if line.startswith("ttl_minutes"))
    lines[number - 1] = "ttl_minutes = = 30"
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, "\n".join(lines))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'whalet-bot.toml'}: line {number}, column ")
    assert "TOML syntax error" in message


def test_missing_file_suggests_the_example(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert "nope.toml" in str(caught.value) and "whalet-bot.example.toml" in str(caught.value)


def test_roles_are_explicit() -> None:
    config = BotConfig.model_validate(
        {"roles": {"admins": ["UADM"], "approvers": ["UAPP"], "approver_groups": ["SFIN"]}}
    )
    assert config.roles.roles_of("UADM") == {"viewer", "admin"}
    assert config.roles.roles_of("UOTHER", ["SFIN"]) == {"viewer", "approver"}
    assert config.roles.roles_of("UNKNOWN") == {"none"}
    everyone = BotConfig.model_validate({"roles": {"everyone_else": "viewer", "viewer_groups": ["SALL"]}})
    assert everyone.roles.roles_of("UNKNOWN") == {"viewer"}
    with pytest.raises(ValidationError):
        BotConfig.model_validate({"roles": {"everyone_else": "requester"}})
    with pytest.raises(ValidationError):
        BotConfig.model_validate({"roles": {"share_min_role": "nobody"}})
