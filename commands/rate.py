"""`/whalet rate FROM TO [--source S]`: a live quote with its rate id and expiry."""

from __future__ import annotations

from core.i18n import N_
from dataclasses import dataclass

from commands import args
from core.i18n import translator
from services.slack.blocks import context, finish, section
from commands.common import at, countdown, whalet_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.blocks import esc

USAGE = "rate FROM TO [--source B2C|B2B|Acquiring]"


@dataclass(frozen=True)
class RateArgs:
    currency: str
    to_currency: str
    source: str | None


def parse_rate(words: list[str]) -> RateArgs:
    opts = args.split_options(words, valued={"source"})
    if len(opts.positional) != 2:
        raise UsageError("give two currencies, e.g. `rate USD HKD`")
    currency, to_currency = (args.currency(w) for w in opts.positional)
    if currency == to_currency:
        raise UsageError("both currencies are %(currency)s; a rate needs two different ones", currency=currency)
    source = args.fund_source(opts.values["source"]).value if "source" in opts.values else None
    return RateArgs(currency, to_currency, source)


@subcommand(
    "rate",
    aliases=("汇率",),
    usage=USAGE,
    summary=N_("live exchange rate with its expiry"),
    role=Role.VIEWER,
    parse=parse_rate,
)
async def rate_command(ctx: CommandContext, a: RateArgs) -> None:
    user = whalet_user(ctx, None)
    quote = await ctx.services.whalet.query_rate(
        user, a.currency, a.to_currency, a.source or ctx.services.config.whalet.default_fund_source
    )
    now = ctx.services.clock.now()
    locale = await ctx.language()
    _ = translator(locale).gettext
    text = f"1 {quote.currency} = {quote.rate} {quote.to_currency}"
    if quote.expire_time is None:
        expiry = _("Whalet gave no expiry")
    else:
        expiry = _(
            "valid until %(time)s (%(countdown)s)",
            time=at(quote.expire_time),
            countdown=countdown(quote.expire_time, now, locale),
        )
    await ctx.reply(
        text,
        finish([section(f"*{text}*"), context(_("Rate id `%(id)s`", id=esc(quote.rate_id)), expiry)]),
    )
