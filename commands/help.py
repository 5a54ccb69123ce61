"""`/whalet help`: what the caller's role allows, then what a higher role would add.

Someone outside the policy sees only who can let them in (least privilege: not even the list of
what the bot could show them)."""

from __future__ import annotations

from core.config import Roles
from services.approvals.roles import named, no_access
from services.slack.blocks import finish, section
from services.slack.subcommands import CommandContext, Role, all_subcommands, subcommand


def help_text(role: Role, roles: Roles | None = None) -> str:
    roles = roles or Roles()
    if role is Role.NONE:
        return f"*/whalet* — {no_access(roles)}"
    entries = [entry for entry in all_subcommands() if entry.role > Role.NONE]
    lines = [f"*/whalet* — your role: *{role.label}*. You can use:"]
    lines += [f"• `/whalet {entry.usage}` — {entry.summary}" for entry in entries if role >= entry.role]
    guarded = [
        (named(roles.share_min_role), "`--share` and `digest now` (posting into a channel)"),
        (named(roles.export_min_role), "`--csv` exports"),
    ]
    lines += [f"_{what} need {needed.label}s and above._" for needed, what in guarded if role < needed]
    higher = [entry for entry in entries if role < entry.role]
    if higher:
        lines.append("For other roles: " + ", ".join(f"`{e.name}` ({e.role.label})" for e in higher) + ".")
    return "\n".join(lines)


@subcommand("help", aliases=("帮助",), usage="help", summary="this list", role=Role.NONE)
async def help_command(ctx: CommandContext, _: None) -> None:
    text = help_text(ctx.role, ctx.services.config.roles)
    await ctx.reply(text, finish([section(text)]))
