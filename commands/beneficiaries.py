"""`/whalet beneficiaries [COUNTRY]` lists the book (masked); `beneficiaries add [COUNTRY CUR]` adds one.

Adding is a modal driven by Whalet: ``queryBeneficiaryCountries`` fills the first step (country
and currency), ``queryBeneficiaryFields`` builds the form. Because Whalet may be slower than a
trigger_id lives (~3 s), the modal opens at once with "Asking Whalet…" and is then updated
(views.update). The form is validated against Whalet's own field rules (required, maxLength,
pattern, options) before ``beneficiaryApply``; the beneficiary joins the book only when Whalet's
``beneficiaryResultNotify`` says SUCCESS (see services.book.apply_beneficiary_result).
"""

from __future__ import annotations

import logging
import re
from core.i18n import N_
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from commands import args
from services import book
from services.slack.blocks import finish, paged, section
from commands.modals import (
    beneficiary_form_modal,
    beneficiary_pick_modal,
    loading_modal,
    message_modal,
    recall,
    stash,
    values,
)
from commands.payout import tell_user
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.blocks import esc
from whalet.client import new_order_no
from whalet.errors import WhaletError, explain
from whalet.masking import mask

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.commands")

USAGE = "beneficiaries [COUNTRY] | beneficiaries add [COUNTRY CUR]"
NICKNAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
TOP_LEVEL = ("accountName", "accountNo", "bankName", "swiftCode")


@dataclass(frozen=True)
class BeneficiariesArgs:
    add: bool
    country: str | None = None
    currency: str | None = None


def parse_beneficiaries(words: list[str]) -> BeneficiariesArgs:
    if words and words[0].lower() == "add":
        if len(words) == 1:
            return BeneficiariesArgs(add=True)
        if len(words) == 3:
            return BeneficiariesArgs(True, args.country(words[1]), args.currency(words[2]))
        raise UsageError("after 'add' give nothing (a form asks) or a country and a currency, e.g. `add HK HKD`")
    if len(words) > 1:
        raise UsageError("give at most one country code")
    return BeneficiariesArgs(False, args.country(words[0]) if words else None)


def entry_line(entry: book.BookEntry) -> str:
    origin = "" if entry.source == "config" else " _(added in Slack)_"
    return (
        f"• *{esc(entry.nickname)}* — {esc(entry.name)} · {entry.country} · {entry.currency} · "
        f"{mask(entry.account_tail)} · id `{esc(entry.id)}`{origin}"
    )


@subcommand(
    "beneficiaries",
    aliases=("受益人",),
    usage=USAGE,
    summary=N_("the beneficiary book; `add` sends a new one to Whalet"),
    role=Role.VIEWER,
    parse=parse_beneficiaries,
)
async def beneficiaries_command(ctx: CommandContext, a: BeneficiariesArgs) -> None:
    if a.add:
        await start_add(ctx, a)
        return
    entries = book.entries(ctx.services, country=a.country)
    where = f" in {a.country}" if a.country else ""
    if not entries:
        await ctx.reply(f"No beneficiaries{where} in the book yet. Add one with `/whalet beneficiaries add`.")
        return
    title = f"{len(entries)} beneficiar{'ies' if len(entries) != 1 else 'y'}{where}"
    blocks, hidden = paged([entry_line(e) for e in entries], per_block=15, max_blocks=45)
    note = [section(f"…and {hidden} more; filter by country: `/whalet beneficiaries HK`.")] if hidden else []
    await ctx.reply(title, finish([section(f"*{title}*"), *blocks, *note]))


async def start_add(ctx: CommandContext, a: BeneficiariesArgs) -> None:
    if ctx.role < Role.REQUESTER:
        await ctx.reply(f"Adding beneficiaries is for requesters and above; your role is {ctx.role.label}.")
        return
    opened = await ctx.client.views_open(trigger_id=ctx.trigger_id, view=loading_modal("Add a beneficiary"))
    view_id = opened["view"]["id"]
    try:
        if a.country and a.currency:
            view = await form_view(ctx.services, a.country, a.currency, ctx.channel_id)
        else:
            countries = await ctx.services.whalet.query_beneficiary_countries()
            pairs = [(c.country, cur) for c in countries for cur in c.currencies]
            view = (
                beneficiary_pick_modal(pairs, stash(ctx.services.store, {"channel": ctx.channel_id}))
                if pairs
                else message_modal("Add a beneficiary", "Whalet lists no countries for beneficiaries.")
            )
    except WhaletError as exc:
        view = message_modal("Add a beneficiary", esc(explain(exc)))
    await ctx.client.views_update(view_id=view_id, view=view)


