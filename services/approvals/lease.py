"""The confirm's lease and the numbers it is made of, shared by every path that calls Whalet for
a request's order (the confirm, and the renewal of a quote that ran out), so that only one such
call is ever in flight per request: the holder of an unexpired lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.i18n import Translator, translator

if TYPE_CHECKING:
    from services.container import Services

FREEZE_FLAG = "payouts_frozen"


def is_frozen(services: Services) -> bool:
    return services.store.get_flag(FREEZE_FLAG) is not None


def max_attempts(services: Services) -> int:
    return services.config.approvals.max_confirm_attempts if services.config.approvals else 3


def call_deadline(services: Services) -> float:
    """The longest one confirm call may take: the HTTP timeout for each of connect, write and read."""
    return float(services.settings.whalet_timeout_seconds) * 3


def settle_seconds(services: Services) -> float:
    return float(services.config.approvals.confirm_settle_seconds if services.config.approvals else 30)


def lease_length(services: Services) -> timedelta:
    """The whole span in which a confirm may still be running at Whalet: the longest possible
    call (timeout x 3), plus ``[approvals] confirm_settle_seconds`` for a server that keeps
    working after its client gave up, plus one more timeout as margin. A confirm whose answer
    never came keeps the lease to its end: no lookup, no take-over and no second confirm before."""
    return timedelta(
        seconds=call_deadline(services) + settle_seconds(services) + float(services.settings.whalet_timeout_seconds)
    )


def lease_end(now: datetime, services: Services) -> datetime:
    """When the lease runs out, rounded UP to the second (times are stored to the second, and a
    lease must never be stored shorter than it is)."""
    end = now + lease_length(services)
    return end.replace(microsecond=0) + timedelta(seconds=1 if end.microsecond else 0)


def owner(services: Services) -> str:
    """This process's lease identity; a restarted process is a new owner."""
    return services.instance


def alerts_language(services: Services) -> Translator:
    """The language of the alerts channel (``[notifications] alerts_channel``, else the default
    channel, where ``Alerts`` posts): an alert is written in it."""
    where = services.config.notifications
    return translator(services.locales.channel(where.alerts_channel or where.default_channel))


def card_language(services: Services) -> Translator:
    """The language of the approvals channel, where every card and its thread are: a request's
    note (shown on its card) is written in it."""
    approvals = services.config.approvals
    return translator(services.locales.channel(approvals.channel if approvals else None))


def count_call(services: Services, operation: str) -> None:
    services.metrics.approval_whalet_calls.labels(operation).inc()
