"""`/whalet audit [--days N] [--request ID]`: the audit log as a CSV in the person's DM.

Every approval, rejection, confirm (and Whalet's answer), expiry, renewal of a quote, freeze and
policy change is an append-only row; an auditor asks for them from Slack instead of from whoever
runs the database. Times are in the policy's ``day_zone``; text cells are neutralised for
spreadsheets and have account numbers masked, like the history export."""

from __future__ import annotations

import csv
import io
import json
from core.i18n import N_
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
COLUMNS = ("time", "actor", "action", "request", "amount", "currency", "state", "detail")


@dataclass(frozen=True)
class AuditArgs:
    days: int
    request: str | None


def parse_audit(words: list[str]) -> AuditArgs:
    opts = args.split_options(words, valued={"days", "request"}, switches=set())
    if opts.positional:
        raise UsageError(f"audit takes options only, not '{' '.join(opts.positional)}'")
    days = args.positive_int(opts.values["days"], "--days", MAX_DAYS) if "days" in opts.values else 30
    request = opts.values.get("request")
    if request is not None and not request.replace("-", "").isalnum():
        raise UsageError(f"'{request}' is not a request id (like PO-ABCD2345)")
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
    what = f"request `{a.request}`" if a.request else f"the last {a.days} day{'s' if a.days > 1 else ''}"
    if not rows:
        await ctx.reply(f"The audit log has nothing for {what}, so there is no CSV to send.")
        return
    data = to_csv(rows, policy.day_zone(services.config), bom=services.config.export.bom)
    stamp = services.clock.now().strftime("%Y-%m-%d")
    filename = f"whalet-audit-{stamp}-{a.request or f'last-{a.days}d'}.csv"
    problem = await history_csv.send_to_dm(
        ctx.client, ctx.user_id, data, filename, f"Audit log for {what}: {len(rows)} rows."
    )
    await ctx.reply(problem or f"Audit log for {what}: the CSV ({len(rows)} rows) is in our DM.")


def to_csv(rows: list[dict[str, Any]], zone: str, *, bom: bool = True) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
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
