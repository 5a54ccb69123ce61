"""`/whalet freeze` / `unfreeze`: the admins' kill switch for new payouts and confirmations.

The flag lives in the database (kv), so it holds across restarts and every process sees it;
setting it, its audit row and the announcement in the approvals channel share one transaction.
While frozen, new requests are refused and Approve clicks are refused with an explanation.
"""

from __future__ import annotations

from core.i18n import N_, translator
from core.clock import iso
from services.approvals.service import FREEZE_FLAG, is_frozen
from services.slack.subcommands import CommandContext, Role, subcommand
from services.slack.queue import enqueue_post


def _set(ctx: CommandContext, frozen: bool, locale: str) -> str:
    services = ctx.services
    _ = translator(locale).gettext
    if is_frozen(services) == frozen:
        return _("Payouts are already frozen.") if frozen else _("Payouts are not frozen.")
    channel = services.config.approvals.channel if services.config.approvals is not None else None
    said = translator(services.locales.channel(channel))  # the announcement: the channel's language
    announcement = (
        said.gettext(
            ":octagonal_sign: <@%(user)s> froze payouts: no new requests and no approvals until "
            "an admin runs `/whalet unfreeze`.",
            user=ctx.user_id,
        )
        if frozen
        else said.gettext(
            ":white_check_mark: <@%(user)s> unfroze payouts; requests and approvals work again.", user=ctx.user_id
        )
    )
    with services.store.transaction() as db:
        services.store.set_flag(db, FREEZE_FLAG, f"{ctx.user_id} {iso(services.clock.now())}" if frozen else None)
        services.store.audit(db, ctx.user_id, "freeze" if frozen else "unfreeze", "payouts")
        if channel is not None:
            enqueue_post(db, channel=channel, text=announcement)
    services.wake_outbox()
    return _("Frozen. Nothing new will be requested or confirmed.") if frozen else _("Unfrozen.")


@subcommand("freeze", usage="freeze", summary=N_("stop all new payouts and confirmations (admins)"), role=Role.ADMIN)
async def freeze_command(ctx: CommandContext, _: None) -> None:
    await ctx.reply(_set(ctx, True, await ctx.language()))


@subcommand("unfreeze", usage="unfreeze", summary=N_("lift the freeze (admins)"), role=Role.ADMIN)
async def unfreeze_command(ctx: CommandContext, _: None) -> None:
    await ctx.reply(_set(ctx, False, await ctx.language()))
