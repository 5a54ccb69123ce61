"""Models: Whalet's own page example, bare amounts, unknown fields, strict requests, the tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from whalet import models as m
from whalet.envelope import loads_exact
from whalet.money import Money
from whalet.operations import (
    MONEY_MOVING,
    NOTIFICATION_GROUPS,
    OPERATIONS,
    UnknownOperation,
    group_api_codes,
    operation_for,
    resolve_api_codes,
)

# Verbatim from Whalet's Currency Balance page (spec §4; seeds/000_edaa796e10a14640.txt).
PAGE_EXAMPLE = """[
    {
        "balance": {"amount": 2477.92, "cent": 247792, "centFactor": 100, "currency": "USD"},
        "orderQuota": {"amount": 29870, "cent": 2987000, "centFactor": 100, "currency": "USD"},
        "currency": "USD",
        "rmbAmount": {"amount": 0, "cent": 0, "centFactor": 100, "currency": "CNY"},
        "pendingAmount": {"amount": 20, "cent": 2000, "centFactor": 100, "currency": "USD"},
        "freezeAmount": {"amount": 0, "cent": 0, "centFactor": 100, "currency": "USD"}
    }
]"""


def _usd(text: str) -> Money:
    return Money(Decimal(text), "USD")


def test_currency_balance_page_example_parses_exactly():
    (row,) = m.parse_balances(loads_exact(PAGE_EXAMPLE))
    assert row.currency == "USD"
    assert row.balance == _usd("2477.92") and str(row.balance.amount) == "2477.92"
    assert row.order_quota == _usd("29870") and row.pending_amount == _usd("20")
    assert row.freeze_amount == _usd("0")
    assert row.rmb_amount == Money(Decimal("0"), "CNY")


def test_balances_accept_records_wrapper_and_bare_numbers_take_the_row_currency():
    data = loads_exact(
        '{"records": [{"currency": "JPY", "balance": 1200, "pendingAmount": "5",'
        ' "freezeAmount": 0, "orderQuota": 99999, "rmbAmount": 55.37, "newField": "kept"}]}'
    )
    (row,) = m.parse_balances(data)
    assert row.balance == Money(Decimal(1200), "JPY") and row.pending_amount == Money(Decimal(5), "JPY")
    assert row.rmb_amount == Money(Decimal("55.37"), "CNY")
    assert row.model_extra == {"newField": "kept"}
    assert m.parse_balances({"records": []}) == [] and m.parse_balances(None) == []


def test_balance_row_without_currency_takes_it_from_its_money_objects():
    (row,) = m.parse_balances([{"balance": {"cent": 1250, "centFactor": 1000, "currency": "KWD"}}])
    assert row.currency == "KWD" and row.balance == Money(Decimal("1.25"), "KWD")


@pytest.mark.parametrize("data", [{"records": "x"}, [{"balance": 5}], [{"currency": "ZZZ", "balance": 1}]])
def test_balances_that_cannot_be_money_are_refused(data):
    with pytest.raises((ValueError, ValidationError)):
        m.parse_balances(data)


def test_whalet_times_are_utc_plus_8_and_round_trip():
    quote = m.RateQuote.model_validate(
        {
            "rateId": "Q1",
            "currency": "USD",
            "toCurrency": "HKD",
            "rate": Decimal("7.8123"),
            "expireTime": "2024-10-14 00:56:33",
        }
    )
    assert quote.expire_time == datetime(2024, 10, 13, 16, 56, 33, tzinfo=timezone.utc)
    assert quote.expire_time.utcoffset() == timedelta(hours=8)
    assert m.format_whalet_time(quote.expire_time) == "2024-10-14 00:56:33"
    assert m.format_whalet_time(datetime(2024, 1, 1, tzinfo=timezone.utc)) == "2024-01-01 08:00:00"
    assert quote.rate == Decimal("7.8123")


@pytest.mark.parametrize(
    "expire", [{"expireTime": "14/10/2024"}, {"expireTime": ""}, {"expireTime": None}, {}, {"expireTime": {"at": 1}}]
)
def test_a_missing_or_unreadable_expire_time_is_none_and_the_ttl_rule_decides(expire: dict[str, Any]) -> None:
    quote = m.RateQuote.model_validate({"rateId": "Q1", "currency": "USD", "toCurrency": "HKD", "rate": 1, **expire})
    assert quote.expire_time is None
    applied = m.PayoutApplyResult.model_validate(
        {
            "payoutId": "PO1",
            "merOrderNo": "M1",
            "status": "WAIT_CONFIRM",
            "currency": "USD",
            "toCurrency": "HKD",
            "amount": "10",
            "fee": "1",
            "toAmount": "78",
            "newField": {"kept": True},
            **expire,
        }
    )
    assert applied.expire_time is None and applied.model_extra == {"newField": {"kept": True}}
    with pytest.raises(ValidationError):  # strict where money is: an unreadable amount is still refused
        m.PayoutApplyResult.model_validate(
            {
                "payoutId": "PO1",
                "merOrderNo": "M1",
                "status": "WAIT_CONFIRM",
                "currency": "USD",
                "toCurrency": "HKD",
                "amount": "ten",
                "fee": "1",
                "toAmount": "78",
                **expire,
            }
        )


def test_payout_apply_result_bare_amounts_take_their_currencies():
    result = m.PayoutApplyResult.model_validate(
        {
            "payoutId": "PO1",
            "merOrderNo": "M1",
            "status": "WAIT_CONFIRM",
            "currency": "USD",
            "toCurrency": "HKD",
            "amount": Decimal("1000.50"),
            "fee": "3",
            "toAmount": {"cent": 781000, "centFactor": 100, "currency": "HKD"},
            "expireTime": "2024-10-14 00:56:33",
        }
    )
    assert result.amount == _usd("1000.50") and result.fee == _usd("3")
    assert result.to_amount == Money(Decimal("7810"), "HKD")


def test_notifications_keep_unknown_fields_and_require_the_spec_fields():
    body = {
        "userId": "U1",
        "collectionId": "C1",
        "virtualAccountNo": "6222000011112222",
        "fundSource": "B2B",
        "currency": "USD",
        "amount": {"cent": 100050, "centFactor": 100, "currency": "USD"},
        "payerName": "ACME",
        "receivedTime": "2024-10-14 09:00:00",
        "status": "SUCCESS",
        "brandNew": [1],
    }
    note = m.parse_notification("collectionReceivedNotify", body)
    assert isinstance(note, m.CollectionReceived)
    assert note.amount == _usd("1000.50") and note.model_extra == {"brandNew": [1]}
    assert "6222000011112222" not in repr(note)
    with pytest.raises(ValidationError):
        m.parse_notification("collectionReceivedNotify", {k: v for k, v in body.items() if k != "payerName"})
    assert m.parse_notification("somethingNewNotify", body) is None


def test_parse_notification_follows_api_code_overrides():
    codes = resolve_api_codes({"connectivityNotify": "connNotifyV2"})
    note = m.parse_notification("connNotifyV2", {"message": "hi", "requestNo": "R1"}, codes)
    assert isinstance(note, m.ConnectivityNotice) and note.request_no == "R1"
    assert m.parse_notification("connectivityNotify", {"message": "hi", "requestNo": "R1"}, codes) is None


def test_every_notification_has_a_model_and_exactly_one_group():
    notifications = {name for name, op in OPERATIONS.items() if op.is_notification}
    assert set(m.NOTIFICATION_MODELS) == notifications
    grouped = [name for names in NOTIFICATION_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(notifications)
    assert group_api_codes("replenish") == {
        "eddReplenishNotify",
        "eddReplenishResultNotify",
        "tradeReplenishNotify",
        "tradeReplenishResultNotify",
    }


def test_record_page_and_record_ids():
    page = m.RecordPage.model_validate(
        {
            "total": 1,
            "pageNum": 1,
            "pageSize": 10,
            "records": [
                {
                    "payoutId": "PO9",
                    "merOrderNo": "M9",
                    "status": "SUCCESS",
                    "currency": "USD",
                    "amount": 5,
                    "createTime": "2024-10-14 09:00:00",
                }
            ],
        }
    )
    assert page.records[0].record_id == "PO9" and page.records[0].amount == _usd("5")


# --- requests ----------------------------------------------------------------------------------


def _payout(**changes):
    fields = dict(
        user_id="U1",
        mer_order_no="M1",
        fund_source="B2C",
        amount=Money.of("1000.5", "USD"),
        to_currency="hkd",
        beneficiary_id="B1",
        purpose="supplier invoice",
    )
    return m.PayoutApplyRequest(**{**fields, **changes})


def test_request_to_wire_writes_amounts_with_exactly_the_currency_digits():
    wire = _payout().to_wire()
    assert wire == {
        "userId": "U1",
        "merOrderNo": "M1",
        "fundSource": "B2C",
        "amount": Decimal("1000.50"),
        "currency": "USD",
        "toCurrency": "HKD",
        "beneficiaryId": "B1",
        "purpose": "supplier invoice",
    }
    assert wire["amount"].as_tuple().exponent == -2
    jpy = m.PayApplyRequest(
        user_id="U1", mer_order_no="M2", payee_user_id="U2", amount=Money.of("1200", "JPY"), purpose="x"
    ).to_wire()
    assert jpy["amount"].as_tuple().exponent == 0 and jpy["currency"] == "JPY"


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": Money.of("1000.505", "USD")},
        {"amount": Money.of("0", "USD")},
        {"amount": Money.of("-1", "USD")},
        {"to_currency": "XXQ"},
        {"fund_source": "Retail"},
        {"mer_order_no": "M" * 31},
        {"surprise": 1},
    ],
)
def test_bad_requests_fail_before_reaching_whalet(changes):
    with pytest.raises(ValidationError):
        _payout(**changes)


def test_record_query_paging_and_time_window():
    wire = m.RecordQuery.model_validate(
        {"user_id": "U1", "start_time": "2024-10-01 00:00:00", "end_time": datetime(2024, 10, 2, tzinfo=timezone.utc)}
    ).to_wire()
    assert wire == {
        "userId": "U1",
        "startTime": "2024-10-01 00:00:00",
        "endTime": "2024-10-02 08:00:00",
        "pageNum": 1,
        "pageSize": 10,
    }
    for bad in ({"page_size": 101}, {"page_num": 0}, {"start_time": "2024-10-03 00:00:00"}):
        with pytest.raises(ValidationError):
            m.RecordQuery.model_validate(
                {"user_id": "U1", "start_time": "2024-10-01 00:00:00", "end_time": "2024-10-02 00:00:00", **bad}
            )


def test_beneficiary_account_number_stays_out_of_reprs():
    request = m.BeneficiaryApplyRequest(
        user_id="U1",
        mer_beneficiary_no="MB1",
        country="hk",
        currency="HKD",
        account_name="ACME",
        account_no="12345678901",
        bank_name="HSBC",
    )
    assert "12345678901" not in repr(request) and request.to_wire()["accountNo"] == "12345678901"
    assert request.to_wire()["country"] == "HK"


# --- the operation table ------------------------------------------------------------------------


def test_money_moving_operations_are_exactly_the_six():
    assert MONEY_MOVING == {
        "payoutApply",
        "payoutConfirm",
        "payApply",
        "payConfirm",
        "beneficiaryApply",
        "beneficiaryDelete",
    }
    assert OPERATIONS["queryCurrencyBalance"].provisional is False
    assert OPERATIONS["payoutApply"].provisional is True


def test_api_code_overrides_are_checked():
    codes = resolve_api_codes({"payoutApply": "payout.apply"})
    assert codes["payoutApply"] == "payout.apply" and operation_for("payout.apply", codes) == "payoutApply"
    with pytest.raises(UnknownOperation, match="payoutAply"):
        resolve_api_codes({"payoutAply": "x"})
    with pytest.raises(ValueError, match="both use"):
        resolve_api_codes({"payoutApply": "payoutConfirm"})
    with pytest.raises(ValueError):
        resolve_api_codes({"payoutApply": "x" * 31})
