"""`/whalet history collections|payouts|payments|pays [--days N] [--page N]`: recent records, paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from commands import args
from services.slack.blocks import context, finish, paged, section
from commands.common import whalet_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.blocks import esc
from whalet.masking import mask_digit_runs
from whalet.models import Record

USAGE = "history collections|payouts|payments|pays [--days N] [--page N]"
KINDS = {"collections": "query_collection_records", "payouts": "query_withdraw_records",
         "payments": "query_payment_records", "pays": "query_pay_records"}
PAGE_SIZE = 20
MAX_DAYS = 90


@dataclass(frozen=True)
class HistoryArgs:
    kind: str
    days: int
    page: int


def parse_history(words: list[str]) -> HistoryArgs:
    opts = args.split_options(words, valued={"days", "page"})
    if len(opts.positional) != 1 or opts.positional[0].lower() not in KINDS:
        raise UsageError(f"say which records: {', '.join(KINDS)}")
    days = args.positive_int(opts.values["days"], "--days", MAX_DAYS) if "days" in opts.values else 7
    page = args.positive_int(opts.values["page"], "--page", 10_000) if "page" in opts.values else 1
    return HistoryArgs(opts.positional[0].lower(), days, page)


def record_line(record: Record) -> str:
    amount = record.amount.format() if record.amount else "—"
    when = record.create_time.strftime("%Y-%m-%d %H:%M") if record.create_time else "?"
    extra = record.model_extra or {}
    who = extra.get("payerName") or extra.get("beneficiaryId") or extra.get("payeeUserId") or ""
    order = f" · order `{esc(record.mer_order_no)}`" if record.mer_order_no else ""
    return f"• {when}  *{amount}*  {esc(record.status)}  {esc(mask_digit_runs(str(who)))}  `{esc(record.record_id)}`{order}"


@subcommand("history", usage=USAGE, summary="recent collections, payouts, payments or pays", role=Role.VIEWER,
            parse=parse_history)
async def history_command(ctx: CommandContext, a: HistoryArgs) -> None:
    user = whalet_user(ctx, None)
    end = ctx.services.clock.now()
    query = getattr(ctx.services.whalet, KINDS[a.kind])
    result = await query(user, end - timedelta(days=a.days), end, page_num=a.page, page_size=PAGE_SIZE)
    title = f"{a.kind.capitalize()} of the last {a.days} day{'s' if a.days > 1 else ''}"
    if not result.records:
        await ctx.reply(f"{title}: none" + (f" on page {a.page}." if a.page > 1 else "."))
        return
    blocks, hidden = paged([record_line(r) for r in result.records], per_block=10)
    pages = max(1, -(-result.total // PAGE_SIZE))
    more = f" Next: `/whalet history {a.kind} --days {a.days} --page {a.page + 1}`" if a.page < pages else ""
    await ctx.reply(title, finish([section(f"*{title}* (page {a.page} of {pages}, {result.total} in all)"),
                                   *blocks, context(f"Times in Whalet's zone (UTC+8).{more}")]))
