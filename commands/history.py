"""`/whalet history collections|payouts|payments|pays [--days N] [--page N | --csv]`: recent records,
paged on screen, or every record of the period as a CSV in the person's DM (``history_csv``).

On screen each time is in the reader's Slack time zone (``Translator.moment``, with its offset),
and a note says which zone; Whalet's own (UTC+8) when Slack did not give one."""

from __future__ import annotations

from core.i18n import N_, Translator, translator, zone
from dataclasses import dataclass
from datetime import timedelta

from commands import args, history_csv
from core.storage import audit as audit_rows
from services.slack.blocks import context, finish, paged, section
from commands.common import whalet_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.blocks import esc
from whalet.masking import mask_digit_runs
from whalet.models import WHALET_TZ, Record, RecordPage

USAGE = "history collections|payouts|payments|pays [--days N] [--page N | --csv]"
KINDS = {
    "collections": "query_collection_records",
    "payouts": "query_withdraw_records",
    "payments": "query_payment_records",
    "pays": "query_pay_records",
}
PAGE_SIZE = 20
MAX_DAYS = 90


# What each kind of record is called in a sentence ("Working on it: 230 collections over 3 pages").
KIND_NAMES = {
    "collections": N_("collections"),
    "payouts": N_("payouts"),
    "payments": N_("payments"),
    "pays": N_("pays"),
}


@dataclass(frozen=True)
class HistoryArgs:
    kind: str
    days: int
    page: int
    csv: bool = False


def parse_history(words: list[str]) -> HistoryArgs:
    opts = args.split_options(words, valued={"days", "page"}, switches={"csv"})
    if len(opts.positional) != 1 or opts.positional[0].lower() not in KINDS:
        raise UsageError("say which records: %(kinds)s", kinds=", ".join(KINDS))
    if "csv" in opts.flags and "page" in opts.values:
        raise UsageError("--csv exports every page; leave out --page")
    days = args.positive_int(opts.values["days"], "--days", MAX_DAYS) if "days" in opts.values else 7
    page = args.positive_int(opts.values["page"], "--page", 10_000) if "page" in opts.values else 1
    return HistoryArgs(opts.positional[0].lower(), days, page, "csv" in opts.flags)


def title_of(kind: str, days: int, t: Translator) -> str:
    """ "Payouts of the last 7 days": one sentence per kind, so each language words it whole."""
    if kind == "collections":
        return t.ngettext("Collections of the last %(n)s day", "Collections of the last %(n)s days", days)
    if kind == "payouts":
        return t.ngettext("Payouts of the last %(n)s day", "Payouts of the last %(n)s days", days)
    if kind == "payments":
        return t.ngettext("Payments of the last %(n)s day", "Payments of the last %(n)s days", days)
    return t.ngettext("Pays of the last %(n)s day", "Pays of the last %(n)s days", days)


def record_line(record: Record, t: Translator | None = None) -> str:
    """One record; its time in the reader's Slack zone (Whalet's, UTC+8, when Slack did not say)."""
    t = t or translator("en")
    when = t.moment(record.create_time, WHALET_TZ) if record.create_time else "?"
    extra = record.model_extra or {}
    who = extra.get("payerName") or extra.get("beneficiaryId") or extra.get("payeeUserId") or ""
    values = {
        "when": when,
        "amount": t.amount(record.amount),
        "status": esc(record.status),
        "who": esc(mask_digit_runs(str(who))),
        "record": esc(record.record_id),
    }
    if record.mer_order_no:
        return t.gettext(
            "• %(when)s  *%(amount)s*  %(status)s  %(who)s  `%(record)s` · order `%(order)s`",
            order=esc(record.mer_order_no),
            **values,
        )
    return t.gettext("• %(when)s  *%(amount)s*  %(status)s  %(who)s  `%(record)s`", **values)


def zone_note(t: Translator) -> str:
    """Which zone the times are in: the person's Slack zone, or Whalet's when Slack did not say."""
    if t.tz and zone(t.tz, WHALET_TZ) is not WHALET_TZ:
        return t.gettext("Times in your Slack time zone (%(zone)s).", zone=t.tz)
    return t.gettext("Times in Whalet's zone (UTC+8).")


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
    t = await ctx.translator()
    end = ctx.services.clock.now()
    query = getattr(ctx.services.whalet, KINDS[a.kind])
    title = title_of(a.kind, a.days, t)
    if a.csv:
        await export_csv(
            ctx,
            a,
            title,
            lambda number: query(
                user, end - timedelta(days=a.days), end, page_num=number, page_size=history_csv.EXPORT_PAGE_SIZE
            ),
            t,
        )
        return
    result = await query(user, end - timedelta(days=a.days), end, page_num=a.page, page_size=PAGE_SIZE)
    if not result.records:
        if a.page > 1:
            await ctx.reply(t.gettext("%(title)s: none on page %(page)s.", title=title, page=a.page))
        else:
            await ctx.reply(t.gettext("%(title)s: none.", title=title))
        return
    blocks, hidden = paged([record_line(r, t) for r in result.records], per_block=10)
    pages = max(1, -(-result.total // PAGE_SIZE))
    notes = [zone_note(t)]
    if a.page < pages:
        command = f"/whalet history {a.kind} --days {a.days} --page {a.page + 1}"
        notes.append(t.gettext("Next: `%(command)s`", command=command))
    more = t.gettext(
        "…and %(hidden)s more on this page, too long for one message: `--csv` has them all.", hidden=hidden
    )
    await ctx.reply(
        title,
        finish(
            [
                section(
                    t.gettext(
                        "*%(title)s* (page %(page)s of %(pages)s, %(total)s in all)",
                        title=title,
                        page=a.page,
                        pages=pages,
                        total=result.total,
                    )
                ),
                *blocks,
                *([context(more)] if hidden else []),
                context(*notes),
            ]
        ),
    )


async def export_csv(
    ctx: CommandContext, a: HistoryArgs, title: str, query: history_csv.Query, t: Translator | None = None
) -> None:
    t = t or translator("en")
    first = await query(1)
    if first.total > len(first.records):  # more pages to fetch: say so before the wait
        await ctx.reply(
            t.gettext(
                "Working on it: %(total)s %(kind)s over %(pages)s pages; the CSV will arrive in our DM.",
                total=first.total,
                kind=t.gettext(KIND_NAMES[a.kind]),
                pages=-(-first.total // history_csv.EXPORT_PAGE_SIZE),
            )
        )
    records = await history_csv.fetch_all(lambda number: _reuse_first(first, number, query))
    if not records:
        await ctx.reply(t.gettext("%(title)s: none, so there is no CSV to send.", title=title))
        return
    stamp = ctx.services.clock.now().strftime("%Y-%m-%d")
    filename = f"whalet-{a.kind}-{stamp}-last-{a.days}d.csv"
    with ctx.services.store.read() as db:
        made_here = audit_rows.bot_orders(db, [r.mer_order_no for r in records if r.mer_order_no])
    problem = await history_csv.send_to_dm(
        ctx.client,
        ctx.user_id,
        history_csv.to_csv(records, made_here, bom=ctx.services.config.export.bom, locale=t.locale),
        filename,
        t.gettext("%(title)s: %(count)s records.", title=title, count=len(records)),
        t,
    )
    await ctx.reply(
        problem or t.gettext("%(title)s: the CSV (%(count)s records) is in our DM.", title=title, count=len(records))
    )


async def _reuse_first(first: RecordPage, number: int, query: history_csv.Query) -> RecordPage:
    return first if number == 1 else await query(number)
