"""One purposeful Slack message per kind of Whalet notification, and a generic one for the rest.

Pure functions from a notification to ``Rendered`` (fallback text + Block Kit). The typed models
of ``whalet.models`` read the body; a body that does not fit its model (Whalet changed a field)
falls back to the generic rendering instead of being lost. Account and card numbers never
appear in full: named fields are masked, and the generic rendering masks anything that looks
like one. Replenish to-do cards live in ``render_replenish``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from core.i18n import N_, Translator, translator
from notifications.formatting import money_text, status_icon, status_word, when_text
from notifications.kinds import NotificationKind, kind_of, renders
from notifications.render_trade import bind_button
from notifications.rendered import Rendered
from services.slack.blocks import cap, context, cut, esc, fields, header, section
from whalet import models
from whalet.envelope import dumps_compact
from whalet.masking import mask, mask_digit_runs
from whalet.money import Money


def user_label(users: Mapping[str, str], user_id: Any) -> str:
    name = users.get(str(user_id))
    return f"{esc(name)} (`{esc(user_id)}`)" if name else f"`{esc(user_id)}`"


# --- known notifications -------------------------------------------------------------------------


@renders("collectionReceivedNotify", business_id=("collectionId",))
def collection(
    kind: NotificationKind, n: models.CollectionReceived, users: Mapping[str, str], t: Translator
) -> Rendered:
    _ = t.gettext
    amount = t.amount(n.amount)
    payer = esc(n.payer_name) + (f" ({mask(n.payer_account)})" if n.payer_account else "")
    blocks = [
        header(_("💰 Money received: %(amount)s", amount=amount)),
        *fields(
            [
                (_("Amount"), f"*{amount}*"),
                (_("From"), payer),
                (_("Into account"), mask(n.virtual_account_no)),
                (_("Fund source"), esc(n.fund_source)),
                (_("Whalet user"), user_label(users, n.user_id)),
                (_("Received"), when_text(n.received_time)),
            ]
        ),
        context(
            _(
                "Collection `%(collection)s` · status %(status)s",
                collection=esc(n.collection_id),
                status=status_word(n.status, t),
            )
        ),
    ]
    where = {"amount": amount, "payer": esc(n.payer_name), "account": mask(n.virtual_account_no)}
    text = _("Money received: %(amount)s from %(payer)s into %(account)s", **where)
    if n.fund_source.upper() == "B2B":  # a trade order may be bound to it: a button, so never folded
        blocks.append(bind_button(n.collection_id, n.user_id, n.amount, n.payer_name, t))
        return Rendered(text, blocks)
    return Rendered(text, blocks, fold_line=_("%(amount)s from %(payer)s into %(account)s", **where))


# (payout?, Whalet's status) -> title, fallback text; any other status: the last entry of each
_TRANSFER = {
    (True, "SUCCESS"): (
        N_("%(icon)s Payout completed: %(amount)s"),
        N_("Payout completed: %(amount)s (order %(order)s)"),
    ),
    (True, "FAIL"): (N_("%(icon)s Payout failed: %(amount)s"), N_("Payout failed: %(amount)s (order %(order)s)")),
    (True, ""): (N_("%(icon)s Payout %(status)s: %(amount)s"), N_("Payout %(status)s: %(amount)s (order %(order)s)")),
    (False, "SUCCESS"): (
        N_("%(icon)s Payment completed: %(amount)s"),
        N_("Payment completed: %(amount)s (order %(order)s)"),
    ),
    (False, "FAIL"): (N_("%(icon)s Payment failed: %(amount)s"), N_("Payment failed: %(amount)s (order %(order)s)")),
    (False, ""): (
        N_("%(icon)s Payment %(status)s: %(amount)s"),
        N_("Payment %(status)s: %(amount)s (order %(order)s)"),
    ),
}


@renders("payoutResultNotify", business_id=("payoutId", "merOrderNo"))
@renders("payResultNotify", business_id=("payId", "merOrderNo"))
def transfer_result(
    kind: NotificationKind, n: models.PayoutResult | models.PayResult, users: Mapping[str, str], t: Translator
) -> Rendered:
    """payoutResultNotify / payResultNotify: the final outcome, shown under the approval card."""
    _ = t.gettext
    payout = isinstance(n, models.PayoutResult)
    status = n.status.upper()
    title, line = _TRANSFER.get((payout, status)) or _TRANSFER[(payout, "")]
    values = {
        "icon": status_icon(n.status),
        "amount": t.amount(n.amount),
        "status": status_word(n.status, t).lower(),
        "order": esc(n.mer_order_no),
    }
    pairs = [(_("Amount"), t.amount(n.amount)), (_("Fee"), t.amount(n.fee))]
    if isinstance(n, models.PayoutResult):
        pairs.append((_("Beneficiary gets"), t.amount(n.to_amount)))
    pairs += [
        (_("Order"), f"`{esc(n.mer_order_no)}`"),
        (_("Whalet user"), user_label(users, n.user_id)),
        (_("Finished"), when_text(n.finish_time)),
    ]
    if n.fail_reason:
        pairs.append((_("Reason"), esc(mask_digit_runs(n.fail_reason))))
    if isinstance(n, models.PayoutResult):
        ident = _("Payout id `%(id)s` · status %(status)s", id=esc(n.payout_id), status=status_word(n.status, t))
    else:
        ident = _("Payment id `%(id)s` · status %(status)s", id=esc(n.pay_id), status=status_word(n.status, t))
    blocks = [header(t.gettext(title, **values)), *fields(pairs), context(ident)]
    return Rendered(t.gettext(line, **values), blocks)


_BENEFICIARY = {
    "SUCCESS": (N_("%(icon)s Beneficiary approved"), N_("Beneficiary %(beneficiary)s approved")),
    "FAIL": (N_("%(icon)s Beneficiary refused"), N_("Beneficiary %(beneficiary)s refused")),
    "": (N_("%(icon)s Beneficiary %(status)s"), N_("Beneficiary %(beneficiary)s %(status)s")),
}


@renders("beneficiaryResultNotify", business_id=("beneficiaryId", "merBeneficiaryNo"))
def beneficiary_result(
    kind: NotificationKind, n: models.BeneficiaryResult, users: Mapping[str, str], t: Translator
) -> Rendered:
    _ = t.gettext
    title, line = _BENEFICIARY.get(n.status.upper()) or _BENEFICIARY[""]
    values = {
        "icon": status_icon(n.status),
        "status": status_word(n.status, t).lower(),
        "beneficiary": esc(n.mer_beneficiary_no),
    }
    pairs = [
        (_("Beneficiary"), f"`{esc(n.mer_beneficiary_no)}`"),
        (_("Whalet id"), f"`{esc(n.beneficiary_id)}`"),
        (_("Whalet user"), user_label(users, n.user_id)),
        (_("Status"), status_word(n.status, t)),
    ]
    if n.fail_reason:
        pairs.append((_("Reason"), esc(mask_digit_runs(n.fail_reason))))
    return Rendered(t.gettext(line, **values), [header(t.gettext(title, **values)), *fields(pairs)])


@renders("userOnboardingResultNotify", business_id=("onboardingId", "applyId"), title=N_("Onboarding review"))
@renders("userHolderResultNotify", business_id=("holderId", "applyId"), title=N_("Account holder review"))
@renders("virtualAccountNotify", business_id=("virtualAccountNo", "accountId"), title=N_("Virtual account"))
@renders("cardCancelResultNotify", business_id=("cardId", "cardNo"), title=N_("Card cancellation"))
@renders("shopBindResultNotify", business_id=("shopId", "bindId"), title=N_("Shop binding"))
@renders("tradeOrderBindNotify", business_id=("tradeOrderNo", "tradeId", "orderId"), title=N_("Trade order binding"))
def review_result(kind: NotificationKind, n: models.ReviewResult, users: Mapping[str, str], t: Translator) -> Rendered:
    """Onboarding, holder, virtual-account, card, shop and trade-order outcomes: one shape."""
    _ = t.gettext
    title = _(kind.title) if kind.title else kind.operation
    status = status_word(n.status, t)
    pairs = [(_("Whalet user"), user_label(users, n.user_id)), (_("Status"), f"{status_icon(n.status)} {status}")]
    if n.remark:
        pairs.append((_("Remark"), esc(mask_digit_runs(n.remark))))
    pairs += generic_pairs(n.model_extra or {}, t)
    heading = _("%(icon)s %(title)s: %(status)s", icon=status_icon(n.status), title=title, status=status)
    return Rendered(_("%(title)s: %(status)s", title=esc(title), status=status), [header(heading), *fields(pairs)])


@renders("connectivityNotify", business_id=("requestNo",))
def connectivity(
    kind: NotificationKind, n: models.ConnectivityNotice, users: Mapping[str, str], t: Translator
) -> Rendered:
    _ = t.gettext
    text = _("Whalet connectivity check answered: “%(answer)s”", answer=esc(n.message))
    return Rendered(f"🔌 {text}", [section(f"🔌 {text}"), context(_("request `%(no)s`", no=esc(n.request_no)))])


# --- everything else -------------------------------------------------------------------------------

_SECRET_KEYS = ("account", "card", "iban", "bankno")
_MONEY_KEYS = ("amount", "fee", "balance", "quota")


def generic_value(key: str, value: Any, currency: Any = None, t: Translator | None = None) -> str:
    """One field of an unknown notification, masked when it may be an account or card number."""
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_KEYS) and not lowered.endswith("name"):
        return mask(value) if not isinstance(value, (dict, list)) else (t or translator("en")).gettext(MASKED_STRUCTURE)
    if isinstance(value, dict) and "currency" in value or any(word in lowered for word in _MONEY_KEYS):
        return money_text(value, currency, t)
    if isinstance(value, (dict, list)):
        return esc(mask_digit_runs(cut(dumps_compact(value), 300)))
    if isinstance(value, Decimal) and value != value.to_integral_value():
        return esc(value)
    if lowered.endswith(("time", "date")):
        return esc(value)
    return esc(mask_digit_runs(str(value)))


MASKED_STRUCTURE = N_("(hidden: may hold an account number)")


def generic_pairs(body: Mapping[str, Any], t: Translator | None = None) -> list[tuple[str, str]]:
    currency = body.get("currency")
    return [(str(key), generic_value(str(key), value, currency, t)) for key, value in body.items()]


def generic(api_code: str, body: Any, users: Mapping[str, str], note: str = "", locale: str | None = None) -> Rendered:
    """An apiCode we do not know (or a body we cannot read): every field, masked."""
    t = translator(locale)
    _ = t.gettext
    if isinstance(body, Mapping):
        pairs = generic_pairs(body, t)
        if "userId" in body:
            pairs = [(k, user_label(users, body["userId"]) if k == "userId" else v) for k, v in pairs]
    elif body is None:
        pairs = []
    else:
        pairs = [("body", generic_value("body", body, None, t))]
    blocks = [header(_("📨 Whalet notification: %(code)s", code=api_code))]
    blocks += fields(pairs) if pairs else [section(_("_(no content)_"))]
    blocks.append(context(note or _("The bot does not know this kind of notification yet, so it shows every field.")))
    if isinstance(body, Mapping) and body.get("status"):
        text = _("Whalet notification %(code)s (%(status)s)", code=esc(api_code), status=esc(body["status"]))
    else:
        text = _("Whalet notification %(code)s", code=esc(api_code))
    return Rendered(text, cap(blocks, what="blocks"))


# --- dispatch --------------------------------------------------------------------------------------


def render(
    operation: str | None, api_code: str, body: Any, users: Mapping[str, str], locale: str | None = None
) -> Rendered:
    """The message for one notification (replenish cards are rendered by the to-do module), in
    ``locale`` (the channel's: ``services.locales.channel``; English when not given).

    ``operation`` is the spec's name for ``api_code`` (None when unknown).
    """
    kind = kind_of(operation)
    if kind is None or kind.render is None:
        return generic(api_code, body, users, locale=locale)
    try:
        typed = models.parse_notification(operation or api_code, body)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)[:3])
        note = translator(locale).gettext(
            "Could not read this as a %(operation)s: %(problem)s", operation=operation, problem=esc(problem)
        )
        return generic(api_code, body, users, note=note, locale=locale)
    return kind.render(kind, typed, users, translator(locale))


def amount_of(body: Any) -> Money | None:
    """The notification's main amount, if it has one (for digests and summaries)."""
    if not isinstance(body, Mapping) or body.get("amount") is None:
        return None
    try:
        return Money.parse(body["amount"], body.get("currency"))
    except ValueError:
        return None
