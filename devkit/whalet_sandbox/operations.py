"""The operation table: apiCode -> handler (protocol spec §4). Unknown apiCodes are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ops_money as money
from . import ops_other as other
from .state import State
from .wire import Body

Handler = Callable[[State, Body, dict[str, str]], Any]

OPERATIONS: dict[str, Handler] = {
    "queryCurrencyBalance": money.query_currency_balance,
    "queryPlatformBalance": money.query_platform_balance,
    "queryRate": money.query_rate,
    "payoutApply": money.payout_apply,
    "payoutConfirm": money.payout_confirm,
    "payApply": money.pay_apply,
    "payConfirm": money.pay_confirm,
    "queryBeneficiaryCountries": other.query_beneficiary_countries,
    "queryBeneficiaryFields": other.query_beneficiary_fields,
    "beneficiaryApply": other.beneficiary_apply,
    "beneficiaryDelete": other.beneficiary_delete,
    "queryCollectionRecords": other.query_collection_records,
    "queryWithdrawRecords": other.query_withdraw_records,
    "queryPaymentRecords": other.query_payment_records,
    "queryPayRecords": other.query_pay_records,
    "eddReplenishQuery": other.edd_replenish_query,
    "eddReplenishSubmit": other.edd_replenish_submit,
    "tradeReplenishSubmit": other.trade_replenish_submit,
    "tradeOrderBindApply": other.trade_order_bind_apply,
    "connectivity": other.connectivity,
    "mockPayeeNotify": other.mock_payee_notify,
}

# confirm calls whose replays still count towards the order's confirmCount: apiCode -> id field
CONFIRMS = {"payoutConfirm": "payoutId", "payConfirm": "payId"}
