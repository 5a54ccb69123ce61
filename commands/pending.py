"""`/whalet pending`: open approval requests and who still has to act."""

from __future__ import annotations

from core.i18n import N_, translator
from services.approvals import repo
from services.approvals.cards import headline, slack_time
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.slack.blocks import finish, paged, section
from services.slack.subcommands import CommandContext, Role, subcommand


def _waiting(request: ApprovalRequest, approved_by: list[str], locale: str | None) -> str:
    t = translator(locale)
    state = request.state
    if state is State.PENDING:
        left = request.required_approvals - len(approved_by)
        expires = slack_time(request.expires_at) if request.expires_at else "—"
        form = 2 if left > 1 else 1  # "1 more approver", "0 more approver": as it always read
        if approved_by:
            return t.ngettext(
                "approved by %(who)s; needs %(left)s more approver, expires at %(expires)s",
                "approved by %(who)s; needs %(left)s more approvers, expires at %(expires)s",
                form,
                who=", ".join(f"<@{u}>" for u in approved_by),
                left=left,
                expires=expires,
            )
        return t.ngettext(
            "needs %(left)s more approver, expires at %(expires)s",
            "needs %(left)s more approvers, expires at %(expires)s",
            form,
            left=left,
            expires=expires,
        )
    if state is State.CONFIRM_UNKNOWN:
        return t.gettext("sent to Whalet, outcome unknown; checking by order number")
    if state is State.APPROVED:
        return t.gettext("approved, waiting to be sent to Whalet")
    return t.gettext("being sent to Whalet")


def pending_line(request: ApprovalRequest, approved_by: list[str], locale: str | None = None) -> str:
    return translator(locale).gettext(
        "• `%(request)s` %(headline)s — requested by <@%(requester)s>; %(waiting)s",
        request=request.id,
        headline=headline(request, locale=locale),
        requester=request.requester,
        waiting=_waiting(request, approved_by, locale),
    )


@subcommand(
    "pending",
    aliases=("待审批",),
    usage="pending",
    summary=N_("open approval requests and who still has to act"),
    role=Role.VIEWER,
)
async def pending_command(ctx: CommandContext, _: None) -> None:
    locale = await ctx.language()
    t = translator(locale)
    with ctx.services.store.read() as db:
        rows = repo.open_requests(db)
        lines = [pending_line(r, [a for a, _ in repo.approvers(db, r.id)], locale) for r in rows]
    if not lines:
        await ctx.reply(t.gettext("No approval requests are open."))
        return
    title = t.ngettext("%(n)s open approval request", "%(n)s open approval requests", len(lines))
    blocks, hidden = paged(lines, per_block=10, max_blocks=45)
    note = [section(t.gettext("…and %(hidden)s more not shown.", hidden=hidden))] if hidden else []
    await ctx.reply(title, finish([section(f"*{title}*"), *blocks, *note]))
