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
from core.i18n import N_, translator
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
from services.approvals.roles import role_name
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from services.slack.blocks import esc
from whalet.client import new_order_no
from services.whalet_words import explain
from whalet.errors import WhaletError
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


def entry_line(entry: book.BookEntry, locale: str | None = None) -> str:
    values = {
        "nickname": esc(entry.nickname),
        "name": esc(entry.name),
        "country": entry.country,
        "currency": entry.currency,
        "account": mask(entry.account_tail),
        "id": esc(entry.id),
    }
    _ = translator(locale).gettext
    if entry.source == "config":
        return _("• *%(nickname)s* — %(name)s · %(country)s · %(currency)s · %(account)s · id `%(id)s`", **values)
    return _(
        "• *%(nickname)s* — %(name)s · %(country)s · %(currency)s · %(account)s · id `%(id)s` _(added in Slack)_",
        **values,
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
    locale = await ctx.language()
    t = translator(locale)
    if not entries:
        if a.country:
            empty = t.gettext(
                "No beneficiaries in %(country)s in the book yet. Add one with `/whalet beneficiaries add`.",
                country=a.country,
            )
        else:
            empty = t.gettext("No beneficiaries in the book yet. Add one with `/whalet beneficiaries add`.")
        await ctx.reply(empty)
        return
    if a.country:
        title = t.ngettext(
            "%(n)s beneficiary in %(country)s", "%(n)s beneficiaries in %(country)s", len(entries), country=a.country
        )
    else:
        title = t.ngettext("%(n)s beneficiary", "%(n)s beneficiaries", len(entries))
    blocks, hidden = paged([entry_line(e, locale) for e in entries], per_block=15, max_blocks=45)
    more = t.gettext("…and %(hidden)s more; filter by country: `/whalet beneficiaries HK`.", hidden=hidden)
    note = [section(more)] if hidden else []
    await ctx.reply(title, finish([section(f"*{title}*"), *blocks, *note]))


async def start_add(ctx: CommandContext, a: BeneficiariesArgs) -> None:
    locale = await ctx.language()
    _ = translator(locale).gettext
    if ctx.role < Role.REQUESTER:
        await ctx.reply(
            _(
                "Adding beneficiaries is for requesters and above; your role is %(role)s.",
                role=role_name(ctx.role, locale),
            )
        )
        return
    title = _("Add a beneficiary")
    opened = await ctx.client.views_open(trigger_id=ctx.trigger_id, view=loading_modal(title, locale=locale))
    view_id = opened["view"]["id"]
    try:
        if a.country and a.currency:
            view = await form_view(ctx.services, a.country, a.currency, ctx.channel_id, locale)
        else:
            countries = await ctx.services.whalet.query_beneficiary_countries()
            pairs = [(c.country, cur) for c in countries for cur in c.currencies]
            view = (
                beneficiary_pick_modal(pairs, stash(ctx.services.store, {"channel": ctx.channel_id}), locale)
                if pairs
                else message_modal(title, _("Whalet lists no countries for beneficiaries."), locale)
            )
    except WhaletError as exc:
        view = message_modal(title, esc(explain(exc, translator(locale))), locale)
    await ctx.client.views_update(view_id=view_id, view=view)


async def form_view(
    services: Services, country: str, currency: str, channel: str, locale: str | None = None
) -> dict[str, Any]:
    fields = await services.whalet.query_beneficiary_fields(country, currency)
    rules = [{"n": f.name, "r": f.required, "m": f.max_length, "p": f.pattern} for f in fields]
    form = stash(services.store, {"channel": channel, "country": country, "currency": currency, "rules": rules})
    return beneficiary_form_modal(country, currency, fields, form, locale)


async def on_pick_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    # The ack cannot wait for Slack: the language heard when the person opened the form.
    locale = services.locales.cached(body["user"]["id"])
    _ = translator(locale).gettext
    where = values(body["view"]).get("where", "")
    country, _sep, currency = where.partition(":")
    if not country or not currency:
        await ack(response_action="errors", errors={"where": _("Choose a country and currency.")})
        return
    title = _("Add a beneficiary")
    await ack(response_action="update", view=loading_modal(title, locale=locale))
    channel = recall(services.store, body["view"]).get("channel") or body["user"]["id"]
    try:
        view = await form_view(services, country, currency, channel, locale)
    except WhaletError as exc:
        view = message_modal(title, esc(explain(exc, translator(locale))), locale)
    await client.views_update(view_id=body["view"]["id"], view=view)


def validate_form(
    services: Services, form: dict[str, str], rules: list[dict[str, Any]], locale: str | None = None
) -> dict[str, str]:
    """{block_id: error} in ``locale``, the language of the person who filled the form in."""
    _ = translator(locale).gettext
    errors: dict[str, str] = {}
    nickname = form.get("nickname", "").lower()
    if not NICKNAME.fullmatch(nickname):
        errors["nickname"] = _("Use lowercase letters, digits and single dashes, like acme-hk.")
    elif book.nickname_taken(services, nickname):
        errors["nickname"] = _("'%(nickname)s' is already in the book.", nickname=nickname)
    for rule in rules:
        block, value = f"f_{rule['n']}", form.get(f"f_{rule['n']}", "")
        if not value:
            if rule.get("r"):
                errors[block] = _("Required.")
            continue
        if rule.get("m") and len(value) > int(rule["m"]):
            errors[block] = _("At most %(max)s characters.", max=rule["m"])
        elif rule.get("p") and not re.fullmatch(rule["p"].strip("^$"), value):
            errors[block] = _("Does not have the expected format (%(pattern)s).", pattern=rule["p"])
    return errors


async def on_form_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    view, user_id = body["view"], body["user"]["id"]
    locale = services.locales.cached(user_id)  # the ack cannot wait for Slack
    _ = translator(locale).gettext
    meta, form = recall(services.store, view), values(view)
    errors = validate_form(services, form, meta.get("rules") or [], locale)
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
            _(
                "The beneficiary was not added: '%(nickname)s' was just added to the book by someone else. "
                "Nothing was sent to Whalet; add it again under another nickname.",
                nickname=esc(nickname),
            ),
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
        await tell_user(
            client,
            channel,
            user_id,
            _("The beneficiary was not added: %(reason)s", reason=esc(explain(exc, translator(locale)))),
        )
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
        _(
            "Sent to Whalet: *%(nickname)s* (%(name)s, %(account)s). "
            "It joins the book once Whalet confirms it; payouts to it are flagged as new for 30 days.",
            nickname=nickname,
            name=esc(fields.get("accountName")),
            account=mask(fields.get("accountNo")),
        ),
    )
