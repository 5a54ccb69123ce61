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

from notifications.formatting import money_text, status_icon, when_text
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
def collection(kind: NotificationKind, n: models.CollectionReceived, users: Mapping[str, str]) -> Rendered:
    amount = n.amount.format()
    payer = esc(n.payer_name) + (f" ({mask(n.payer_account)})" if n.payer_account else "")
    blocks = [
        header(f"💰 Money received: {amount}"),
        *fields(
            [
                ("Amount", f"*{amount}*"),
                ("From", payer),
                ("Into account", mask(n.virtual_account_no)),
                ("Fund source", esc(n.fund_source)),
                ("Whalet user", user_label(users, n.user_id)),
                ("Received", when_text(n.received_time)),
            ]
        ),
        context(f"Collection `{esc(n.collection_id)}` · status {esc(n.status)}"),
    ]
    line = f"{amount} from {esc(n.payer_name)} into {mask(n.virtual_account_no)}"
    if n.fund_source.upper() == "B2B":  # a trade order may be bound to it: a button, so never folded
        blocks.append(bind_button(n.collection_id, n.user_id, n.amount, n.payer_name))
        return Rendered(f"Money received: {line}", blocks)
    return Rendered(f"Money received: {line}", blocks, fold_line=line)


@renders("payoutResultNotify", business_id=("payoutId", "merOrderNo"))
@renders("payResultNotify", business_id=("payId", "merOrderNo"))
def transfer_result(
    kind: NotificationKind, n: models.PayoutResult | models.PayResult, users: Mapping[str, str]
) -> Rendered:
    """payoutResultNotify / payResultNotify: the final outcome, shown under the approval card."""
    word = "Payout" if isinstance(n, models.PayoutResult) else "Payment"
    outcome = {"SUCCESS": "completed", "FAIL": "failed"}.get(n.status.upper(), n.status.lower())
    title = f"{status_icon(n.status)} {word} {outcome}: {n.amount.format()}"
    pairs = [("Amount", n.amount.format()), ("Fee", n.fee.format())]
    if isinstance(n, models.PayoutResult):
        pairs.append(("Beneficiary gets", n.to_amount.format()))
    pairs += [
        ("Order", f"`{esc(n.mer_order_no)}`"),
        ("Whalet user", user_label(users, n.user_id)),
        ("Finished", when_text(n.finish_time)),
    ]
    if n.fail_reason:
        pairs.append(("Reason", esc(mask_digit_runs(n.fail_reason))))
    ident = n.payout_id if isinstance(n, models.PayoutResult) else n.pay_id
    blocks = [header(title), *fields(pairs), context(f"{word} id `{esc(ident)}` · status {esc(n.status)}")]
    return Rendered(f"{word} {outcome}: {n.amount.format()} (order {esc(n.mer_order_no)})", blocks)


@renders("beneficiaryResultNotify", business_id=("beneficiaryId", "merBeneficiaryNo"))
def beneficiary_result(kind: NotificationKind, n: models.BeneficiaryResult, users: Mapping[str, str]) -> Rendered:
    outcome = {"SUCCESS": "approved", "FAIL": "refused"}.get(n.status.upper(), n.status.lower())
    pairs = [
        ("Beneficiary", f"`{esc(n.mer_beneficiary_no)}`"),
        ("Whalet id", f"`{esc(n.beneficiary_id)}`"),
        ("Whalet user", user_label(users, n.user_id)),
        ("Status", esc(n.status)),
    ]
    if n.fail_reason:
        pairs.append(("Reason", esc(mask_digit_runs(n.fail_reason))))
    title = f"{status_icon(n.status)} Beneficiary {outcome}"
    return Rendered(f"Beneficiary {esc(n.mer_beneficiary_no)} {outcome}", [header(title), *fields(pairs)])


