"""Bind trade order: a B2B collection answered with Whalet's tradeOrderBindApply (provisional).

A B2B collection is posted under the ref ``("collection", collectionId)`` (so it can be
threaded under) with a **Bind trade order** button for requesters and up. The modal asks for
the trade order number, amount, currency, buyer and an optional contract file. As for Submit
documents, the submission is checked and claimed (``core.storage.trade_orders``: once per modal,
one live binding per collection and order number) before the 3 s answer, then the contract is
downloaded and Whalet called. The request, Whalet's answer and ``tradeOrderBindNotify`` all go
in the collection's thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import translator
from notifications import render_trade as views
from notifications.binding import bind, check_form, claim
from notifications.job import Job
from notifications.kinds import relays
from notifications.relay import relay_plain, rendering
from notifications.render_documents import message_view
from notifications.routing import explicit_routes, route
from notifications.todos import tell
from services.approvals.policy import resolver
from services.approvals.roles import Role, role_name
from services.slack.modal_forms import recall, stash
from services.slack.queue import enqueue_post
from core.storage import trade_orders

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.trade_orders")


def collection_ref(collection_id: str) -> tuple[str, str]:
    return ("collection", collection_id)


@relays("collectionReceivedNotify")
def relay_collection(job: Job) -> str:
    """A B2B collection is posted under its ref, so bindings can be threaded under it."""
    body = job.body
    if not isinstance(body, dict) or str(body.get("fundSource") or "").upper() != "B2B" or not body.get("collectionId"):
        return relay_plain(job)
    ref = collection_ref(str(body["collectionId"]))
    sent = job.post(route(job.services.config, job.row.api_code, body), rendering(job), kind="collection", ref=ref)
    return "relayed" if sent else "no_route"


@relays("tradeOrderBindNotify")
def relay_binding(job: Job) -> str:
    """Whalet's decision on a binding made from Slack goes in its collection's thread."""
    binding = trade_orders.record_decision(job.db, job.body) if isinstance(job.body, dict) else None
    if binding is None:
        return relay_plain(job)
    make = rendering(job, as_update=False)
    rendered = make(job.locale(binding["channel"]))
    enqueue_post(
        job.db,
        channel=binding["channel"],
        text=rendered.text,
        blocks=rendered.blocks,
        thread_ref=collection_ref(binding["collection_id"]),
        correlation_id=job.row.correlation_id,
    )
    others = [
        d for d in explicit_routes(job.services.config, job.row.api_code, job.body) if d.channel != binding["channel"]
    ]
    if others:
        job.post(others, make)
    return "relayed"


async def _refusal(services: Services, user_id: str, locale: str | None = None) -> str | None:
    """``services.approvals.policy.requester_refusal`` for a binding, in the person's language."""
    role = await resolver(services).role_of(user_id, fresh=True)
    if role >= Role.REQUESTER:
        return None
    return translator(locale).gettext(
        "Only requesters can ask for a trade order binding; your role is %(role)s. "
        "An admin can add you under [roles] in whalet-bot.toml.",
        role=role_name(role, locale),
    )


async def on_bind_click(
    services: Services, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> None:
    collection = views.clicked(str(body["actions"][0].get("value") or ""))
    locale = await services.locales.locale_of(body["user"]["id"])
    text = await _refusal(services, body["user"]["id"], locale)
    if text is None and not collection:
        text = translator(locale).gettext("This button does not name a collection the bot knows.")
    if text is not None:
        await tell(body, respond, client, text)
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    form_id = stash(services.store, {"collection": collection, "channel": channel})
    await client.views_open(trigger_id=body["trigger_id"], view=views.bind_modal(collection, form_id, locale))


async def on_bind_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    user_id, view = body["user"]["id"], body["view"]
    meta = recall(services.store, view)
    locale = services.locales.cached(user_id)  # asked when they opened the form
    _ = translator(locale).gettext
    form, errors = check_form(view, locale)
    refusal = await _refusal(services, user_id, locale)
    if refusal is not None or not meta.get("collection"):
        errors = {views.ORDER_BLOCK: refusal or _("This form has expired; open it again from the collection.")}
    row_id = None if errors or form is None else claim(services, meta, form, str(view.get("private_metadata")), user_id)
    if row_id is None and not errors:
        errors = {views.ORDER_BLOCK: _("This trade order is already bound (or being bound) to this collection.")}
    if errors or form is None or row_id is None:
        await ack(response_action="errors", errors=errors)
        return
    sending = message_view(
        _("Bind trade order"), _("🔗 Sending to Whalet… The answer will be in the collection's thread."), locale
    )
    await ack(response_action="update", view=sending)
    await bind(services, client, meta, form, row_id, user_id)


def register_actions(app: AsyncApp, services: Services) -> None:
    @app.action(views.BIND_ACTION)
    async def bind_clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        await on_bind_click(services, body, respond, client)

    @app.view(views.BIND_VIEW)
    async def bind_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await on_bind_submission(services, ack, body, client)
