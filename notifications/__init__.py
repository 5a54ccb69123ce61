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

    from services.container import Services
    from notifications.ingest import InboxWriter
    from notifications.relay import Relay

def writer_of(services: Services) -> InboxWriter:
    """The webhook's group-commit writer, one per process (kept in ``services.extras``)."""
    from notifications.ingest import InboxWriter

    found = services.extras.get("notifications.writer")
    if found is None:
        found = services.extras["notifications.writer"] = InboxWriter(services)
    return found  # type: ignore[no-any-return]


def relay_of(services: Services) -> Relay:
    """One relay per process, shared by the webhook (which wakes it) and the loop."""
    from notifications.relay import Relay

    found = services.extras.get("notifications.relay")
    if found is None:
        found = services.extras["notifications.relay"] = Relay(services, writer_of(services))
    return found  # type: ignore[no-any-return]


def routes(services: Services) -> list[Route]:
    from notifications.webhook import PATH, webhook_endpoint

    return [Route(PATH, webhook_endpoint(services, writer_of(services), relay_of(services).wake), methods=["POST"])]


def register(app: AsyncApp, services: Services) -> None:
    from notifications.todos import register_actions

    register_actions(app, services)


def start(services: Services) -> None:
    from notifications.digest import catch_up_loop, schedule_digests
    from notifications.todos import reminder_loop

    services.supervisor.add("inbox_relay", relay_of(services).run)
    services.supervisor.add("replenish_reminders", lambda: reminder_loop(services))
    services.supervisor.add("digest_catch_up", lambda: catch_up_loop(services))
    schedule_digests(services)