async def form_view(services: Services, country: str, currency: str, channel: str) -> dict[str, Any]:
    fields = await services.whalet.query_beneficiary_fields(country, currency)
    rules = [{"n": f.name, "r": f.required, "m": f.max_length, "p": f.pattern} for f in fields]
    form = stash(services.store, {"channel": channel, "country": country, "currency": currency, "rules": rules})
    return beneficiary_form_modal(country, currency, fields, form)


async def on_pick_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    where = values(body["view"]).get("where", "")
    country, _, currency = where.partition(":")
    if not country or not currency:
        await ack(response_action="errors", errors={"where": "Choose a country and currency."})
        return
    await ack(response_action="update", view=loading_modal("Add a beneficiary"))
    channel = recall(services.store, body["view"]).get("channel") or body["user"]["id"]
    try:
        view = await form_view(services, country, currency, channel)
    except WhaletError as exc:
        view = message_modal("Add a beneficiary", esc(explain(exc)))
    await client.views_update(view_id=body["view"]["id"], view=view)


def validate_form(services: Services, form: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    nickname = form.get("nickname", "").lower()
    if not NICKNAME.fullmatch(nickname):
        errors["nickname"] = "Use lowercase letters, digits and single dashes, like acme-hk."
    elif book.nickname_taken(services, nickname):
        errors["nickname"] = f"'{nickname}' is already in the book."
    for rule in rules:
        block, value = f"f_{rule['n']}", form.get(f"f_{rule['n']}", "")
        if not value:
            if rule.get("r"):
                errors[block] = "Required."
            continue
        if rule.get("m") and len(value) > int(rule["m"]):
            errors[block] = f"At most {rule['m']} characters."
        elif rule.get("p") and not re.fullmatch(rule["p"].strip("^$"), value):
            errors[block] = f"Does not have the expected format ({rule['p']})."
    return errors


async def on_form_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    view, user_id = body["view"], body["user"]["id"]
    meta, form = recall(services.store, view), values(view)
    errors = validate_form(services, form, meta.get("rules") or [])
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    fields = {rule["n"]: form.get(f"f_{rule['n']}", "") for rule in meta.get("rules") or []}
    extra = {k: v for k, v in fields.items() if k not in TOP_LEVEL and v}
    mer_no = new_order_no("WBB")
    channel = meta.get("channel") or user_id
    whalet_user = services.config.whalet.user_id or ""
    nickname = form["nickname"].lower()
    with services.store.transaction() as db:
        reserved = book.reserve(
            db,
            mer_beneficiary_no=mer_no,
            nickname=nickname,
            name=fields.get("accountName", ""),
            country=meta["country"],
            currency=meta["currency"],
            account_no=fields.get("accountNo", ""),
            added_by=user_id,
            now=services.clock.now(),
        )
    if not reserved:  # someone added the same nickname since the form was checked
        await tell_user(
            client,
            channel,
            user_id,
            f"The beneficiary was not added: '{esc(nickname)}' was just added to the book by someone else. "
            "Nothing was sent to Whalet; add it again under another nickname.",
        )
        return
    try:
        result = await services.whalet.beneficiary_apply(
            whalet_user,
            mer_no,
            meta["country"],
            meta["currency"],
            fields.get("accountName", ""),
            fields.get("accountNo", ""),
            fields.get("bankName", ""),
            swift_code=fields.get("swiftCode") or None,
            extra=extra,
        )
    except WhaletError as exc:
        with services.store.transaction() as db:
            book.release(db, mer_no)
        await tell_user(client, channel, user_id, f"The beneficiary was not added: {esc(explain(exc))}")
        return
    with services.store.transaction() as db:
        book.record_application(db, mer_no, result.beneficiary_id)
        services.store.audit(
            db,
            user_id,
            "beneficiary.apply",
            f"beneficiary:{mer_no}",
            "",
            {
                "beneficiary_id": result.beneficiary_id,
                "nickname": nickname,
                "country": meta["country"],
                "currency": meta["currency"],
                "account": mask(fields.get("accountNo")),
            },
        )
    await tell_user(
        client,
        channel,
        user_id,
        f"Sent to Whalet: *{nickname}* ({esc(fields.get('accountName'))}, {mask(fields.get('accountNo'))}). "
        "It joins the book once Whalet confirms it; payouts to it are flagged as new for 30 days.",
    )
