"""The slow half of Submit documents, after the modal was answered: download, send, record.

Each file is read from Slack with the bot's own token (``services.slack.files``, at most
``MAX_FILE_BYTES`` each, counted while it streams), encoded as ``[whalet] replenish_materials``
says, and sent with ONE eddReplenishSubmit / tradeReplenishSubmit. Whatever happens ends in one
transaction that records the outcome on the submission row, the to-do's ``docs``, the card and
a thread reply; a file refused or a refusal by Whalet sends nothing and offers Submit again.
Whalet writing calls are never retried on their own: an unknown outcome is said as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import Later, later, translator
from core.storage import replenish_submissions as submissions
from notifications import render_documents as views
from notifications import render_replenish as cards
from notifications.rendered import Rendered
from services.documents import MAX_FILE_BYTES, encode, summary
from services.slack.files import FileRefused, SlackFile, fetch_file
from services.slack.queue import enqueue_post, enqueue_update
from services.whalet_words import sentence_of
from whalet.errors import OutcomeUnknown, WhaletError

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.documents")


async def fetch_all(services: Services, client: AsyncWebClient, files: list[dict[str, Any]]) -> list[SlackFile]:
    token = services.settings.slack_bot_token.get_secret_value()
    base = services.settings.slack_api_base_url
    return [await fetch_file(client, token, base, str(f["id"]), MAX_FILE_BYTES) for f in files]


async def _submit(services: Services, todo: dict[str, Any], fetched: list[SlackFile], note: str) -> str | None:
    materials = encode(fetched, services.config.whalet.replenish_materials)
    if todo["kind"] == "trade":
        result = await services.whalet.trade_replenish_submit(
            todo["user_id"], todo["replenish_id"], todo["trade_id"] or "", materials, note or None
        )
    else:
        result = await services.whalet.edd_replenish_submit(
            todo["user_id"], todo["replenish_id"], materials, note or None
        )
    return result.status


async def send_documents(
    services: Services,
    client: AsyncWebClient,
    todo: dict[str, Any],
    round_: int,
    files: list[dict[str, Any]],
    note: str,
    user_id: str,
    *,
    view_id: str | None = None,
) -> str:
    """Download and send the claimed sending; returns the outcome's state (for the log and tests)."""
    sent: list[dict[str, Any]] | None = None
    detail: Later | str | None
    try:
        fetched = await fetch_all(services, client, files)
        sent = [summary(f) for f in fetched]
        status = await _submit(services, todo, fetched, note)
    except FileRefused as exc:
        state, detail = submissions.FAILED, exc.reason
    except OutcomeUnknown:
        state, detail = submissions.UNKNOWN, None
    except WhaletError as exc:
        state, detail = submissions.REFUSED, later("Whalet refused them: %(why)s", why=sentence_of(exc))
    except Exception:  # the person must hear something; the traceback goes to the log
        log.exception("sending documents for %s failed", todo["replenish_id"])
        state, detail = submissions.FAILED, later("something went wrong on our side (it is logged).")
    else:
        state, detail = submissions.ACCEPTED, status

    def reply(locale: str | None) -> Rendered:
        if state == submissions.ACCEPTED:
            return views.answer_reply(sent or [], status, locale)
        if state == submissions.UNKNOWN:
            return views.unknown_reply(user_id, locale)
        return views.not_sent_reply(user_id, detail or "", locale)

    recorded = "no answer" if state == submissions.UNKNOWN else (None if detail is None else str(detail))
    record(services, todo, round_, state, recorded, sent, reply, user_id)
    if view_id:
        locale = services.locales.cached(user_id)  # the person who sent them: asked when they opened the form
        await _show(client, view_id, reply(locale).text, locale)
    return state


def record(
    services: Services,
    todo: dict[str, Any],
    round_: int,
    state: str,
    detail: str | None,
    sent: list[dict[str, Any]] | None,
    reply: Rendered | Callable[[str | None], Rendered],
    user_id: str,
) -> None:
    """The outcome, the card and the thread reply in one transaction (``reply`` may be a function
    of the locale: it is written in the card's channel's language)."""
    replenish_id = todo["replenish_id"]
    with services.store.transaction() as db:
        now = services.clock.now()
        current = submissions.finish(db, replenish_id, round_, state, detail, sent, now) or todo
        locale = services.locales.channel(current.get("card_channel"))
        card = cards.card(current, {u.id: u.name for u in services.config.whalet.users}, locale)
        enqueue_update(db, ref=cards.ref(replenish_id), text=card.text, blocks=card.blocks)
        if current.get("card_channel"):
            said = reply(locale) if callable(reply) else reply
            enqueue_post(
                db,
                channel=current["card_channel"],
                text=said.text,
                blocks=said.blocks,
                thread_ref=cards.ref(replenish_id),
                kind="replenish_reply",
            )
        services.store.audit(
            db,
            user_id,
            f"replenish_submit_{state}",
            f"replenish:{replenish_id}",
            detail={"detail": detail, "files": sent},
        )
    services.wake_outbox()


async def _show(client: AsyncWebClient, view_id: str, text: str, locale: str | None = None) -> None:
    """The modal, if still open, says how it ended (the thread says it anyway)."""
    title = translator(locale).gettext("Submit documents")
    try:
        await client.views_update(view_id=view_id, view=views.message_view(title, text, locale))
    except Exception:  # noqa: BLE001 - closed or replaced by the person: nothing to show it in
        log.info("the documents modal %s could not be updated", view_id)