@renders("userOnboardingResultNotify", business_id=("onboardingId", "applyId"), title="Onboarding review")
@renders("userHolderResultNotify", business_id=("holderId", "applyId"), title="Account holder review")
@renders("virtualAccountNotify", business_id=("virtualAccountNo", "accountId"), title="Virtual account")
@renders("cardCancelResultNotify", business_id=("cardId", "cardNo"), title="Card cancellation")
@renders("shopBindResultNotify", business_id=("shopId", "bindId"), title="Shop binding")
@renders("tradeOrderBindNotify", business_id=("tradeOrderNo", "tradeId", "orderId"), title="Trade order binding")
def review_result(kind: NotificationKind, n: models.ReviewResult, users: Mapping[str, str]) -> Rendered:
    """Onboarding, holder, virtual-account, card, shop and trade-order outcomes: one shape."""
    title = kind.title or kind.operation
    pairs = [("Whalet user", user_label(users, n.user_id)), ("Status", f"{status_icon(n.status)} {esc(n.status)}")]
    if n.remark:
        pairs.append(("Remark", esc(mask_digit_runs(n.remark))))
    pairs += generic_pairs(n.model_extra or {})
    return Rendered(
        f"{esc(title)}: {esc(n.status)}", [header(f"{status_icon(n.status)} {title}: {n.status}"), *fields(pairs)]
    )


@renders("connectivityNotify", business_id=("requestNo",))
def connectivity(kind: NotificationKind, n: models.ConnectivityNotice, users: Mapping[str, str]) -> Rendered:
    text = f"Whalet connectivity check answered: “{esc(n.message)}”"
    return Rendered(f"🔌 {text}", [section(f"🔌 {text}"), context(f"request `{esc(n.request_no)}`")])


# --- everything else -------------------------------------------------------------------------------

_SECRET_KEYS = ("account", "card", "iban", "bankno")
_MONEY_KEYS = ("amount", "fee", "balance", "quota")


def generic_value(key: str, value: Any, currency: Any = None) -> str:
    """One field of an unknown notification, masked when it may be an account or card number."""
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_KEYS) and not lowered.endswith("name"):
        return mask(value) if not isinstance(value, (dict, list)) else MASKED_STRUCTURE
    if isinstance(value, dict) and "currency" in value or any(word in lowered for word in _MONEY_KEYS):
        return money_text(value, currency)
    if isinstance(value, (dict, list)):
        return esc(mask_digit_runs(cut(dumps_compact(value), 300)))
    if isinstance(value, Decimal) and value != value.to_integral_value():
        return esc(value)
    if lowered.endswith(("time", "date")):
        return esc(value)
    return esc(mask_digit_runs(str(value)))


MASKED_STRUCTURE = "(hidden: may hold an account number)"


def generic_pairs(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    currency = body.get("currency")
    return [(str(key), generic_value(str(key), value, currency)) for key, value in body.items()]


def generic(api_code: str, body: Any, users: Mapping[str, str], note: str = "") -> Rendered:
    """An apiCode we do not know (or a body we cannot read): every field, masked."""
    if isinstance(body, Mapping):
        pairs = generic_pairs(body)
        if "userId" in body:
            pairs = [(k, user_label(users, body["userId"]) if k == "userId" else v) for k, v in pairs]
    elif body is None:
        pairs = []
    else:
        pairs = [("body", generic_value("body", body))]
    blocks = [header(f"📨 Whalet notification: {api_code}")]
    blocks += fields(pairs) if pairs else [section("_(no content)_")]
    blocks.append(context(note or "The bot does not know this kind of notification yet, so it shows every field."))
    status = f" ({body['status']})" if isinstance(body, Mapping) and body.get("status") else ""
    return Rendered(f"Whalet notification {esc(api_code)}{esc(status)}", cap(blocks, what="blocks"))


# --- dispatch --------------------------------------------------------------------------------------


def render(operation: str | None, api_code: str, body: Any, users: Mapping[str, str]) -> Rendered:
    """The message for one notification (replenish cards are rendered by the to-do module).

    ``operation`` is the spec's name for ``api_code`` (None when unknown).
    """
    kind = kind_of(operation)
    if kind is None or kind.render is None:
        return generic(api_code, body, users)
    try:
        typed = models.parse_notification(operation or api_code, body)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)[:3])
        return generic(api_code, body, users, note=f"Could not read this as a {operation}: {esc(problem)}")
    return kind.render(kind, typed, users)


def amount_of(body: Any) -> Money | None:
    """The notification's main amount, if it has one (for digests and summaries)."""
    if not isinstance(body, Mapping) or body.get("amount") is None:
        return None
    try:
        return Money.parse(body["amount"], body.get("currency"))
    except ValueError:
        return None
