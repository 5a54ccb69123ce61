"""`/whalet pay 300 USD to PAYEE_USER_ID [for "text"] [ref "text"]`: pay another Whalet user, with approval."""

from __future__ import annotations

import re
from core.i18n import N_
from dataclasses import dataclass

from services.approvals.service import NewRequest, Refused, create
from commands.payout import not_sent, parse_amount_and_currency, parse_tail, sent_for_approval
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from whalet.money import Money

USAGE = 'pay AMOUNT CUR to PAYEE_USER_ID [for "purpose"] [ref "reference"]'
DEFAULT_PURPOSE = "Payment requested in Slack"
_PAYEE = re.compile(r"[A-Za-z0-9_-]{1,30}")


@dataclass(frozen=True)
class PayArgs:
    amount: Money
    payee: str
    purpose: str
    reference: str


def parse_pay(words: list[str]) -> PayArgs:
    if len(words) < 4 or words[2].lower() != "to":
        raise UsageError(
            "write the amount, the currency, 'to' and the payee's Whalet user id, e.g. `pay 300 USD to U20001`"
        )
    amount = parse_amount_and_currency(words[0], words[1])
    if not _PAYEE.fullmatch(words[3]):
        raise UsageError("'%(word)s' is not a Whalet user id (letters, digits, - and _, at most 30)", word=words[3])
    tail = parse_tail(words[4:], ("for", "ref"))
    if len(tail.get("for", "")) > 128 or len(tail.get("ref", "")) > 64:
        raise UsageError("the purpose can have at most 128 characters and the reference 64")
    return PayArgs(amount, words[3], tail.get("for", DEFAULT_PURPOSE), tail.get("ref", ""))


@subcommand(
    "pay",
    aliases=("支付",),
    usage=USAGE,
    summary=N_("pay another Whalet user (needs approval)"),
    role=Role.REQUESTER,
    parse=parse_pay,
    creates_request=True,
)
async def pay_command(ctx: CommandContext, a: PayArgs) -> None:
    if a.payee == ctx.services.config.whalet.user_id:
        raise UsageError("that is our own Whalet user id; a pay goes to another user")
    try:
        row = await create(
            ctx.services,
            NewRequest(
                kind="pay",
                requester=ctx.user_id,
                amount=a.amount,
                purpose=a.purpose,
                reference=a.reference,
                payee_user_id=a.payee,
                origin_channel=ctx.channel_id,
                response_url=ctx.response_url,
            ),
        )
    except Refused as exc:
        await ctx.reply(not_sent(exc, await ctx.language()))
        return
    ctx.made_request(row.id)
    await ctx.reply(sent_for_approval(ctx.services, row, await ctx.language()))
