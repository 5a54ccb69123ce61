"""The Approve and Reject buttons of approval cards, and the reject-reason modal.

Handlers stay thin: ack at once, find out who clicked, let ``approvals.service`` decide in one
transaction, then tell the clicker in an ephemeral message. A refused click never touches the
card. The clicked block's ``block_id`` carries the card's fingerprint; the button's ``value``
names the request; both must agree with the database (see approvals.fingerprint).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from commands.approvals import repo
from commands.approvals.cards import headline, parse_block_id
from commands.approvals.fingerprint import verify
from commands.approvals.policy import resolver
from commands.approvals.reconcile import send_confirm
from commands.approvals.service import record_approval, reject
from commands.dispatch import ACK_FLUSH_SECONDS
from commands.modals import metadata, reject_modal, values
from commands.payout import tell_user
from services.slack.subcommands import Role

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")


def _clicked(body: dict[str, Any]) -> tuple[str, str, str | None]:
    action = (body.get("actions") or [{}])[0]
    ref = parse_block_id(action.get("block_id"))
    return body["user"]["id"], str(action.get("value") or ""), ref.fingerprint if ref else None


async def _tell(respond: Any, text: str) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=False)


async def on_approve(services: Services, ack: Any, body: dict[str, Any], respond: Any) -> None:
    await ack()
    await asyncio.sleep(ACK_FLUSH_SECONDS)  # let the ack out before the confirm's crypto
    clicker, request_id, carried = _clicked(body)
    role = await resolver(services).role_of(clicker)
    result = record_approval(services, request_id, clicker=clicker, role=role, carried_fingerprint=carried)
    message = result.message
    if result.confirm:
        message = await send_confirm(services, request_id)
    await _tell(respond, message)


async def on_reject_click(services: Services, ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Check what can be checked now, then ask for an optional reason in a modal."""
    await ack()
    clicker, request_id, carried = _clicked(body)
    role = await resolver(services).role_of(clicker)
    with services.store.read() as db:
        row = repo.load(db, request_id)
    problem = None
    if row is None:
        problem = "This approval request does not exist (any more)."
    elif row["requester"] != clicker and role < Role.APPROVER:
        problem = f"Only approvers (or the requester) can reject this; your role is {role.label}."
    elif verify(row, carried):
        problem = f"This click was refused: {verify(row, carried)}. Nothing was changed."
    elif row["state"] != "PENDING":
        problem = "This request is already decided; nothing was changed."
    if problem or row is None:
        await _tell(respond, problem or "")
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    view = reject_modal(request_id, headline(row, plain=True)[:2500], {"fp": carried, "channel": channel})
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def on_reject_submission(services: Services, ack: Any, body: dict[str, Any], client: Any) -> None:
    await ack()
    user_id = body["user"]["id"]
    view = body["view"]
    meta = metadata(view)
    role = await resolver(services).role_of(user_id)
    text = reject(services, str(meta.get("request_id") or ""), clicker=user_id, role=role,
                  carried_fingerprint=meta.get("fp"), reason=values(view).get("reason", "")[:500])
    await tell_user(client, meta.get("channel") or user_id, user_id, text)
