"""The Slack side of replenish to-dos: the "I'll handle it" button and the reminder sweep
(Submit documents lives in ``documents``).

Both only change durable state and enqueue outbox rows in one transaction; Slack is reached
through the outbox (the card update) or Bolt's ``respond`` (the ephemeral "already taken").
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import N_, translator
from core.storage import replenish
from notifications import render_replenish as cards
from services.approvals.policy import resolver
from services.approvals.roles import Role, role_name, roles_name
from services.slack.queue import enqueue_post, enqueue_update

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

    from services.container import Services

log = logging.getLogger("whalet_bot.todos")
REMINDER_SWEEP_SECONDS = 60.0


def _users(services: Services) -> dict[str, str]:
    return {user.id: user.name for user in services.config.whalet.users}


TAKING = N_("Taking a documents request")
SENDING = N_("Sending documents to Whalet")


async def role_refusal(services: Services, user_id: str, what: str, locale: str | None = None) -> str | None:
    """Why this person may not do ``what`` (a catalog phrase: ``TAKING``, ``SENDING``) with a
    to-do, or None, in their language (``locale``); the role is read fresh, like an approval's
    (``[notifications] todo_min_role``)."""
    needed = Role[services.config.notifications.todo_min_role.upper()]
    role = await resolver(services).role_of(user_id, fresh=True)
    if role < needed:
        _ = translator(locale).gettext
        return _(
            "%(what)s is for %(needed)s and above; your role is %(role)s. "
            "An admin can add you under [roles] in whalet-bot.toml.",
            what=_(what),
            needed=roles_name(needed, locale),
            role=role_name(role, locale),
        )
    return None


async def take_refusal(services: Services, user_id: str, locale: str | None = None) -> str | None:
    return await role_refusal(services, user_id, TAKING, locale)


def not_taken(outcome: replenish.TakeOutcome, locale: str | None = None) -> str:
    """Why the click did not make the person the owner, in their language."""
    _ = translator(locale).gettext
    if outcome.todo is None:
        return _("This request is not known to the bot.")
    if outcome.todo["state"] == replenish.CLOSED:
        return _("This request is already closed (%(result)s).", result=outcome.todo["result"] or _("done"))
    return _("<@%(user)s> is already handling this.", user=outcome.todo["owner"])


async def tell(body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, text: str) -> None:
    """The clicker's private answer, where the card is."""
    if body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        channel = cast(str, (body.get("channel") or {}).get("id"))  # a card's click names its channel
        await client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)


def take(services: Services, replenish_id: str, user_id: str) -> replenish.TakeOutcome:
    """Make ``user_id`` the owner (compare-and-set), update the card, audit; one transaction."""
    with services.store.transaction() as db:
        outcome = replenish.take(db, replenish_id, user_id, services.clock.now())
        if outcome.taken and outcome.todo is not None:
            card = cards.card(
                outcome.todo, _users(services), services.locales.channel(outcome.todo.get("card_channel"))
            )
            enqueue_update(db, ref=cards.ref(replenish_id), text=card.text, blocks=card.blocks)
            services.store.audit(db, user_id, "replenish_taken", f"replenish:{replenish_id}")
    if outcome.taken:
        services.wake_outbox()
    return outcome


def send_due_reminders(services: Services) -> int:
    """Post each due reminder once, in the card's thread; returns how many were queued."""
    now = services.clock.now()
    hours = services.config.notifications.reminder_hours
    sent = 0
    with services.store.transaction() as db:
        for todo in replenish.due_reminders(db, now, hours):
            if not replenish.mark_reminded(db, todo["replenish_id"], now):
                continue
            message = cards.reminder(todo, services.locales.channel(todo["card_channel"]))
            enqueue_post(
                db,
                channel=todo["card_channel"],
                text=message.text,
                blocks=message.blocks,
                thread_ref=cards.ref(todo["replenish_id"]),
                kind="reminder",
            )
            sent += 1
    if sent:
        services.wake_outbox()
    return sent


async def reminder_loop(services: Services) -> None:
    while True:
        send_due_reminders(services)
        await asyncio.sleep(REMINDER_SWEEP_SECONDS)


def register_actions(app: AsyncApp, services: Services) -> None:
    @app.action(cards.TAKE_ACTION)
    async def on_take(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        user_id = body["user"]["id"]
        replenish_id = str(body["actions"][0]["value"])
        locale = await services.locales.locale_of(user_id)
        text = await take_refusal(services, user_id, locale)
        if text is None:
            outcome = take(services, replenish_id, user_id)
            if outcome.taken:
                return
            text = not_taken(outcome, locale)
        await tell(body, respond, client, text)
