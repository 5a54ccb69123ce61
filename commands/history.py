"""`/whalet history collections|payouts|payments|pays [--days N] [--page N | --csv]`: recent records,
paged on screen, or every record of the period as a CSV in the person's DM (``history_csv``)."""

from __future__ import annotations

from core.i18n import N_
from dataclasses import dataclass
from datetime import timedelta

from commands import args, history_csv
from core.storage import audit as audit_rows
from services.slack.blocks import context, finish, paged, section
from commands.common import whalet_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.blocks import esc
from whalet.masking import mask_digit_runs
from whalet.models import Record, RecordPage

USAGE = "history collections|payouts|payments|pays [--days N] [--page N | --csv]"
KINDS = {
    "collections": "query_collection_records",
    "payouts": "query_withdraw_records",
    "payments": "query_payment_records",
    "pays": "query_pay_records",
}
PAGE_SIZE = 20
MAX_DAYS = 90


@dataclass(frozen=True)
class HistoryArgs:
    kind: str
    days: int
    page: int
    csv: bool = False


def parse_history(words: list[str]) -> HistoryArgs:
    opts = args.split_options(words, valued={"days", "page"}, switches={"csv"})
    if len(opts.positional) != 1 or opts.positional[0].lower() not in KINDS:
        raise UsageError(f"say which records: {', '.join(KINDS)}")
    if "csv" in opts.flags and "page" in opts.values:
        raise UsageError("--csv exports every page; leave out --page")
    days = args.positive_int(opts.values["days"], "--days", MAX_DAYS) if "days" in opts.values else 7
    page = args.positive_int(opts.values["page"], "--page", 10_000) if "page" in opts.values else 1
    return HistoryArgs(opts.positional[0].lower(), days, page, "csv" in opts.flags)


def record_line(record: Record) -> str:
    amount = record.amount.format() if record.amount else "—"
    when = record.create_time.strftime("%Y-%m-%d %H:%M") if record.create_time else "?"
    extra = record.model_extra or {}
    who = extra.get("payerName") or extra.get("beneficiaryId") or extra.get("payeeUserId") or ""
    order = f" · order `{esc(record.mer_order_no)}`" if record.mer_order_no else ""
    return f"• {when}  *{amount}*  {esc(record.status)}  {esc(mask_digit_runs(str(who)))}  `{esc(record.record_id)}`{order}"


@subcommand(
    "history",
    aliases=("历史",),
    usage=USAGE,
    summary=N_("recent collections, payouts, payments or pays"),
    role=Role.VIEWER,
    parse=parse_history,
)
async def history_command(ctx: CommandContext, a: HistoryArgs) -> None:
    if a.csv and not await ctx.may_export("`history --csv`"):
        return
    user = whalet_user(ctx, None)
    end = ctx.services.clock.now()
    query = getattr(ctx.services.whalet, KINDS[a.kind])
    title = f"{a.kind.capitalize()} of the last {a.days} day{'s' if a.days > 1 else ''}"
    if a.csv:
        await export_csv(
            ctx,
            a,
            title,
            lambda number: query(
                user, end - timedelta(days=a.days), end, page_num=number, page_size=history_csv.EXPORT_PAGE_SIZE
            ),
        )
        return
    result = await query(user, end - timedelta(days=a.days), end, page_num=a.page, page_size=PAGE_SIZE)
    if not result.records:
        await ctx.reply(f"{title}: none" + (f" on page {a.page}." if a.page > 1 else "."))
        return
    blocks, hidden = paged([record_line(r) for r in result.records], per_block=10)
    pages = max(1, -(-result.total // PAGE_SIZE))
    more = f" Next: `/whalet history {a.kind} --days {a.days} --page {a.page + 1}`" if a.page < pages else ""
    await ctx.reply(
        title,
        finish(
            [
                section(f"*{title}* (page {a.page} of {pages}, {result.total} in all)"),
                *blocks,
                *(
                    [context(f"…and {hidden} more on this page, too long for one message: `--csv` has them all.")]
                    if hidden
                    else []
                ),
                context(f"Times in Whalet's zone (UTC+8).{more}"),
            ]
        ),
    )


async def export_csv(ctx: CommandContext, a: HistoryArgs, title: str, query: history_csv.Query) -> None:
    first = await query(1)
    if first.total > len(first.records):  # more pages to fetch: say so before the wait
        await ctx.reply(
            f"Working on it: {first.total} {a.kind} over "
            f"{-(-first.total // history_csv.EXPORT_PAGE_SIZE)} pages; the CSV will arrive in our DM."
        )
    records = await history_csv.fetch_all(lambda number: _reuse_first(first, number, query))
    if not records:
        await ctx.reply(f"{title}: none, so there is no CSV to send.")
        return
    stamp = ctx.services.clock.now().strftime("%Y-%m-%d")
    filename = f"whalet-{a.kind}-{stamp}-last-{a.days}d.csv"
    with ctx.services.store.read() as db:
        made_here = audit_rows.bot_orders(db, [r.mer_order_no for r in records if r.mer_order_no])
    problem = await history_csv.send_to_dm(
        ctx.client,
        ctx.user_id,
        history_csv.to_csv(records, made_here, bom=ctx.services.config.export.bom),
        filename,
        f"{title}: {len(records)} records.",
    )
    await ctx.reply(problem or f"{title}: the CSV ({len(records)} records) is in our DM.")


async def _reuse_first(first: RecordPage, number: int, query: history_csv.Query) -> RecordPage:
    return first if number == 1 else await query(number)
