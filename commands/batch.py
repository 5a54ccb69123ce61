"""`/whalet payout batch`: a modal takes one CSV file and a note; one approval card for every line.

Slack gives the submission only the file's id, so the bot reads the file itself
(``services.slack.files``: ``files.info`` and the download, with its own token). That and the
checks can take longer than the three seconds Slack waits for a modal's answer, so the
submission is answered at once with a "Checking…" view, and that same modal is updated with the
outcome: the batch's card is up (and where), or why the file was refused, row by row; nothing is
created from a refused file. The format is in ``commands.batch_file``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.web.async_client import AsyncWebClient

from commands.batch_file import read_batch
from commands.modals import form_view, message_modal, recall, stash, values
from core.i18n import Later, Translator, translator
from services.approvals import policy
from services.approvals.batch_create import BatchRefused, create_batch
from services.approvals.batch_policy import FIRST_REASONS
from services.approvals.cards import slack_time
from services.slack.blocks import context, esc, section
from services.slack.files import FileRefused, fetch_file
from services.slack.subcommands import CommandContext

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.commands")

BATCH_VIEW = "batch_payout_modal"
MAX_FILE_BYTES = 1024 * 1024  # 1 MB: 500 lines of CSV take about 40 KB
COLUMNS = "beneficiary, amount, currency, target_currency, purpose, reference"


def batch_modal(form_id: str, max_lines: int, locale: str | None = None) -> dict[str, Any]:
    _ = translator(locale).gettext
    blocks = [
        section(
            _(
                "Upload a CSV with a header row: *%(columns)s* (the last three optional), at most %(max)s "
                "payments and 1 MB. Every row is checked first; one card asks for approval of the whole batch.",
                columns=COLUMNS,
                max=max_lines,
            )
        ),
        InputBlock(
            block_id="file",
            label=PlainTextObject(text=_("Payments file (CSV)")),
            element=FileInputElement(action_id="file", filetypes=["csv"], max_files=1),
        ),
        InputBlock(
            block_id="note",
            label=PlainTextObject(text=_("Note for the approvers")),
            element=PlainTextInputElement(action_id="note", max_length=128),
            optional=True,
        ),
        context(_("Example file: `docs/batch-example.csv` in the whalet-bot repository.")),
    ]
    return form_view(BATCH_VIEW, _("Batch payout"), blocks, form_id, _("Check and send"), locale)


async def open_batch_modal(ctx: CommandContext) -> None:
    services = ctx.services
    form = stash(services.store, {"channel": ctx.channel_id})
    view = batch_modal(form, services.config.batch.max_lines, await ctx.language())
    await ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)


def _picked(view: dict[str, Any]) -> list[dict[str, Any]]:
    state = ((view.get("state") or {}).get("values") or {}).get("file") or {}
    return list((state.get("file") or {}).get("files") or [])


async def on_batch_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    user_id, view = body["user"]["id"], body["view"]
    # The ack cannot wait for Slack: the language heard when the person opened the modal.
    locale = services.locales.cached(user_id)
    t = translator(locale)
    refusal = policy.requester_refusal(await policy.resolver(services).role_of(user_id))
    if refusal:
        await ack(response_action="errors", errors={"file": refusal.text(t)})
        return
    files = _picked(view)
    if len(files) != 1:
        await ack(response_action="errors", errors={"file": t.gettext("Choose one CSV file.")})
        return
    checking = t.gettext("Checking %(file)s…", file=esc(files[0].get("name")))
    await ack(response_action="update", view=message_modal(t.gettext("Batch payout"), checking, locale))
    channel = recall(services.store, view).get("channel") or user_id
    title, text = await _check_and_send(
        services, user_id, str(files[0].get("id")), values(view).get("note", ""), channel, t
    )
    try:
        await client.views_update(view_id=view.get("id") or "", view=message_modal(title, text, locale))
    except Exception:  # the person closed the modal meanwhile: tell them in a DM instead
        log.info("batch outcome modal for %s could not be shown; sending a DM", user_id)
        await client.chat_postMessage(channel=user_id, text=text)


def summed(reasons: Sequence[Later | str], t: Translator) -> str:
    """The first FIRST_REASONS reasons in the reader's language, one per line, then how many more."""
    shown = [f"• {esc(t.text(r))}" for r in reasons[:FIRST_REASONS]]
    more = len(reasons) - FIRST_REASONS
    return "\n".join(shown + ([t.ngettext("…and %(n)s more.", "…and %(n)s more.", more)] if more > 0 else []))


async def _check_and_send(
    services: Services, user_id: str, file_id: str, note: str, channel: str, t: Translator | None = None
) -> tuple[str, str]:
    """(title, text) of the modal's answer, in the language of ``t`` (English without one)."""
    t = t or translator("en")
    settings = services.settings
    try:
        picked = await fetch_file(
            services.slack,
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_base_url,
            file_id,
            MAX_FILE_BYTES,
        )
    except FileRefused as exc:
        return t.gettext("Batch not sent"), t.gettext("Not sent: %(reason)s", reason=esc(t.text(exc.reason)))
    lines, unread = read_batch(services, picked.content, services.config.batch.max_lines)
    reasons: Sequence[Later | str] = unread
    batch = None
    if not unread:
        try:
            batch = await create_batch(services, user_id, picked.name, note, lines, channel)
        except BatchRefused as exc:
            reasons = exc.later
    if batch is None:
        head = t.ngettext(
            "*%(file)s was not sent* (%(n)s problem); nothing was created:",
            "*%(file)s was not sent* (%(n)s problems); nothing was created:",
            len(reasons),
            file=esc(picked.name),
        )
        return t.gettext("Batch not sent"), f"{head}\n{summed(reasons, t)}"
    approvals_channel = services.config.approvals.channel if services.config.approvals else channel
    expires = slack_time(batch.expires_at) if batch.expires_at else "—"
    return t.gettext("Batch sent"), t.ngettext(
        "Sent for approval in <#%(channel)s>: %(summary)s. Batch `%(id)s` needs %(n)s approval and is open "
        "until %(expires)s; every line is in the card's thread.",
        "Sent for approval in <#%(channel)s>: %(summary)s. Batch `%(id)s` needs %(n)s approvals and is open "
        "until %(expires)s; every line is in the card's thread.",
        batch.required_approvals,
        channel=approvals_channel,
        summary=esc(batch.summary),
        id=batch.id,
        expires=expires,
    )
