"""Bind trade order: the button on a B2B collection, its modal, and the replies in its thread.

The button's value carries what the modal is prefilled with (collection, Whalet user, amount,
currency, payer) as compact JSON; nothing in it is trusted for access (the role is checked at
click and at submission) and Whalet checks the collection belongs to the user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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


def bind_button(collection_id: str, user_id: str, amount: Money, payer: str) -> Block:
    exact = amount.quantized().amount  # in the currency's minor digits: 1200.50 USD, 5000 JPY
    value = {"c": collection_id, "u": user_id, "a": str(exact), "cur": amount.currency, "p": payer[:140]}
    return actions(button("Bind trade order", BIND_ACTION, json.dumps(value, ensure_ascii=False)[:BUTTON_VALUE]))


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


def bind_modal(collection: Mapping[str, str], form_id: str) -> dict[str, Any]:
    blocks = [
        section(
            f"Bind a trade order to collection `{esc(collection['c'])}` ({esc(collection['a'])} {esc(collection['cur'])})."
        ),
        _text(ORDER_BLOCK, "Trade order number", hint="The order or invoice number the buyer paid."),
        _text(AMOUNT_BLOCK, "Amount", collection.get("a", ""), max_length=20),
        _text(CURRENCY_BLOCK, "Currency", collection.get("cur", ""), max_length=3),
        _text(BUYER_BLOCK, "Buyer", collection.get("p", ""), max_length=140),
        file_input(CONTRACT_BLOCK, "Contract (optional)", 1, optional=True, hint="One file, at most 10 MB."),
    ]
    return modal(BIND_VIEW, "Bind trade order", blocks, form_id, "Send to Whalet")


def asked_reply(user_id: str, order_no: str, amount: Money, buyer: str, contract: str | None) -> Rendered:
    text = (
        f"🔗 <@{user_id}> asked Whalet to bind trade order `{esc(order_no)}` ({amount.format()}, buyer {esc(buyer)})."
    )
    blocks = [section(text)] + ([context(f"Contract: {esc(contract)}")] if contract else [])
    return Rendered(text, blocks)


def answer_reply(order_no: str, state: str, detail: str | None) -> Rendered:
    if state == "accepted":
        text = f"📨 Whalet received the binding of `{esc(order_no)}` ({esc(detail or 'PROCESSING')}); its decision will follow here."
    elif state == "unknown":
        text = f"⚠️ Whalet did not answer the binding of `{esc(order_no)}`; if no decision follows here, bind it again."
    else:
        text = f"⚠️ Trade order `{esc(order_no)}` was not bound: {esc(mask_digit_runs(detail or 'unknown error'))}"
    return Rendered(text, [section(text)])
