"""The `/whalet` slash command, approval buttons and modals, the App Home and the app's lifecycle
events (uninstalled, tokens revoked), registered explicitly on a Bolt app.

``Commands(services)`` is what the process wires (see ``bot.wiring``): ``register(app)`` adds
the one command listener (every sub-command goes through ``commands.dispatch``) plus the action
and view listeners; ``start()`` adds the approval sweep (expiry, lookups after lost answers) to
the supervisor. Importing the sub-command modules below fills the shared sub-command table; one
module per sub-command, so `/whalet payout` lives in payout.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from commands import (  # noqa: F401  (imported for their @subcommand registrations)
    audit,
    balance,
    beneficiaries,
    freeze,
    help,
    history,
    pay,
    payout,
    pending,
    rate,
    status,
)
from commands.approval_actions import on_approve, on_reject_click, on_reject_submission
from commands.batch import BATCH_VIEW, on_batch_submission
from services.approvals.cards import AGAIN_ACTION, APPROVE_ACTION, REJECT_ACTION
from commands.request_again import request_again
from services.approvals.reconcile import sweep
from commands.dispatch import handle_command
from commands.status import RETRY_PARKED_ACTION, on_retry_parked
from commands.home import Home
from commands.home_balances import REFRESH_ACTION
from commands.lifecycle import on_app_uninstalled, on_tokens_revoked
from commands.modals import BENEFICIARY_FORM_VIEW, BENEFICIARY_PICK_VIEW, BENEFICIARY_SEARCH, PAYOUT_VIEW, REJECT_VIEW
from services.container import Services
from services.slack.thread_files import thread_files_loop

log = logging.getLogger("whalet_bot.commands")

COMMAND = "/whalet"


class Commands:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.home = Home(services)

    def register(self, app: AsyncApp) -> None:
        """Bolt injects listener arguments by parameter name; each listener hands ``services`` on."""
        services, home = self.services, self.home

        @app.command(COMMAND)
        async def whalet_command(
            ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await handle_command(services, ack, command, respond, client)

        @app.action(APPROVE_ACTION)
        async def approve_clicked(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await on_approve(services, home, ack, body, respond, client)

        @app.action(AGAIN_ACTION)
        async def again_clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            action = (body.get("actions") or [{}])[0]
            text = await request_again(services, body["user"]["id"], str(action.get("value") or ""))
            await respond(text=text, response_type="ephemeral", replace_original=False)

        @app.action(REJECT_ACTION)
        async def reject_clicked(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await on_reject_click(services, home, ack, body, respond, client)

        @app.view(REJECT_VIEW)
        async def reject_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await on_reject_submission(services, home, ack, body, client)

        @app.view(PAYOUT_VIEW)
        async def payout_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await payout.on_payout_submission(services, ack, body, client)

        @app.view(BATCH_VIEW)
        async def batch_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await on_batch_submission(services, ack, body, client)

        @app.options(BENEFICIARY_SEARCH)
        async def beneficiary_search(ack: AsyncAck, body: dict[str, Any]) -> None:
            await payout.on_beneficiary_search(services, ack, body)

        @app.view(BENEFICIARY_PICK_VIEW)
        async def beneficiary_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await beneficiaries.on_pick_submission(services, ack, body, client)

        @app.view(BENEFICIARY_FORM_VIEW)
        async def beneficiary_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await beneficiaries.on_form_submission(services, ack, body, client)

        @app.event("app_home_opened")
        async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
            await home.on_opened(event, client)

        @app.action(REFRESH_ACTION)
        async def home_refresh(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await home.on_refresh(client, body["user"]["id"])

        @app.action(RETRY_PARKED_ACTION)
        async def retry_parked_clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            text = await on_retry_parked(services, body["user"]["id"])
            await respond(text=text, response_type="ephemeral", replace_original=False)

        @app.event("app_uninstalled")
        async def app_uninstalled(body: dict[str, Any]) -> None:
            on_app_uninstalled(services, body)

        @app.event("tokens_revoked")
        async def tokens_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
            on_tokens_revoked(services, event, body)

    def routes(self) -> list[Route]:
        return []  # everything arrives through Bolt's /slack/events

    def start(self) -> None:
        """Background work of this package, restarted by the supervisor if it dies."""
        services = self.services
        seconds = services.config.approvals.sweep_seconds if services.config.approvals else 30

        async def sweep_loop() -> None:
            while True:
                try:
                    await sweep(services)
                except Exception:
                    log.exception("approval sweep failed; trying again in %s s", seconds)
                await asyncio.sleep(seconds)

        services.supervisor.add("approvals-sweep", sweep_loop)
        services.supervisor.add("thread-files", lambda: thread_files_loop(services))  # a batch's CSVs
        services.supervisor.add("home-republish", self.home.run)
