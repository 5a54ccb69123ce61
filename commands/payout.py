"""`/whalet payout`: a modal with no arguments, or `payout 1200.50 USD to acme-us [as USD] [for "text"] [ref "text"]`.

Both paths end in ``approvals.service.create``: policy checks, payoutApply, the approval card.
Everything that can be checked without Whalet (syntax, amount digits, currencies, the
beneficiary book, the policy's ceiling and daily total) is checked first, so bad input never
reaches Whalet; the modal returns those problems as ``response_action: errors`` per field.
"""

from __future__ import annotations

import logging
from core.i18n import N_, translator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from commands import args
from commands.batch import open_batch_modal
from services import book
from services.approvals import policy, repo
from services.approvals.cards import headline, slack_time
from services.approvals.request import ApprovalRequest
from services.approvals.service import FLAG_POSSIBLE_SPLIT, NewRequest, Refused, create, is_frozen
from commands.modals import beneficiary_options, payout_modal, recall, stash, values
from commands.common import refusal_text
from services.slack.subcommands import CommandContext, Role, UsageError, subcommand
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.commands")

USAGE = 'payout AMOUNT CUR to BENEFICIARY [as CUR] [for "purpose"] [ref "reference"]'
DEFAULT_PURPOSE = "Payout requested in Slack"


@dataclass(frozen=True)
class PayoutArgs:
    amount: Money
    beneficiary: str
    to_currency: str | None
    purpose: str
    reference: str


