"""`/whalet help`: every sub-command's usage, marked with whether the caller's role may run it."""

from __future__ import annotations

from services.slack.blocks import finish, section
from services.slack.subcommands import CommandContext, Role, all_subcommands, subcommand


def help_text(role: Role) -> str:
    lines = [f"*/whalet* — your role: *{role.label}*"]
    for entry in all_subcommands():
        mark = "" if role >= entry.role else f" _(needs {entry.role.label})_"
        lines.append(f"• `/whalet {entry.usage}` — {entry.summary}{mark}")
    return "\n".join(lines)


@subcommand("help", usage="help", summary="this list", role=Role.VIEWER)
async def help_command(ctx: CommandContext, _: None) -> None:
    text = help_text(ctx.role)
    await ctx.reply(text, finish([section(text)]))
