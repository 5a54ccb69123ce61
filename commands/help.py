"""`/whalet help`: what the caller's role allows, then what a higher role would add.

Someone outside the policy sees only who can let them in (least privilege: not even the list of
what the bot could show them). In the person's Slack language: the summaries are catalog
entries (marked with ``N_`` where each sub-command registers), the syntax stays as typed."""

from __future__ import annotations

from core.config import Roles
from core.i18n import N_, translator
from services.approvals.roles import named, no_access, role_name, roles_name
from services.slack.blocks import finish, section
from services.slack.subcommands import CommandContext, Role, all_subcommands, subcommand


def help_text(role: Role, roles: Roles | None = None, locale: str | None = None) -> str:
    roles = roles or Roles()
    _ = translator(locale).gettext
    if role is Role.NONE:
        return f"*/whalet* — {no_access(roles, locale)}"
    entries = [entry for entry in all_subcommands() if entry.role > Role.NONE]
    lines = [_("*/whalet* — your role: *%(role)s*. You can use:", role=role_name(role, locale))]
    lines += [f"• `/whalet {entry.usage}` — {_(entry.summary)}" for entry in entries if role >= entry.role]
    guarded = [
        (named(roles.share_min_role), _("`--share` and `digest now` (posting into a channel)")),
        (named(roles.export_min_role), _("`--csv` exports")),
    ]
    lines += [
        _("_%(what)s need %(roles)s and above._", what=what, roles=roles_name(needed, locale))
        for needed, what in guarded
        if role < needed
    ]
    higher = [entry for entry in entries if role < entry.role]
    if higher:
        listed = ", ".join(_("`%(name)s` (%(role)s)", name=e.name, role=role_name(e.role, locale)) for e in higher)
        lines.append(_("For other roles: %(list)s.", list=listed))
    if translator(locale).locale != "en":
        lines.append(_("Chinese names work too: `/whalet 余额`, `/whalet 汇率 USD HKD`, `/whalet 付款 …`."))
    return "\n".join(lines)


@subcommand("help", aliases=("帮助",), usage="help", summary=N_("this list"), role=Role.NONE)
async def help_command(ctx: CommandContext, _: None) -> None:
    text = help_text(ctx.role, ctx.services.config.roles, await ctx.language())
    await ctx.reply(text, finish([section(text)]))
