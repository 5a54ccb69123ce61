"""The App Home tab: what waits for this person's approval and where their own requests stand.

Published on ``app_home_opened`` (``views.publish`` needs no scope). It reads the same open
requests as ``/whalet pending`` and applies the same approver rule as the card's buttons
(``policy.approver_refusal``), so the tab never offers someone a request the card would refuse
them. It is a read-only overview: the decision itself stays on the card, under its guards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commands.pending import pending_line
from services.approvals import repo
from services.approvals.policy import approver_refusal, resolver
from services.approvals.states import State
from services.slack.blocks import MAX_MODAL_BLOCKS, context, divider, finish, header, paged, section

if TYPE_CHECKING:
    from services.container import Services

PER_SECTION = 20  # section blocks per list; a home tab holds 100 blocks


async def home_view(services: Services, user_id: str) -> dict[str, Any]:
    role = await resolver(services).role_of(user_id)
    with services.store.read() as db:
        rows = [(r, [a for a, _ in repo.approvers(db, r.id)]) for r in repo.open_requests(db)]
    waiting = [pending_line(r, approved) for r, approved in rows if r.state is State.PENDING
               and user_id not in approved and approver_refusal(role, requester=r.requester, clicker=user_id) is None]
    mine = [pending_line(r, approved) for r, approved in rows if r.requester == user_id]
    blocks: list[Any] = [header("Whalet payouts"), context(f"Your role: {role.label}.")]
    for title, lines, empty in (("Waiting for you", waiting, "Nothing waits for your approval."),
                                ("Your open requests", mine, "You have no open requests.")):
        blocks += [divider(), section(f"*{title}* ({len(lines)})")]
        listed, hidden = paged(lines, per_block=10, max_blocks=PER_SECTION)
        blocks += listed or [section(empty)]
        if hidden:
            blocks.append(context(f"…and {hidden} more: `/whalet pending` lists them all."))
    blocks.append(context("Approve or reject on the request's card in the approvals channel."))
    return {"type": "home", "blocks": finish(blocks, MAX_MODAL_BLOCKS)}


async def on_home_opened(services: Services, event: dict[str, Any], client: Any) -> None:
    if event.get("tab") not in (None, "home"):
        return  # the Messages tab needs nothing from us
    user_id = str(event["user"])
    await client.views_publish(user_id=user_id, view=await home_view(services, user_id))
