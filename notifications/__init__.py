"""Whalet notifications: webhook receiver, inbox relay, routing, rendering, to-dos and digests.

The process wires this package in three calls (see ``bot.wiring``): ``routes(services)`` for the
webhook endpoint, ``register(app, services)`` for the to-do button, and ``start(services)`` for
the background loops and the digest jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

EXTRAS_KEY = "notifications.relay"


def _relay(services: Services):  # type: ignore[no-untyped-def]
    """One relay per process, shared by the webhook (which wakes it) and the loop."""
    from notifications.relay import Relay

    relay = services.extras.get(EXTRAS_KEY)
    if relay is None:
        relay = services.extras[EXTRAS_KEY] = Relay(services)
    return relay


def routes(services: Services) -> list[Route]:
    from notifications.webhook import PATH, webhook_endpoint

    return [Route(PATH, webhook_endpoint(services, _relay(services).wake), methods=["POST"])]


def register(app: AsyncApp, services: Services) -> None:
    from notifications.todos import register_actions

    register_actions(app, services)


def start(services: Services) -> None:
    from notifications.digest import catch_up_loop, schedule_digests
    from notifications.todos import reminder_loop

    services.supervisor.add("inbox_relay", _relay(services).run)
    services.supervisor.add("replenish_reminders", lambda: reminder_loop(services))
    services.supervisor.add("digest_catch_up", lambda: catch_up_loop(services))
    schedule_digests(services)
