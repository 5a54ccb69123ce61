"""Submit documents: a replenish to-do answered from Slack with eddReplenishSubmit / tradeReplenishSubmit.

The button opens a modal (what Whalet asked for, a file input, a note). Slack wants a
view_submission answered within 3 s and the files plus Whalet can take longer, so the
submission is checked and CLAIMED first (role, file count and sizes as Slack reports them, one
sending per to-do and per modal: ``core.storage.replenish_submissions``), answered with a
"Sending…" view, and only then are the files downloaded and sent (``sending.py``). Everything
the to-do's channel learns (who sent what, Whalet's answer, later its decision) is in the card's
thread, written in the same transaction as the state it reports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import translator
from core.storage import replenish
from core.storage import replenish_submissions as submissions
from notifications import render_documents as views
from notifications import render_replenish as cards
from notifications.sending import send_documents
from notifications.todos import SENDING, role_refusal, tell
from services.documents import picked_files, size_refusal
from services.slack.modal_forms import recall, stash
from services.slack.queue import enqueue_post, enqueue_update

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.documents")


def claim_refusal(todo: dict[str, Any] | None, locale: str | None = None) -> str:
    """Why no sending was claimed (``submissions.Claim.reason``), in the person's language."""
    _ = translator(locale).gettext
    if todo is None:
        return _("This documents request is not known to the bot.")
    if todo["state"] == replenish.CLOSED:
        return _("This request is already closed (%(result)s).", result=todo["result"] or _("done"))
    if todo["docs"] == "SENDING":
        return _("<@%(user)s> is sending documents for this request right now.", user=todo["docs_by"])
    if todo["docs"] == "SUBMITTED":
        return _("<@%(user)s> already sent documents; Whalet has not decided yet.", user=todo["docs_by"])
    return _("These documents were already sent from this form.")


def _why_not(todo: dict[str, Any] | None, locale: str | None = None) -> str | None:
    """Why this to-do takes no documents now, or None."""
    if todo is None or todo["state"] == replenish.CLOSED or todo.get("docs") in ("SENDING", "SUBMITTED"):
        return claim_refusal(todo, locale)
    if not todo.get("user_id"):
        return translator(locale).gettext(
            "Whalet did not say which of its users this request is for, so the bot cannot answer it."
        )
    return None


async def on_submit_click(
    services: Services, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> None:
    user_id, replenish_id = body["user"]["id"], str(body["actions"][0]["value"])
    locale = await services.locales.locale_of(user_id)
    text = await role_refusal(services, user_id, SENDING, locale)
    if text is None:
        with services.store.read() as db:
            todo = replenish.get(db, replenish_id)
        text = _why_not(todo, locale)
    if text is not None or todo is None:
        await tell(body, respond, client, text or "")
        return
    form_id = stash(services.store, {"replenish_id": replenish_id})
    await client.views_open(trigger_id=body["trigger_id"], view=views.submit_modal(todo, form_id, locale))


def _form(view: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    state = (view.get("state") or {}).get("values") or {}
    files = picked_files(next(iter((state.get(views.FILES_BLOCK) or {}).values()), {}))
    typed: dict[str, Any] = next(iter((state.get(views.NOTE_BLOCK) or {}).values()), {})
    note = str(typed.get("value") or "").strip()
    return files, note[:500]


def claim(
    services: Services, replenish_id: str, form_id: str, user_id: str, files: list[Any], note: str
) -> submissions.Claim:
    """The one sending of this to-do, its card and the "is sending" reply: one transaction."""
    picked = [{"id": f["id"], "name": f.get("name"), "size": f.get("size")} for f in files]
    with services.store.transaction() as db:
        won = submissions.claim(db, replenish_id, form_id, user_id, note, picked, services.clock.now())
        if won.round is not None and won.todo is not None:
            todo = won.todo
            locale = services.locales.channel(todo.get("card_channel"))
            card = cards.card(todo, {u.id: u.name for u in services.config.whalet.users}, locale)
            enqueue_update(db, ref=cards.ref(replenish_id), text=card.text, blocks=card.blocks)
            if todo.get("card_channel"):
                reply = views.sending_reply(user_id, picked, note, locale)
                enqueue_post(
                    db,
                    channel=todo["card_channel"],
                    text=reply.text,
                    blocks=reply.blocks,
                    thread_ref=cards.ref(replenish_id),
                    kind="replenish_reply",
                )
            services.store.audit(db, user_id, "replenish_submit", f"replenish:{replenish_id}", detail={"files": picked})
    if won.round is not None:
        services.wake_outbox()
    return won


async def on_submission(services: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    user_id, view = body["user"]["id"], body["view"]
    replenish_id = str(recall(services.store, view).get("replenish_id") or "")
    files, note = _form(view)
    locale = services.locales.cached(user_id)  # asked when they opened the form
    t = translator(locale)
    problem = await role_refusal(services, user_id, SENDING, locale)
    problem = problem or (t.gettext("Pick at least one file.") if not files else size_refusal(files, locale=locale))
    won: submissions.Claim | None = None
    if problem is None:
        won = claim(services, replenish_id, str(view.get("private_metadata") or ""), user_id, files, note)
        problem = None if won.round is not None else claim_refusal(won.todo, locale)
    if problem is not None or won is None or won.todo is None or won.round is None:
        unknown = t.gettext("This request is not known.")
        await ack(response_action="errors", errors={views.FILES_BLOCK: problem or unknown})
        return
    sending = t.ngettext(
        "📤 Sending %(n)s file to Whalet… The answer will be in the to-do's thread.",
        "📤 Sending %(n)s files to Whalet… The answer will be in the to-do's thread.",
        len(files),
    )
    await ack(response_action="update", view=views.message_view(t.gettext("Submit documents"), sending, locale))
    await send_documents(services, client, won.todo, won.round, files, note, user_id, view_id=view.get("id"))


def register_actions(app: AsyncApp, services: Services) -> None:
    @app.action(views.SUBMIT_ACTION)
    async def submit_clicked(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        await on_submit_click(services, body, respond, client)

    @app.view(views.SUBMIT_VIEW)
    async def submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await on_submission(services, ack, body, client)
