"""`/whalet balance [CUR] [--source S] [--user ID] [--share]`: balances per currency."""

from __future__ import annotations

from dataclasses import dataclass

from commands import args
from services.slack.blocks import finish, paged, section
from commands.common import whalet_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from whalet.models import CurrencyBalance
from whalet.money import Money

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
        raise UsageError(f"give at most one currency, got '{' '.join(opts.positional)}'")
    currency = args.currency(opts.positional[0]) if opts.positional else None
    source = args.fund_source(opts.values["source"]).value if "source" in opts.values else None
    return BalanceArgs(currency, source, opts.values.get("user"), "share" in opts.flags)


def _money(value: Money | None) -> str:
    return value.format() if value is not None else "—"


def balance_line(row: CurrencyBalance) -> str:
    return (
        f"*{row.currency}*  available *{_money(row.balance)}* · pending {_money(row.pending_amount)} · "
        f"frozen {_money(row.freeze_amount)} · order quota {_money(row.order_quota)} · "
        f"≈ {_money(row.rmb_amount)}"
    )


@subcommand(
    "balance",
    aliases=("余额",),
    usage=USAGE,
    summary="balances per currency (ephemeral unless --share)",
    role=Role.VIEWER,
    parse=parse_balance,
)
async def balance_command(ctx: CommandContext, a: BalanceArgs) -> None:
    if a.share and not await ctx.may_share("`balance --share`"):
        return
    user = whalet_user(ctx, a.user)
    source = a.source or ctx.services.config.whalet.default_fund_source
    rows = await ctx.services.whalet.query_currency_balance(user, source, a.currency)
    title = f"Balances of {user} ({source})" + (f", {a.currency}" if a.currency else "")
    if not rows:
        await ctx.reply(f"{title}: no balances" + (f" in {a.currency}." if a.currency else "."), share=a.share)
        return
    blocks, hidden = paged([balance_line(r) for r in rows], per_block=15, max_blocks=45)
    note = (
        [section(f"…and {hidden} more currencies not shown; ask for one with `/whalet balance CUR`.")] if hidden else []
    )
    await ctx.reply(title, finish([section(f"*{title}*"), *blocks, *note]), share=a.share)
