"""Whose language: Slack's locale tags, the hour-long cache, Slack not answering, channel settings."""

from __future__ import annotations

import asyncio

from typing import Any

import pytest

from core.config import BotConfig, ConfigError, Ui, load_config
from services.slack.locale import CACHE_SECONDS, MISS_CACHE_SECONDS, LocaleResolver, Person, from_slack


@pytest.mark.parametrize(
    "tag, default, expected",
    [
        ("zh-CN", "en", "zh-Hans"),
        ("zh_CN", "en", "zh-Hans"),
        ("zh-Hans", "en", "zh-Hans"),
        ("zh-Hans-CN", "en", "zh-Hans"),
        ("en-US", "zh-Hans", "en"),
        ("en-GB", "en", "en"),
        ("zh-TW", "en", "en"),  # Traditional Chinese is not Simplified: the default
        ("fr-FR", "zh-Hans", "zh-Hans"),
        (None, "zh-Hans", "zh-Hans"),
        ("", "en", "en"),
    ],
)
def test_slack_tags_map_to_our_two_locales(tag: str | None, default: Any, expected: str) -> None:
    assert from_slack(tag, default) == expected


class Slack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.down = False

    async def users_info(self, *, user: str, include_locale: bool) -> Any:
        self.calls.append((user, include_locale))
        if self.down:
            raise ConnectionError("Slack is down")
        return {"ok": True, "user": {"id": user, **self.users.get(user, {})}}


async def test_a_person_is_asked_once_an_hour_with_include_locale() -> None:
    slack, now = Slack(), [0.0]
    slack.users["U1"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    resolver = LocaleResolver(lambda: Ui(), slack, monotonic=lambda: now[0])
    assert await resolver.person("U1") == Person("zh-Hans", "Asia/Shanghai")
    slack.users["U1"] = {"locale": "en-US", "tz": "Europe/London"}
    now[0] = CACHE_SECONDS - 1
    assert await resolver.locale_of("U1") == "zh-Hans"  # still the cached answer
    assert slack.calls == [("U1", True)]
    now[0] = CACHE_SECONDS + 1
    assert await resolver.person("U1") == Person("en", "Europe/London")
    assert len(slack.calls) == 2


async def test_slack_not_answering_gives_the_default_locale_for_a_minute() -> None:
    slack, now = Slack(), [0.0]
    slack.down = True
    slack.users["U1"] = {"locale": "en-US"}
    resolver = LocaleResolver(lambda: Ui(default_locale="zh-Hans"), slack, monotonic=lambda: now[0])
    assert await resolver.person("U1") == Person("zh-Hans", None)
    slack.down = False
    now[0] = MISS_CACHE_SECONDS + 1
    assert await resolver.locale_of("U1") == "en"


def test_channel_posts_follow_channel_locale_or_the_channels_own(tmp_path: Any) -> None:
    path = tmp_path / "whalet-bot.toml"
    path.write_text('[ui]\ndefault_locale = "zh-Hans"\nchannels = { C0FINANCE = "zh-Hans" }\n')
    ui = load_config(path).ui
    assert (ui.default_locale, ui.channel_locale) == ("zh-Hans", "en")
    assert ui.for_channel("C0FINANCE") == "zh-Hans" and ui.for_channel("C0APPROVALS") == "en"
    assert BotConfig().ui.for_channel("C0FINANCE") == "en"
    path.write_text('[ui]\nchannel_locale = "zh-CN"\n')
    with pytest.raises(ConfigError, match="channel_locale"):
        load_config(path)


def test_the_stand_in_says_locale_only_when_asked(stack) -> None:  # type: ignore[no-untyped-def]
    stack.fake.users["U0REQ"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    locales = stack.services.locales
    assert stack.run(locales.person("U0REQ")) == Person("zh-Hans", "Asia/Shanghai")
    assert stack.run(locales.person("U0VIEW")) == Person("en", "UTC")
    plain = stack.run(stack.services.slack.users_info(user="U0REQ"))
    assert "locale" not in plain["user"] and plain["user"]["tz"] == "Asia/Shanghai"


class SlowSlack(Slack):
    async def users_info(self, *, user: str, include_locale: bool) -> Any:
        await asyncio.sleep(5)
        return await super().users_info(user=user, include_locale=include_locale)


async def test_an_ack_waits_for_the_language_only_within_its_budget() -> None:
    slack = Slack()
    slack.users["U1"] = {"locale": "zh-CN"}
    resolver = LocaleResolver(lambda: Ui(), slack)
    assert await resolver.locale_within("U1", 1.0) == "zh-Hans"  # asked, and remembered
    assert await resolver.locale_within("U1", 0.0) == "zh-Hans" and len(slack.calls) == 1
    slow = SlowSlack()
    slow.users["U2"] = {"locale": "zh-CN"}
    resolver = LocaleResolver(lambda: Ui(default_locale="en"), slow)
    started = asyncio.get_running_loop().time()
    assert await resolver.locale_within("U2", 0.05) == "en"  # Slack too slow: the last heard (none: default)
    assert asyncio.get_running_loop().time() - started < 1.0
