"""Whalet notifications: webhook receiver, inbox relay, routing, rendering, to-dos and digests.

The process wires this package through one object (see ``bot.wiring``): ``routes()`` for the
webhook endpoint, ``register(app)`` for the to-do button and the `/whalet digest` sub-command,
``start()`` for the background loops and the digest jobs. ``documents`` (Submit documents on a
replenish to-do) and ``trade_orders`` (Bind trade order on a B2B collection, and the relay of
its collections and results) register their buttons and modals here too. The webhook's group-commit writer and
the relay it wakes are built once here and shared by all three.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from starlette.routing import Route

from notifications import digest_command  # noqa: F401  (imported for its @subcommand registration)
from notifications import documents, trade_orders
from notifications.digest import catch_up_loop, schedule_digests
from notifications.digest_chart_upload import chart_loop
from notifications.ingest import InboxWriter
from notifications.relay import Relay
from notifications.todos import register_actions, reminder_loop
from notifications.webhook import PATH, webhook_endpoint
from services.container import Services


class Notifications:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.writer = InboxWriter(services)
        self.relay = Relay(services, self.writer)

    def routes(self) -> list[Route]:
        return [Route(PATH, webhook_endpoint(self.services, self.writer, self.relay.wake), methods=["POST"])]

    def register(self, app: AsyncApp) -> None:
        register_actions(app, self.services)
        documents.register_actions(app, self.services)
        trade_orders.register_actions(app, self.services)

    def start(self) -> None:
        """Background work of this package, restarted by the supervisor if it dies."""
        services = self.services
        services.supervisor.add("inbox_relay", self.relay.run)
        services.supervisor.add("replenish_reminders", lambda: reminder_loop(services))
        services.supervisor.add("digest_catch_up", lambda: catch_up_loop(services))
        services.supervisor.add("digest_charts", lambda: chart_loop(services))
        schedule_digests(services)
