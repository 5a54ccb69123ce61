"""``app_uninstalled`` and ``tokens_revoked``: Slack no longer accepts this bot's token.

From that moment every post fails (``invalid_auth``/``token_revoked``), and the outbox would park
message after message. Instead it pauses: rows stay pending, untouched, and go out once the app
is reinstalled and the bot restarted with the new token. The pause is logged at ERROR and shown
by ``/healthz`` (503), because an alert in Slack can no longer reach anyone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.lifecycle")


def on_app_uninstalled(services: Services, body: dict[str, Any]) -> None:
    _pause(services, "the app was uninstalled from the workspace", body)


def on_tokens_revoked(services: Services, event: dict[str, Any], body: dict[str, Any]) -> None:
    """Only the bot token matters: a revoked user token changes nothing for the bot."""
    bots = ((event.get("tokens") or {}).get("bot")) or []
    if bots:
        _pause(services, "the bot token was revoked", body)
    else:
        log.info("user tokens revoked; the bot token is unaffected", extra={"event": "tokens_revoked"})


def _pause(services: Services, reason: str, body: dict[str, Any]) -> None:
    services.outbox.pause(reason)
    log.error(
        "Slack: %s (team %s); the outbox is paused until the app is reinstalled and the bot restarted",
        reason,
        body.get("team_id"),
        extra={"event": "slack_access_lost"},
    )
