"""Bind trade order: the button on a B2B collection, its modal, and the replies in its thread.

The button's value carries what the modal is prefilled with (collection, Whalet user, amount,
currency, payer) as compact JSON; nothing in it is trusted for access (the role is checked at
click and at submission) and Whalet checks the collection belongs to the user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.i18n import Later, Translator, translator
from notifications.formatting import status_word
from notifications.render_documents import file_input, modal
from notifications.rendered import Rendered
from services.slack.blocks import BUTTON_VALUE, Block, actions, button, context, esc, plain, section
from whalet.masking import mask_digit_runs
from whalet.money import Money

BIND_ACTION = "collection_bind_trade_order"
BIND_VIEW = "trade_order_bind_modal"
ORDER_BLOCK, AMOUNT_BLOCK, CURRENCY_BLOCK, BUYER_BLOCK, CONTRACT_BLOCK = (
    "trade_order_no",
    "amount",
    "currency",
    "buyer",
    "contract",
)


def bind_button(collection_id: str, user_id: str, amount: Money, payer: str, t: Translator | None = None) -> Block:
    exact = amount.quantized().amount  # in the currency's minor digits: 1200.50 USD, 5000 JPY
    value = {"c": collection_id, "u": user_id, "a": str(exact), "cur": amount.currency, "p": payer[:140]}
    label = (t or translator("en")).gettext("Bind trade order")
    return actions(button(label, BIND_ACTION, json.dumps(value, ensure_ascii=False)[:BUTTON_VALUE]))


def clicked(value: str) -> dict[str, str]:
    """The button's value read back; {} when it is not ours."""
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) and data.get("c") and data.get("u") else {}


def _text(block_id: str, label: str, initial: str = "", max_length: int = 64, hint: str = "") -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def bind_modal(collection: Mapping[str, str], form_id: str, locale: str | None = None) -> dict[str, Any]:
    """The form, in the language of the person who clicked (``locale``)."""
    _ = translator(locale).gettext
    blocks = [
        section(
            _(
                "Bind a trade order to collection `%(collection)s` (%(amount)s %(currency)s).",
                collection=esc(collection["c"]),
                amount=esc(collection["a"]),
                currency=esc(collection["cur"]),
            )
        ),
        _text(ORDER_BLOCK, _("Trade order number"), hint=_("The order or invoice number the buyer paid.")),
        _text(AMOUNT_BLOCK, _("Amount"), collection.get("a", ""), max_length=20),
        _text(CURRENCY_BLOCK, _("Currency"), collection.get("cur", ""), max_length=3),
        _text(BUYER_BLOCK, _("Buyer"), collection.get("p", ""), max_length=140),
        file_input(CONTRACT_BLOCK, _("Contract (optional)"), 1, optional=True, hint=_("One file, at most 10 MB.")),
    ]
    return modal(BIND_VIEW, _("Bind trade order"), blocks, form_id, _("Send to Whalet"), locale=locale)


def asked_reply(
    user_id: str, order_no: str, amount: Money, buyer: str, contract: str | None, locale: str | None = None
) -> Rendered:
    t = translator(locale)
    text = t.gettext(
        "🔗 <@%(user)s> asked Whalet to bind trade order `%(order)s` (%(amount)s, buyer %(buyer)s).",
        user=user_id,
        order=esc(order_no),
        amount=t.amount(amount),
        buyer=esc(buyer),
    )
    blocks = [section(text)] + ([context(t.gettext("Contract: %(file)s", file=esc(contract)))] if contract else [])
    return Rendered(text, blocks)


def answer_reply(order_no: str, state: str, detail: Later | str | None, locale: str | None = None) -> Rendered:
    """Whalet's answer in the collection's thread; ``detail`` a status, or why it was not bound."""
    t = translator(locale)
    order = esc(order_no)
    if state == "accepted":
        text = t.gettext(
            "📨 Whalet received the binding of `%(order)s` (%(status)s); its decision will follow here.",
            order=order,
            status=status_word(t.text(detail) if detail else "PROCESSING", t),
        )
    elif state == "unknown":
        text = t.gettext(
            "⚠️ Whalet did not answer the binding of `%(order)s`; if no decision follows here, bind it again.",
            order=order,
        )
    else:
        why = t.text(detail) if detail else t.gettext("unknown error")
        text = t.gettext("⚠️ Trade order `%(order)s` was not bound: %(why)s", order=order, why=esc(mask_digit_runs(why)))
    return Rendered(text, [section(text)])
