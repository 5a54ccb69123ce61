"""`/whalet audit [--days N] [--request ID]`: the audit log as a CSV in the person's DM.

Every approval, rejection, confirm (and Whalet's answer), expiry, renewal of a quote, freeze and
policy change is an append-only row; an auditor asks for them from Slack instead of from whoever
runs the database. Times are in the policy's ``day_zone``; text cells are neutralised for
spreadsheets and have account numbers masked, like the history export; the header row is in the
reader's language, the cells are the log as written."""

from __future__ import annotations

import csv
import io
import json
from core.i18n import N_, translator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands import args, history_csv
from core.clock import iso, parse_iso
from core.storage import audit as audit_rows
from services.approvals import policy
from services.csv_cells import encode
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand

USAGE = "audit [--days N] [--request ID]"
MAX_DAYS = 366
# The header row: English as it always was; a catalog message each, so a Chinese reader gets Chinese headers.
COLUMNS = (
    N_("time"),
    N_("actor"),
    N_("action"),
    N_("request"),
    N_("amount"),
    N_("currency"),
    N_("state"),
    N_("detail"),
)


@dataclass(frozen=True)
class AuditArgs:
    days: int
    request: str | None


def parse_audit(words: list[str]) -> AuditArgs:
    opts = args.split_options(words, valued={"days", "request"}, switches=set())
    if opts.positional:
        raise UsageError("audit takes options only, not '%(words)s'", words=" ".join(opts.positional))
    days = args.positive_int(opts.values["days"], "--days", MAX_DAYS) if "days" in opts.values else 30
    request = opts.values.get("request")
    if request is not None and not request.replace("-", "").isalnum():
        raise UsageError("'%(request)s' is not a request id (like PO-ABCD2345)", request=request)
    return AuditArgs(days, request.upper() if request else None)


@subcommand(
    "audit",
    usage=USAGE,
    summary=N_("the audit log (approvals, confirms, policy changes) as a CSV in your DM"),
    role=Role.VIEWER,
    parse=parse_audit,
)
async def audit_command(ctx: CommandContext, a: AuditArgs) -> None:
    if not await ctx.may_export("`audit`"):
        return
    services = ctx.services
    since = services.clock.now() - timedelta(days=a.days)
    subject = f"approval:{a.request}" if a.request else None
    with services.store.read() as db:
        rows = audit_rows.rows_since(db, iso(since), subject)
    t = translator(await ctx.language())
    if a.request:
        what = t.gettext("request `%(request)s`", request=a.request)
    else:
        what = t.ngettext("the last %(n)s day", "the last %(n)s days", a.days)
    if not rows:
        await ctx.reply(t.gettext("The audit log has nothing for %(what)s, so there is no CSV to send.", what=what))
        return
    data = to_csv(rows, policy.day_zone(services.config), bom=services.config.export.bom, locale=t.locale)
    stamp = services.clock.now().strftime("%Y-%m-%d")
    filename = f"whalet-audit-{stamp}-{a.request or f'last-{a.days}d'}.csv"
    problem = await history_csv.send_to_dm(
        ctx.client,
        ctx.user_id,
        data,
        filename,
        t.gettext("Audit log for %(what)s: %(count)s rows.", what=what, count=len(rows)),
        t,
    )
    await ctx.reply(
        problem
        or t.gettext("Audit log for %(what)s: the CSV (%(count)s rows) is in our DM.", what=what, count=len(rows))
    )


def to_csv(rows: list[dict[str, Any]], zone: str, *, bom: bool = True, locale: str | None = None) -> bytes:
    """``locale``: the language of the header row; the cells are the log as written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(history_csv.headers(COLUMNS, locale))
    local = ZoneInfo(zone)
    for row in rows:
        subject = str(row["subject"] or "")
        detail = _detail(row["detail"])
        writer.writerow(
            [
                parse_iso(str(row["at"])).astimezone(local).isoformat(),
                history_csv.cell(row["actor"]),
                history_csv.cell(row["action"]),
                history_csv.cell(subject.removeprefix("approval:") if subject.startswith("approval:") else subject),
                history_csv.cell(row["amount"] or ""),
                history_csv.cell(row["currency"] or ""),
                history_csv.cell(detail.pop("state", None) or row["state"] or ""),
                history_csv.cell(
                    json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else "", free_text=True
                ),
            ]
        )
    return encode(buffer.getvalue(), bom=bom)


def _detail(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"text": str(text)}
    return value if isinstance(value, dict) else {"value": value}
