"""One inbox row being relayed: what every notification kind's relay handler works with."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from services.slack.queue import enqueue_post
from core.storage.inbox import InboxRow
from notifications.rendered import Rendered, with_mention
from notifications.routing import Destination
from services.container import Services

log = logging.getLogger("whalet_bot.relay")


@dataclass
class Job:
    """One inbox row being relayed, with everything a handler needs."""

    services: Services
    db: Database
    row: InboxRow
    operation: str | None
    now: datetime

    @property
    def body(self) -> Any:
        return self.row.body

    @property
    def users(self) -> dict[str, str]:
        return {user.id: user.name for user in self.services.config.whalet.users}

    def locale(self, channel: str | None) -> str:
        """The language a post in ``channel`` is written in (``[ui] channels`` / ``channel_locale``)."""
        return self.services.locales.channel(channel)

    def post(
        self,
        destinations: list[Destination],
        rendered: Rendered | Callable[[str], Rendered],
        *,
        kind: str = "notification",
        ref: tuple[str, str] | None = None,
    ) -> int:
        """Post to each destination; ``ref`` goes with the first only (the one later updated).
        ``rendered`` may be a function of the locale: each channel then reads it in its language."""
        made: dict[str, Rendered] = {}
        for index, dest in enumerate(destinations):
            if callable(rendered):
                locale = self.locale(dest.channel)
                this = made[locale] = made.get(locale) or rendered(locale)
            else:
                this = rendered
            message = with_mention(this, dest.mention)
            enqueue_post(
                self.db,
                channel=dest.channel,
                text=message.text,
                blocks=message.blocks,
                kind=kind,
                fold_line=this.fold_line,
                ref=ref if index == 0 else None,
                correlation_id=self.row.correlation_id,
            )
        if not destinations:
            log.warning(
                "no route and no default channel for %s; stored, not posted",
                self.row.api_code,
                extra={"correlation_id": self.row.correlation_id},
            )
        return len(destinations)
