"""The work behind a Bind trade order submission: check the form, claim, call Whalet, record.

Money is read as a Decimal in the currency's digits (``whalet.money``: "1200.5" USD is fine,
"12.5" JPY is refused in a sentence), never through a float. The claim and the "asked" reply are
one transaction, the answer and its reply another; the contract file (optional) is read from
Slack between the two and sent in the ``[whalet] replenish_materials`` encoding.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import Later, Translator, later, translator
from core.storage import trade_orders
from notifications import render_trade as views
from notifications.sending import fetch_all
from services.documents import encode, picked_files, size_refusal, summary
from services.slack.blocks import visible_line
from services.slack.files import FileRefused
from services.slack.queue import enqueue_post
from services.whalet_words import sentence_of
from whalet.errors import OutcomeUnknown, WhaletError
from whalet.money import Money, MoneyError, to_decimal, validate_currency

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.trade_orders")


@dataclass(frozen=True)
class BindForm:
    trade_order_no: str
    amount: Money
    buyer: str
    contract: list[dict[str, Any]]


def _values(view: dict[str, Any]) -> dict[str, Any]:
    state = (view.get("state") or {}).get("values") or {}
    return {block: next(iter(actions.values()), {}) for block, actions in state.items() if actions}


def _amount(text: str, currency: str, t: Translator | None = None) -> Money:
    """Strict: a number in the currency's digits, above zero (a thousands comma is allowed)."""
    _ = (t or translator("en")).gettext
    try:
        amount = Money(to_decimal(text.replace(",", "")), currency)
    except MoneyError:
        raise MoneyError(_("'%(text)s' is not an amount; write it like 1200.50.", text=text)) from None
    if amount.amount <= 0:
        raise MoneyError(_("The amount must be above zero."))
    if not amount.fits_currency():
        raise MoneyError(
            _(
                "%(currency)s takes at most %(digits)s decimal places; '%(text)s' has more.",
                currency=currency,
                digits=amount.digits,
                text=text,
            )
        )
    return amount


def check_form(view: dict[str, Any], locale: str | None = None) -> tuple[BindForm | None, dict[str, str]]:
    """The form read strictly, or {block_id: sentence} for Slack to show under each field, in the
    language of the person who filled it in (``locale``)."""
    t = translator(locale)
    _ = t.gettext
    values = _values(view)
    text = {block: visible_line((values.get(block) or {}).get("value")).strip() for block in values}
    errors: dict[str, str] = {}
    order_no, buyer = text.get(views.ORDER_BLOCK, ""), text.get(views.BUYER_BLOCK, "")
    if not order_no:
        errors[views.ORDER_BLOCK] = _("Give the trade order number.")
    if not buyer:
        errors[views.BUYER_BLOCK] = _("Give the buyer's name.")
    amount = None
    try:
        currency = validate_currency(text.get(views.CURRENCY_BLOCK, ""))
    except MoneyError as exc:
        errors[views.CURRENCY_BLOCK] = str(exc)
    else:
        try:
            amount = _amount(text.get(views.AMOUNT_BLOCK, ""), currency, t)
        except MoneyError as exc:
            errors[views.AMOUNT_BLOCK] = str(exc)
    contract = picked_files(values.get(views.CONTRACT_BLOCK) or {})
    if (problem := size_refusal(contract, max_files=1, locale=locale)) is not None:
        errors[views.CONTRACT_BLOCK] = problem
    if errors or amount is None:
        return None, errors
    return BindForm(order_no[:64], amount, buyer[:140], contract), {}


def claim(services: Services, meta: dict[str, Any], form: BindForm, form_id: str, user_id: str) -> int | None:
    """The binding's row and the "asked" reply in the collection's thread, or None (taken)."""
    collection = meta["collection"]
    binding = {
        "form_id": form_id,
        "collection_id": collection["c"],
        "user_id": collection["u"],
        "trade_order_no": form.trade_order_no,
        "amount": form.amount.amount,
        "currency": form.amount.currency,
        "buyer_name": form.buyer,
        "requested_by": user_id,
        "channel": meta.get("channel") or "",
    }
    with services.store.transaction() as db:
        row_id = trade_orders.claim(db, binding, services.clock.now())
        if row_id is not None:
            contract = form.contract[0].get("name") if form.contract else None
            locale = services.locales.channel(binding["channel"])
            asked = views.asked_reply(user_id, form.trade_order_no, form.amount, form.buyer, contract, locale)
            _reply(db, binding, asked)
            services.store.audit(
                db,
                user_id,
                "trade_order_bind",
                f"collection:{collection['c']}",
                detail=binding | {"amount": str(form.amount.amount)},
            )
    if row_id is not None:
        services.wake_outbox()
    return row_id


def _reply(db: Any, binding: dict[str, Any], reply: Any) -> None:
    if binding["channel"]:
        enqueue_post(
            db,
            channel=binding["channel"],
            text=reply.text,
            blocks=reply.blocks,
            thread_ref=("collection", binding["collection_id"]),
            kind="collection_reply",
        )


async def bind(
    services: Services, client: AsyncWebClient, meta: dict[str, Any], form: BindForm, row_id: int, user_id: str
) -> str:
    """Read the contract, call tradeOrderBindApply, record the answer; returns its state."""
    collection, bind_id, contract = meta["collection"], None, None
    detail: Later | str | None
    try:
        fetched = await fetch_all(services, client, form.contract)
        contract = summary(fetched[0]) if fetched else None
        encoded = encode(fetched, services.config.whalet.replenish_materials) if fetched else None
        result = await services.whalet.trade_order_bind_apply(
            collection["u"], collection["c"], form.trade_order_no, form.amount, form.buyer, encoded
        )
        state, detail, bind_id = trade_orders.ACCEPTED, result.status, result.bind_id
    except FileRefused as exc:
        state, detail = trade_orders.FAILED, exc.reason
    except OutcomeUnknown:
        state, detail = trade_orders.UNKNOWN, None
    except WhaletError as exc:
        state, detail = trade_orders.REFUSED, later("Whalet refused it: %(why)s", why=sentence_of(exc))
    except Exception:  # the person must hear something; the traceback goes to the log
        log.exception("binding trade order %s failed", form.trade_order_no)
        state, detail = trade_orders.FAILED, later("something went wrong on our side (it is logged).")
    recorded = None if detail is None else str(detail)  # the record keeps the English
    with services.store.transaction() as db:
        trade_orders.finish(
            db, row_id, state, bind_id=bind_id, detail=recorded, contract=contract, now=services.clock.now()
        )
        _reply(
            db,
            {"channel": meta.get("channel"), "collection_id": collection["c"]},
            views.answer_reply(form.trade_order_no, state, detail, services.locales.channel(meta.get("channel"))),
        )
    services.wake_outbox()
    return state
