"""Reaching the approvers: DM copies of a card, the mention, the half-way reminder, and who is
concerned when a request moves (``[approvals] notify``, README "Reaching the approvers").

Who may approve is read once, when the card goes up (``audience``: the approvers and admins
of ``[roles]``, directly or through their user groups, never the requester) and stored in
``approval_audience`` in the transaction that queues the card. With ``notify = "dm"`` each of
them gets the card in a DM through the outbox (the worker opens the DM with
``conversations.open``); the DM copy carries the same buttons with the same block_id, so a click
there goes through the same handlers, guards, compare-and-set and lease as a click on the
channel card. Every later card update is queued for every copy in the same transaction.

Being in the audience gives no right: each click re-reads the clicker's role (``fresh``), so a
person removed from the approvers after the DM arrived is refused like anyone else.
"""

from __future__ import annotations

import asyncio

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from core.clock import iso
from core.i18n import translator
from core.storage import audience as audience_rows
from core.storage import home as home_rows
from services.approvals.cards import headline, slack_time
from services.approvals.policy import within_approver_limit
from services.approvals.request import ApprovalRequest
from services.approvals.roles import Role
from services.approvals.states import State
from services.slack.blocks import Block, context, section
from services.slack.queue import enqueue_post, enqueue_update
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

REF_DM = "approval_dm"


def mode(services: Services) -> str:
    approvals = services.config.approvals
    return approvals.notify if approvals is not None else "none"


def dm_ref(request_id: str, user: str) -> tuple[str, str]:
    return (REF_DM, f"{request_id}:{user}")


async def approver_ids(services: Services) -> list[str]:
    """Everyone who holds the approver role now (approvers and admins, directly or by group)."""
    roles = services.config.roles
    candidates = [*roles.approvers, *roles.admins]
    for group in (*roles.approver_groups, *roles.admin_groups):
        candidates += sorted(await services.roles.members(group))
    held = await services.roles.roles_of(candidates)
    return sorted(user for user, role in held.items() if role >= Role.APPROVER)


async def audience(services: Services, requester: str, amount: Money) -> list[str]:
    """Everyone who may approve this request of ``requester`` now (approvers and admins within
    their approval limit for ``amount``). In ``dm`` mode their languages are asked of Slack here,
    before the card's transaction, so an approver who never typed a command still gets the DM copy
    in their own language (the answers are cached for an hour; Slack not answering costs at most
    ``ASK_TIMEOUT_SECONDS``, all asked at once, and gives ``[ui] default_locale``)."""
    people = [
        user
        for user in await approver_ids(services)
        if user != requester and within_approver_limit(services.config, user, amount)
    ]
    if mode(services) == "dm":
        await asyncio.gather(*(services.locales.person(user) for user in people))
    return people


def mention(services: Services) -> str | None:
    """The channel card's tag in ``mention`` mode: the approver groups, else the approvers."""
    if mode(services) != "mention":
        return None
    roles = services.config.roles
    groups = [*roles.approver_groups, *roles.admin_groups]
    tags = [f"<!subteam^{g}>" for g in groups] or [f"<@{u}>" for u in dict.fromkeys([*roles.approvers, *roles.admins])]
    return " ".join(tags) or None


def with_mention(
    services: Services, request: ApprovalRequest, text: str, blocks: list[Any], locale: str | None = None
) -> tuple[str, list[Any]]:
    """The channel card with its mention while it waits for approvers (an update never notifies
    anyone again; the tag goes once the request is decided)."""
    tag = mention(services)
    if tag is None or request.state is not State.PENDING:
        return text, blocks
    line = translator(locale).gettext("%(tag)s a request waits for an approver.", tag=tag)
    return f"{tag} {text}", [section(line), *blocks]


def dm_blocks(services: Services, request: ApprovalRequest, blocks: list[Any], locale: str | None = None) -> list[Any]:
    """The DM copy: the card, with one line saying where it comes from."""
    assert services.config.approvals is not None
    _ = translator(locale).gettext
    channel = f"<#{services.config.approvals.channel}>"
    note: Block = context(
        _(
            "You can approve this request. The same card is in %(channel)s; whichever copy you use, the other copies follow.",
            channel=channel,
        )
        if request.state is State.PENDING
        else _("A copy of the card in %(channel)s; it follows the request.", channel=channel)
    )
    return [note, *blocks]


# The card drawn in a language: (fallback text, blocks); see repo.renderer.
Render = Callable[[str], tuple[str, list[Any]]]


def post_copies(
    services: Services, db: Database, request: ApprovalRequest, people: Sequence[str], render: Render
) -> None:
    """Record the audience and queue a DM copy for each (``dm`` mode), inside the card's transaction,
    in each approver's language as last heard from Slack (``[ui] default_locale`` if not yet)."""
    dm = mode(services) == "dm"
    added = audience_rows.add(db, request.id, people, dm=dm)
    if dm:
        for user in added:
            locale = services.locales.cached(user)
            text, blocks = render(locale)
            enqueue_post(
                db,
                channel=user,
                text=text,
                blocks=dm_blocks(services, request, blocks, locale),
                ref=dm_ref(request.id, user),
                correlation_id=request.id,
            )
    home_rows.mark(db, [request.requester, *people], iso(services.clock.now()))


def update_copies(
    services: Services, db: Database, request: ApprovalRequest, render: Render, givers: Iterable[str]
) -> None:
    """Queue the update of every DM copy, and a fresh Home for everyone concerned."""
    for user in audience_rows.dm_holders(db, request.id):
        locale = services.locales.cached(user)
        text, blocks = render(locale)
        enqueue_update(
            db,
            ref=dm_ref(request.id, user),
            text=text,
            blocks=dm_blocks(services, request, blocks, locale),
            correlation_id=request.id,
        )
    concerned = [request.requester, *audience_rows.members(db, request.id), *givers]
    if request.decided_by:
        concerned.append(request.decided_by)
    home_rows.mark(db, concerned, iso(services.clock.now()))


def reminder_due(request: ApprovalRequest, now: datetime) -> bool:
    """Half-way between the card going up and the expiry, still waiting, not yet expired."""
    if request.state is not State.PENDING or request.expires_at is None or request.expired(now):
        return False
    return now >= request.created_at + (request.expires_at - request.created_at) / 2


def remind(services: Services, db: Database, request: ApprovalRequest, approved: Iterable[str]) -> bool:
    """The half-way reminder, claimed once per request (``approval_reminders``), to those who may
    still approve: a DM each (``dm`` mode) or a reply under the channel card (``mention``)."""
    how = mode(services)
    if how == "none" or not audience_rows.claim_reminder(db, request.id, iso(services.clock.now())):
        return False
    assert request.expires_at is not None
    done = set(approved)
    when = slack_time(request.expires_at, "{date_short_pretty} {time}")
    line = f":alarm_clock: Reminder: `{request.id}` {headline(request)} still waits for approval and expires at {when}."
    if how == "dm":
        for user in audience_rows.dm_holders(db, request.id):
            if user not in done:
                enqueue_post(
                    db,
                    channel=user,
                    text=f"{line} Its card, with the buttons, is earlier in this conversation.",
                    correlation_id=request.id,
                )
    else:
        tag = mention(services) or ""
        assert services.config.approvals is not None
        enqueue_post(
            db,
            channel=services.config.approvals.channel,
            text=f"{tag} {line}".strip(),
            thread_ref=("approval", request.id),
            correlation_id=request.id,
        )
    return True
