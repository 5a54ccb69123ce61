"""The Approve and Reject buttons of approval cards, and the reject-reason modal.

Handlers stay thin: ack at once, find out who clicked, let ``approvals.clicks`` decide in one
transaction, then (when the quorum was just met) ``approvals.reconcile.advance``, which sends the
confirm through the one guarded sender. A refused click never touches the card. The clicked
block's ``block_id`` carries the card's fingerprint; the button's ``value`` names the request;
both must agree with the database (see approvals.fingerprint).

The same buttons appear on the channel card, on each approver's DM copy and in the App Home
(``approvals.copies``, ``commands.home``): one set of handlers, so every copy meets the same
guards; only where the answer goes differs (ephemeral in the conversation, or the Home's notice).
"""

from __future__ import annotations

import asyncio

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import N_, Later, later, translator
from services.approvals import counting, repo
from services.approvals.cards import headline, parse_block_id
from services.approvals.clicks import record_approval, reject, reject_refusal
from services.approvals.policy import resolver
from services.approvals.reconcile import advance
from services.slack.blocks import cut
from commands.dispatch import let_the_ack_out
from commands.home import Home
from commands.modals import recall, reject_modal, stash, values
from commands.payout import tell_user

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")


def _clicked(body: dict[str, Any]) -> tuple[str, str, str | None]:
    action = (body.get("actions") or [{}])[0]
    ref = parse_block_id(action.get("block_id"))
    return body["user"]["id"], str(action.get("value") or ""), ref.fingerprint if ref else None


def _from_home(body: dict[str, Any]) -> bool:
    """A click in the App Home: a view container, no channel and no response_url."""
    return (body.get("container") or {}).get("type") == "view"


async def _tell(
    home: Home,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    message: Later | str,
    services: Services | None = None,
) -> None:
    """The answer for the clicker: ephemeral where the card is (channel or DM), at the top of
    the Home for a click there; in the clicker's language (a ``Later`` is translated here)."""
    text = await _in_their_language(services, body["user"]["id"], message)
    if _from_home(body):
        await home.tell(client, body["user"]["id"], text)
    else:
        await respond(text=text, response_type="ephemeral", replace_original=False)


async def on_approve(
    services: Services, home: Home, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> None:
    await ack()
    await let_the_ack_out(services)  # before the confirm's crypto
    clicker, request_id, carried = _clicked(body)
    try:
        message = await _approve(services, request_id, clicker, carried)
    except Exception:  # the clicker must hear something; the traceback goes to the log
        log.exception("approve click on %s by %s failed", request_id, clicker)
        message = later(CLICK_FAILED)
    await _tell(home, body, respond, client, message, services)


CLICK_FAILED = N_(
    "Something went wrong on our side while recording your click (it is logged). "
    "The card shows where the request really stands; look at it before clicking again."
)


async def _in_their_language(services: Services | None, user_id: str, message: Later | str) -> str:
    if not isinstance(message, Later):
        return message
    locale = await services.locales.locale_of(user_id) if services is not None else None
    return translator(locale).text(message)


STALE_TRIES = 5


async def _approve(services: Services, request_id: str, clicker: str, carried: str | None) -> Later | str:
    """Record the approval (from a fresh read each time another replica's move wins the
    compare-and-set first) and, when it completed the quorum, send the confirm."""
    role = await resolver(services).role_of(clicker, fresh=True)
    for attempt in range(STALE_TRIES):
        current = await counting.approvers_now(services, request_id, clicker)
        try:
            result = record_approval(
                services, request_id, clicker=clicker, role=role, carried_fingerprint=carried, current=current
            )
            break
        except repo.StaleRequest:
            if attempt == STALE_TRIES - 1:
                raise
    if result.approved:
        return await advance(services, request_id) or result.message
    return result.message


async def on_reject_click(
    services: Services, home: Home, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> None:
    """Check what can be checked now, then ask for an optional reason in a modal."""
    await ack()
    clicker, request_id, carried = _clicked(body)
    # Their role (user groups read afresh) and their language, asked of Slack at the same time.
    role, locale = await asyncio.gather(
        resolver(services).role_of(clicker, fresh=True), services.locales.locale_of(clicker)
    )
    with services.store.read() as db:
        request = repo.load(db, request_id)
    problem = reject_refusal(
        request, clicker=clicker, role=role, carried_fingerprint=carried, now=services.clock.now(), locale=locale
    )
    if problem or request is None:
        await _tell(home, body, respond, client, problem or "", services)
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    form = stash(
        services.store, {"fp": carried, "channel": channel, "request_id": request_id, "home": _from_home(body)}
    )
    view = reject_modal(cut(headline(request, locale=locale), 2500), form, locale)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def on_reject_submission(
    services: Services, home: Home, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await ack()
    user_id = body["user"]["id"]
    view = body["view"]
    meta = recall(services.store, view)
    role = await resolver(services).role_of(user_id, fresh=True)
    message: Later | str
    try:
        message = reject(
            services,
            str(meta.get("request_id") or ""),
            clicker=user_id,
            role=role,
            carried_fingerprint=meta.get("fp"),
            reason=values(view).get("reason", "")[:500],
        )
    except Exception:  # the person must hear something; the traceback goes to the log
        log.exception("reject of %s by %s failed", meta.get("request_id"), user_id)
        message = later(CLICK_FAILED)
    text = await _in_their_language(services, user_id, message)
    if meta.get("home"):
        await home.tell(client, user_id, text)
    else:
        await tell_user(client, meta.get("channel") or user_id, user_id, text)
