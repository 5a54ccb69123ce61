"""`/whalet pending`: open approval requests and who still has to act."""

from __future__ import annotations

from core.i18n import N_
from services.approvals import repo
from services.approvals.cards import headline, slack_time
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.slack.blocks import finish, paged, section
from services.slack.subcommands import CommandContext, Role, subcommand


def pending_line(request: ApprovalRequest, approved_by: list[str]) -> str:
    state = request.state
    if state is State.PENDING:
        left = request.required_approvals - len(approved_by)
        who = f"approved by {', '.join(f'<@{u}>' for u in approved_by)}; " if approved_by else ""
        expires = slack_time(request.expires_at) if request.expires_at else "—"
        waiting = f"{who}needs {left} more approver{'s' if left > 1 else ''}, expires at {expires}"
    elif state is State.CONFIRM_UNKNOWN:
        waiting = "sent to Whalet, outcome unknown; checking by order number"
    elif state is State.APPROVED:
        waiting = "approved, waiting to be sent to Whalet"
    else:
        waiting = "being sent to Whalet"
    return f"• `{request.id}` {headline(request)} — requested by <@{request.requester}>; {waiting}"


@subcommand(
    "pending",
    aliases=("待审批",),
    usage="pending",
    summary=N_("open approval requests and who still has to act"),
    role=Role.VIEWER,
)
async def pending_command(ctx: CommandContext, _: None) -> None:
    with ctx.services.store.read() as db:
        rows = repo.open_requests(db)
        lines = [pending_line(r, [a for a, _ in repo.approvers(db, r.id)]) for r in rows]
    if not lines:
        await ctx.reply("No approval requests are open.")
        return
    title = f"{len(lines)} open approval request{'s' if len(lines) > 1 else ''}"
    blocks, hidden = paged(lines, per_block=10, max_blocks=45)
    note = [section(f"…and {hidden} more not shown.")] if hidden else []
    await ctx.reply(title, finish([section(f"*{title}*"), *blocks, *note]))
