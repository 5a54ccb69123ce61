"""Modal views: the payout form, the reject reason, the beneficiary forms, and a loading view.

Built with slack_sdk's view models so the SDK checks Slack's limits (title 24 chars, 100
blocks, private_metadata 3000 chars, option text 75 / value 150). A view_submission has no
response_url and no channel, so the context a submission needs (origin channel, request id, the
card's fingerprint, a form's validation rules) is stored server-side with ``stash`` and the
modal's ``private_metadata`` carries only that row's id; ``recall`` reads it back (both in
``services.slack.modal_forms``, shared with the notifications' modals). However many
fields Whalet's form has, the metadata never nears Slack's 3,000 characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from services.slack.modal_forms import recall, stash  # noqa: F401  (used by the modal handlers through here)
from services.slack.blocks import MAX_MODAL_BLOCKS, OPTION_TEXT, OPTION_VALUE, cut, esc, finish, section
from services.book import BookEntry
from core.i18n import translator
from whalet.masking import mask

PAYOUT_VIEW = "payout_modal"
REJECT_VIEW = "approval_reject_modal"
BENEFICIARY_PICK_VIEW = "beneficiary_pick_modal"
BENEFICIARY_FORM_VIEW = "beneficiary_form_modal"
BENEFICIARY_SEARCH = "beneficiary_search"  # the payout form's external select, for books over MAX_OPTIONS
MAX_OPTIONS = 100


def values(view: dict[str, Any]) -> dict[str, str]:
    """{block_id: submitted value} for text inputs and selects (first action of each block)."""
    out: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for state in actions.values():
            option = state.get("selected_option")
            value = option.get("value") if isinstance(option, dict) else state.get("value")
            out[block_id] = (value or "").strip()
            break
    return out


def _option(text: str, value: str) -> Option:
    return Option(text=PlainTextObject(text=cut(text, OPTION_TEXT)), value=value[:OPTION_VALUE])


def _text_input(
    block_id: str,
    label: str,
    *,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
    max_length: int | None = None,
    multiline: bool = False,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=cut(label, 2000)),
        optional=optional,
        hint=PlainTextObject(text=cut(hint, 2000)) if hint else None,
        element=PlainTextInputElement(
            action_id="value",
            max_length=max_length,
            multiline=multiline,
            placeholder=PlainTextObject(text=cut(placeholder, 150)) if placeholder else None,
        ),
    )


def form_view(
    callback_id: str,
    title: str,
    blocks: Sequence[Any],
    form_id: str,
    submit: str | None,
    locale: str | None = None,
) -> dict[str, Any]:
    """A modal in ``locale`` (the person who opens it): ``title`` and ``submit`` come translated."""
    view = View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=cut(title, 24)),
        submit=PlainTextObject(text=cut(submit, 24)) if submit else None,
        close=PlainTextObject(text=cut(translator(locale).gettext("Cancel"), 24)),
        private_metadata=form_id,
        blocks=finish(blocks, MAX_MODAL_BLOCKS, what="fields"),
    )
    return view.to_dict()


def _beneficiary_option(e: BookEntry) -> Option:
    return _option(f"{e.nickname} — {e.name} ({mask(e.account_tail)}, {e.currency})", e.id)


def beneficiary_options(entries: Sequence[BookEntry], query: str) -> list[dict[str, Any]]:
    """The book entries whose nickname, name, id, country or currency contain ``query`` (any case),
    at most Slack's 100, as the options answer of an external select."""
    words = query.casefold().split()
    found = [
        e
        for e in entries
        if all(any(w in str(f).casefold() for f in (e.nickname, e.name, e.id, e.country, e.currency)) for w in words)
    ]
    return [_beneficiary_option(e).to_dict() for e in found[:MAX_OPTIONS]]


