"""`/whalet balance [CUR] [--source S] [--user ID] [--share]`: balances per currency."""

from __future__ import annotations

from core.i18n import N_
from dataclasses import dataclass

from commands import args
from core.i18n import translator
from services.slack.blocks import finish, paged, section
from commands.common import whalet_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from whalet.models import CurrencyBalance

USAGE = "balance [CUR] [--source B2C|B2B|Acquiring] [--user ID] [--share]"


@dataclass(frozen=True)
class BalanceArgs:
    currency: str | None
    source: str | None
    user: str | None
    share: bool


def parse_balance(words: list[str]) -> BalanceArgs:
    opts = args.split_options(words, valued={"source", "user"}, switches={"share"})
    if len(opts.positional) > 1:
        raise UsageError("give at most one currency, got '%(words)s'", words=" ".join(opts.positional))
    currency = args.currency(opts.positional[0]) if opts.positional else None
    source = args.fund_source(opts.values["source"]).value if "source" in opts.values else None
    return BalanceArgs(currency, source, opts.values.get("user"), "share" in opts.flags)


def balance_line(row: CurrencyBalance, locale: str | None = None) -> str:
    """One currency: Whalet's own field names (余额 可用, 未上账金额, 冻结金额, 订单总额度) in Chinese."""
    t = translator(locale)
    return t.gettext(
        "*%(currency)s*  available *%(available)s* · pending %(pending)s · frozen %(frozen)s · "
        "order quota %(quota)s · ≈ %(rmb)s",
        currency=row.currency,
        available=t.amount(row.balance),
        pending=t.amount(row.pending_amount),
        frozen=t.amount(row.freeze_amount),
        quota=t.amount(row.order_quota),
        rmb=t.amount(row.rmb_amount),
    )


@subcommand(
    "balance",
    aliases=("余额",),
    usage=USAGE,
    summary=N_("balances per currency (ephemeral unless --share)"),
    role=Role.VIEWER,
    parse=parse_balance,
)
async def balance_command(ctx: CommandContext, a: BalanceArgs) -> None:
    if a.share and not await ctx.may_share("`balance --share`"):
        return
    user = whalet_user(ctx, a.user)
    source = a.source or ctx.services.config.whalet.default_fund_source
    rows = await ctx.services.whalet.query_currency_balance(user, source, a.currency)
    # A shared answer is read by the channel: the channel's language; a private one, the person's.
    locale = ctx.services.locales.channel(ctx.channel_id) if a.share else await ctx.language()
    t = translator(locale)
    if a.currency:
        title = t.gettext(
            "Balances of %(user)s (%(source)s), %(currency)s", user=user, source=source, currency=a.currency
        )
    else:
        title = t.gettext("Balances of %(user)s (%(source)s)", user=user, source=source)
    if not rows:
        if a.currency:
            empty = t.gettext("%(title)s: no balances in %(currency)s.", title=title, currency=a.currency)
        else:
            empty = t.gettext("%(title)s: no balances.", title=title)
        await ctx.reply(empty, share=a.share)
        return
    blocks, hidden = paged([balance_line(r, locale) for r in rows], per_block=15, max_blocks=45)
    more = t.ngettext(
        "…and %(n)s more currency not shown; ask for one with `/whalet balance CUR`.",
        "…and %(n)s more currencies not shown; ask for one with `/whalet balance CUR`.",
        hidden,
    )
    note = [section(more)] if hidden else []
    await ctx.reply(title, finish([section(f"*{title}*"), *blocks, *note]), share=a.share)
