"""Routing from [[routes]]: apiCodes and groups, currency and amount filters, mentions, default."""

from __future__ import annotations

from decimal import Decimal

from notifications.routing import Destination, route
from tests.notifications.conftest import config_from

CONFIG = """
[whalet]
api_codes = { payResultNotify = "payFinishNotify" }

[[routes]]
events = ["collections"]
channel = "C0COLLECT"

[[routes]]
events = ["collectionReceivedNotify"]
channel = "C0BIGUSD"
currencies = ["USD"]
min_amount = "10000"
mention = "S0TREASURY"

[[routes]]
events = ["payouts", "payResultNotify"]
channel = "C0PAYOUTS"

[[routes]]
events = ["payResultNotify"]
channel = "C0PAYOUTS"
mention = "S0LATE"

[notifications]
default_channel = "C0FINANCE"
"""


def collection(amount: object, currency: str = "USD") -> dict[str, object]:
    return {"currency": currency, "amount": amount, "collectionId": "C1"}


def test_group_routes_and_default_channel() -> None:
    config = config_from(CONFIG)
    assert route(config, "collectionReceivedNotify", collection(Decimal("5"))) == [Destination("C0COLLECT")]
    assert route(config, "payoutResultNotify", {"currency": "USD"}) == [Destination("C0PAYOUTS")]
    assert route(config, "beneficiaryResultNotify", {}) == [Destination("C0FINANCE")]
    assert route(config, "somethingNewNotify", {"x": 1}) == [Destination("C0FINANCE")]


def test_currency_and_minimum_amount_filters_with_money_objects_numbers_and_strings() -> None:
    config = config_from(CONFIG)
    big = {"amount": Decimal("12000.00"), "cent": 1200000, "centFactor": 100, "currency": "USD"}
    assert route(config, "collectionReceivedNotify", collection(big)) == [
        Destination("C0COLLECT"),
        Destination("C0BIGUSD", "S0TREASURY"),
    ]
    assert route(config, "collectionReceivedNotify", collection("10000")) == [
        Destination("C0COLLECT"),
        Destination("C0BIGUSD", "S0TREASURY"),
    ]
    assert route(config, "collectionReceivedNotify", collection(Decimal("9999.99"))) == [Destination("C0COLLECT")]
    assert route(config, "collectionReceivedNotify", collection(Decimal("50000"), "EUR")) == [Destination("C0COLLECT")]
    assert route(config, "collectionReceivedNotify", {"collectionId": "C1"}) == [Destination("C0COLLECT")]


def test_corrected_api_code_matches_routes_written_with_the_spec_name() -> None:
    config = config_from(CONFIG)
    # payResultNotify is called payFinishNotify at this deployment; both routes name the spec's name
    assert route(config, "payFinishNotify", {}) == [Destination("C0PAYOUTS", "S0LATE")]
    assert route(config, "payResultNotify", {}) == [Destination("C0PAYOUTS", "S0LATE")]


def test_nothing_matches_and_no_default_means_no_destination() -> None:
    config = config_from('[[routes]]\nevents = ["collections"]\nchannel = "C0COLLECT"\n')
    assert route(config, "payoutResultNotify", {}) == []
