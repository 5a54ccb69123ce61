"""Whose language: a person's Slack language and time zone, asked once an hour.

Slack says which language a person reads in ``users.info`` with ``include_locale`` (``zh-CN``
for Simplified Chinese, ``en-US`` …) and their time zone in ``tz``. A reply must not wait on a
Slack call every time, and someone who switches their Slack language should hear the change
soon, so each person's answer is kept for an hour in this process's memory (a replica asks on
its own; the answer is the same).

Slack not answering (an outage, an install without ``users:read``) gives ``[ui] default_locale``,
never an error: the language of a reply is not worth refusing the reply over. Such a miss is
kept for a minute only, so a Slack that comes back is asked again soon. The call is bounded by
``ASK_TIMEOUT_SECONDS``: a reply waits at most that long for its language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from core.clock import SYSTEM_CLOCK
from core.config import Ui
from core.i18n import Locale

log = logging.getLogger("whalet_bot.locale")

CACHE_SECONDS = 3600.0
MISS_CACHE_SECONDS = 60.0
ASK_TIMEOUT_SECONDS = 3.0


def from_slack(tag: str | None, default: Locale) -> Locale:
    """Slack's locale tag as one of ours: ``zh-CN`` and ``zh-Hans…`` are Chinese, ``en…`` English,
    anything else (or nothing) ``default``. Traditional Chinese (``zh-TW``) is not Simplified."""
    text = (tag or "").replace("_", "-").lower()
    if text in ("zh", "zh-cn", "zh-sg") or text.startswith("zh-hans"):
        return "zh-Hans"
    if text == "en" or text.startswith("en-"):
        return "en"
    return default


@dataclass(frozen=True)
class Person:
    locale: Locale
    tz: str | None  # IANA zone from Slack, None when Slack did not say


class UserReader(Protocol):
    """What the resolver needs of Slack: slack_sdk's ``AsyncWebClient`` has it."""

    async def users_info(self, *, user: str, include_locale: bool) -> Any: ...


class LocaleResolver:
    """A person's language and zone, cached per user id (one resolver per process)."""

    def __init__(
        self, ui: Callable[[], Ui], client: UserReader, monotonic: Callable[[], float] = SYSTEM_CLOCK.monotonic
    ) -> None:
        self._ui = ui
        self._client = client
        self._now = monotonic
        self._cache: dict[str, tuple[float, Person]] = {}

    def channel(self, channel: str | None) -> Locale:
        """A channel post's language: ``[ui] channels`` for that channel, else ``channel_locale``."""
        return self._ui().for_channel(channel)

    async def locale_of(self, user_id: str) -> Locale:
        return (await self.person(user_id)).locale

    async def person(self, user_id: str) -> Person:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._now():
            return cached[1]
        person, keep = await self._ask(user_id)
        self._cache[user_id] = (self._now() + keep, person)
        return person

    async def locale_within(self, user_id: str, seconds: float) -> Locale:
        """The language when it is known, or can be asked of Slack, within ``seconds`` (a refusal
        in an ack, which Slack waits 3 s for); otherwise the last heard (``cached``). A question cut
        short is not remembered: the next reply asks again."""
        entry = self._cache.get(user_id)
        if entry is not None and entry[0] > self._now():
            return entry[1].locale
        try:
            return await asyncio.wait_for(self.locale_of(user_id), seconds)
        except TimeoutError:
            return self.cached(user_id)

    def cached(self, user_id: str) -> Locale:
        """The language last heard from Slack for this person, without asking (for messages
        written inside a database transaction, such as an approver's DM copy of a card):
        ``[ui] default_locale`` until a command or click of theirs has asked."""
        entry = self._cache.get(user_id)
        return entry[1].locale if entry is not None else self._ui().default_locale

    def forget(self, user_id: str | None = None) -> None:
        """Drop one person's answer (or all): the next reply asks Slack again."""
        if user_id is None:
            self._cache.clear()
        else:
            self._cache.pop(user_id, None)

    async def _ask(self, user_id: str) -> tuple[Person, float]:
        default = self._ui().default_locale
        try:
            answer = await asyncio.wait_for(
                self._client.users_info(user=user_id, include_locale=True), ASK_TIMEOUT_SECONDS
            )
            user = answer["user"] or {}
        except Exception as exc:  # Slack down, missing_scope, a timeout: the default language
            log.info("users.info for %s failed (%s): replies use [ui] default_locale", user_id, exc)
            return Person(default, None), MISS_CACHE_SECONDS
        tz = user.get("tz")
        return Person(from_slack(user.get("locale"), default), tz if isinstance(tz, str) and tz else None), (
            CACHE_SECONDS
        )