def payout_modal(entries: Sequence[BookEntry], form_id: str, locale: str | None = None) -> dict[str, Any]:
    """Up to 100 beneficiaries in a plain menu; beyond that (Slack's cap on a static menu) a search
    that asks the bot (``beneficiary_options``), so no entry of a large book is out of reach.
    Labels, hints and errors in ``locale``, the language of the person who opened it."""
    _ = translator(locale).gettext
    placeholder = PlainTextObject(text=cut(_("Choose from the book"), 150))
    element: StaticSelectElement | ExternalDataSelectElement = (
        StaticSelectElement(
            action_id="value", options=[_beneficiary_option(e) for e in entries], placeholder=placeholder
        )
        if len(entries) <= MAX_OPTIONS
        else ExternalDataSelectElement(
            action_id=BENEFICIARY_SEARCH,
            min_query_length=0,
            placeholder=PlainTextObject(text=cut(_("Type a nickname, name or currency"), 150)),
        )
    )
    blocks = [
        InputBlock(
            block_id="beneficiary",
            label=PlainTextObject(text=_("Beneficiary")),
            element=element,
            hint=PlainTextObject(text=_("%(count)s in the book: type to search.", count=len(entries)))
            if len(entries) > MAX_OPTIONS
            else None,
        ),
        _text_input("amount", _("Amount"), placeholder="1200.50", max_length=20),
        _text_input("currency", _("Currency (paid from)"), placeholder="USD", max_length=3),
        _text_input(
            "to_currency",
            _("Currency the beneficiary receives"),
            optional=True,
            hint=_("Leave empty for the beneficiary's own currency."),
            max_length=3,
        ),
        _text_input("purpose", _("Purpose"), optional=True, max_length=128),
        _text_input("reference", _("Reference"), optional=True, max_length=64),
    ]
    return form_view(PAYOUT_VIEW, _("Request a payout"), blocks, form_id, _("Send for approval"), locale)


def reject_modal(headline: str, form_id: str, locale: str | None = None) -> dict[str, Any]:
    """``headline`` is mrkdwn with people's text already escaped (cards.headline), in ``locale``."""
    _ = translator(locale).gettext
    blocks = [
        section(_("*Reject:* %(headline)s", headline=headline)),
        _text_input(
            "reason",
            _("Reason (optional)"),
            optional=True,
            multiline=True,
            max_length=500,
            hint=_("Shown on the card and to the requester."),
        ),
    ]
    return form_view(REJECT_VIEW, _("Reject request"), blocks, form_id, _("Reject"), locale)


def loading_modal(title: str, text: str | None = None, locale: str | None = None) -> dict[str, Any]:
    """``title`` (and ``text``) already in ``locale``; the default text is "Asking Whalet…"."""
    shown = text if text is not None else translator(locale).gettext("Asking Whalet…")
    return form_view("loading", title, [section(shown)], "", None, locale)


def message_modal(title: str, text: str, locale: str | None = None) -> dict[str, Any]:
    return form_view("message", title, [section(text)], "", None, locale)


def beneficiary_pick_modal(pairs: Sequence[tuple[str, str]], form_id: str, locale: str | None = None) -> dict[str, Any]:
    _ = translator(locale).gettext
    options = [_option(f"{country} — {currency}", f"{country}:{currency}") for country, currency in pairs[:MAX_OPTIONS]]
    blocks = [
        InputBlock(
            block_id="where",
            label=PlainTextObject(text=_("Country and currency")),
            element=StaticSelectElement(action_id="value", options=options),
        )
    ]
    return form_view(BENEFICIARY_PICK_VIEW, _("Add a beneficiary"), blocks, form_id, _("Next"), locale)


def beneficiary_form_modal(
    country: str, currency: str, fields: Sequence[Any], form_id: str, locale: str | None = None
) -> dict[str, Any]:
    """The form Whalet's queryBeneficiaryFields describes, plus the nickname our book needs. The
    fields' labels are Whalet's own; what the bot adds is in ``locale``."""
    _ = translator(locale).gettext
    blocks: list[Any] = [
        section(
            _(
                "New beneficiary in *%(country)s*, receiving *%(currency)s*.",
                country=esc(country),
                currency=esc(currency),
            )
        ),
        _text_input(
            "nickname",
            _("Nickname in the bot's book"),
            placeholder="acme-hk",
            max_length=40,
            hint=_("Lowercase letters, digits and dashes; used as `/whalet payout … to NICKNAME`."),
        ),
    ]
    for field in fields:
        block_id = f"f_{field.name}"
        if field.options:
            opts = [_option(str(o), str(o)) for o in field.options[:MAX_OPTIONS]]
            blocks.append(
                InputBlock(
                    block_id=block_id,
                    label=PlainTextObject(text=cut(field.label, 2000)),
                    optional=not field.required,
                    element=StaticSelectElement(action_id="value", options=opts),
                )
            )
        else:
            blocks.append(
                _text_input(
                    block_id,
                    field.label,
                    optional=not field.required,
                    max_length=field.max_length,
                    hint=_("Format: %(pattern)s", pattern=field.pattern) if field.pattern else None,
                )
            )
    return form_view(BENEFICIARY_FORM_VIEW, _("Add a beneficiary"), blocks, form_id, _("Send to Whalet"), locale)