def parse_tail(words: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    """`as CUR`, `for "text"`, `ref "text"` pairs after the fixed words, each at most once."""
    found: dict[str, str] = {}
    i = 0
    while i < len(words):
        key = words[i].lower()
        if key not in allowed:
            raise UsageError(
                "did not expect '%(word)s' here (allowed: %(allowed)s)", word=words[i], allowed=", ".join(allowed)
            )
        if key in found:
            raise UsageError("'%(key)s' is given twice", key=key)
        if i + 1 >= len(words) or not words[i + 1].strip():
            if key == "as":
                raise UsageError("'%(key)s' needs a value after it", key=key)
            raise UsageError(
                "'%(key)s' needs a value after it (quote text with spaces: for \"March invoices\")", key=key
            )
        found[key] = words[i + 1].strip()
        i += 2
    return found


def parse_amount_and_currency(amount_word: str, currency_word: str) -> Money:
    return args.amount(amount_word, args.currency(currency_word))


BATCH = "batch"  # `/whalet payout batch`: the batch modal (commands/batch.py)


def parse_payout(words: list[str]) -> PayoutArgs | str | None:
    if not words:
        return None  # the modal
    if [w.lower() for w in words] == [BATCH]:
        return BATCH
    if len(words) < 4 or words[2].lower() != "to":
        raise UsageError(
            "write the amount, the currency, 'to' and the beneficiary, e.g. `payout 1200.50 USD to acme-us`"
        )
    amount = parse_amount_and_currency(words[0], words[1])
    tail = parse_tail(words[4:], ("as", "for", "ref"))
    to_currency = args.currency(tail["as"]) if "as" in tail else None
    if len(tail.get("for", "")) > 128 or len(tail.get("ref", "")) > 64:
        raise UsageError("the purpose can have at most 128 characters and the reference 64")
    return PayoutArgs(amount, words[3], to_currency, tail.get("for", DEFAULT_PURPOSE), tail.get("ref", ""))


def beneficiary_for(services: Services, ref: str, to_currency: str | None) -> book.BookEntry:
    entry = book.lookup(services, ref)
    if entry is None:
        names = ", ".join(e.nickname for e in book.entries(services)[:20])
        if not names:
            raise UsageError(
                "'%(ref)s' is not in the beneficiary book (known: none yet); see `/whalet beneficiaries`", ref=ref
            )
        raise UsageError(
            "'%(ref)s' is not in the beneficiary book (known: %(names)s); see `/whalet beneficiaries`",
            ref=ref,
            names=names,
        )
    if to_currency and to_currency != entry.currency:
        raise UsageError(
            "the beneficiary %(beneficiary)s receives %(currency)s, not %(wanted)s",
            beneficiary=entry.nickname,
            currency=entry.currency,
            wanted=to_currency,
        )
    return entry


def sent_for_approval(services: Services, request: ApprovalRequest, locale: str | None = None) -> str:
    """The requester's answer: where the card is, what it asks, how many approvals, until when."""
    t = translator(locale)
    values = {
        "channel": services.config.approvals.channel if services.config.approvals else "",
        "headline": headline(request, locale=locale),
        "request": request.id,
        "expires": slack_time(request.expires_at) if request.expires_at else "—",
    }
    if FLAG_POSSIBLE_SPLIT in request.flags:
        return t.ngettext(
            "Sent for approval in <#%(channel)s>: %(headline)s Request `%(request)s` needs %(n)s approval and "
            "expires at %(expires)s. It is flagged as a possible split of a larger payment.",
            "Sent for approval in <#%(channel)s>: %(headline)s Request `%(request)s` needs %(n)s approvals and "
            "expires at %(expires)s. It is flagged as a possible split of a larger payment.",
            request.required_approvals,
            **values,
        )
    return t.ngettext(
        "Sent for approval in <#%(channel)s>: %(headline)s Request `%(request)s` needs %(n)s approval and "
        "expires at %(expires)s.",
        "Sent for approval in <#%(channel)s>: %(headline)s Request `%(request)s` needs %(n)s approvals and "
        "expires at %(expires)s.",
        request.required_approvals,
        **values,
    )


def not_sent(exc: Exception, locale: str | None = None) -> str:
    """A refused request: the reason (a catalog ``Later`` or plain text) in the reader's language."""
    t = translator(locale)
    return t.gettext("Not sent: %(reason)s", reason=refusal_text(exc, t))


@subcommand(
    "payout",
    aliases=("提现", "付款"),
    usage=USAGE,
    summary=N_(
        "request a payout to a beneficiary (needs approval); with no arguments, a form; "
        "`payout batch`: a CSV of many payouts, one approval"
    ),
    role=Role.REQUESTER,
    parse=parse_payout,
    creates_request=True,
)
async def payout_command(ctx: CommandContext, a: PayoutArgs | str | None) -> None:
    services = ctx.services
    if a == BATCH:
        await open_batch_modal(ctx)
        return
    if a is None:
        entries = book.entries(services)
        if not entries:
            _ = translator(await ctx.language()).gettext
            await ctx.reply(_("The beneficiary book is empty; add one with `/whalet beneficiaries add` first."))
            return
        form = stash(services.store, {"channel": ctx.channel_id})
        await ctx.client.views_open(trigger_id=ctx.trigger_id, view=payout_modal(entries, form, await ctx.language()))
        return
    assert isinstance(a, PayoutArgs)
    entry = beneficiary_for(services, a.beneficiary, a.to_currency)
    try:
        row = await create(
            services,
            NewRequest(
                kind="payout",
                requester=ctx.user_id,
                amount=a.amount,
                purpose=a.purpose,
                reference=a.reference,
                beneficiary=entry,
                to_currency=entry.currency,
                origin_channel=ctx.channel_id,
                response_url=ctx.response_url,
            ),
        )
    except Refused as exc:
        await ctx.reply(not_sent(exc, await ctx.language()))
        return
    ctx.made_request(row.id)
    await ctx.reply(sent_for_approval(services, row, await ctx.language()))


# --- the modal ------------------------------------------------------------------------------------


def validate_payout_form(
    services: Services, user_id: str, form: dict[str, str], locale: str | None = None
) -> tuple[dict[str, str], NewRequest | None]:
    """({block_id: error}, request) for a submitted payout form; checks the policy too (no Whalet).
    The errors are in ``locale``, the language of the person who filled it in."""
    t = translator(locale)
    errors: dict[str, str] = {}
    entry = book.lookup(services, form.get("beneficiary", ""))
    if entry is None:
        errors["beneficiary"] = t.gettext("Choose a beneficiary from the book.")
    currency = amount = to_currency = None
    try:
        currency = args.currency(form.get("currency", ""))
    except UsageError as exc:
        errors["currency"] = exc.text(t)
    if currency:
        try:
            amount = args.amount(form.get("amount", ""), currency)
        except UsageError as exc:
            errors["amount"] = exc.text(t)
    if form.get("to_currency"):
        try:
            to_currency = args.currency(form["to_currency"])
            if entry and to_currency != entry.currency:
                errors["to_currency"] = t.gettext(
                    "%(beneficiary)s receives %(currency)s, not %(wanted)s.",
                    beneficiary=entry.nickname,
                    currency=entry.currency,
                    wanted=to_currency,
                )
        except UsageError as exc:
            errors["to_currency"] = exc.text(t)
    if amount is not None and not errors:
        now = services.clock.now()
        with services.store.read() as db:
            spent = repo.spent_today(db, user_id, amount.currency, policy.today_start(services.config, now))
        try:
            policy.required_approvals(
                services.config, amount, frozen=is_frozen(services), spent_today=spent, requester=user_id
            )
        except policy.PolicyRefused as exc:
            errors["amount"] = refusal_text(exc, t)
    if errors or entry is None or amount is None:
        return {k: v[:2000] for k, v in errors.items()}, None
    return {}, NewRequest(
        kind="payout",
        requester=user_id,
        amount=amount,
        purpose=form.get("purpose") or DEFAULT_PURPOSE,
        reference=form.get("reference", ""),
        beneficiary=entry,
        to_currency=entry.currency,
    )


async def on_payout_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    user_id = body["user"]["id"]
    view = body["view"]
    locale = services.locales.cached(user_id)  # the ack cannot wait for Slack; asked when the form opened
    t = translator(locale)
    refusal = policy.requester_refusal(await policy.resolver(services).role_of(user_id))
    if refusal:
        await ack(response_action="errors", errors={"amount": refusal.text(t)})
        return
    errors, new = validate_payout_form(services, user_id, values(view), locale)
    if errors or new is None:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    channel = recall(services.store, view).get("channel") or user_id
    try:
        row = await create(services, NewRequest(**{**new.__dict__, "origin_channel": channel}))
        text = sent_for_approval(services, row, locale)
    except Refused as exc:
        text = not_sent(exc, locale)
    await tell_user(client, channel, user_id, text)


async def tell_user(client: AsyncWebClient, channel: str, user_id: str, text: str) -> None:
    """An ephemeral note where the person started; a DM if that channel refuses us."""
    try:
        await client.chat_postEphemeral(channel=channel, user=user_id, text=text)
    except Exception:  # not_in_channel and friends: fall back to the bot's DM
        log.info("ephemeral to %s in %s failed; sending a DM", user_id, channel)
        await client.chat_postMessage(channel=user_id, text=text)


async def on_beneficiary_search(services: Services, ack: AsyncAck, body: dict[str, Any]) -> None:
    """The payout form's beneficiary search (books over 100 entries): Slack sends what was typed.
    Names and banks only for someone who may still request (the form outlives a role removed)."""
    if policy.requester_refusal(await policy.resolver(services).role_of(body["user"]["id"])) is not None:
        await ack(options=[])
        return
    await ack(options=beneficiary_options(book.entries(services), str(body.get("value") or "")))
