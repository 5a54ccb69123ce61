"""The sandbox's starting world: users, balances, rates, beneficiaries, form fields.

Every number here is listed in README.md; tests and the demo rely on them, so change both
together.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

D = Decimal

USERS = {
    "U10001": "Acme Trading Ltd",
    "U10002": "Globex Export Co",
    "U20001": "Initech Supplies",  # the payee for payApply
}

# (userId, fundSource, currency): (available, pending, frozen, orderQuota)
BALANCES: dict[tuple[str, str, str], tuple[Decimal, Decimal, Decimal, Decimal]] = {
    ("U10001", "B2C", "USD"): (D("250000.00"), D("1250.00"), D("0.00"), D("500000.00")),
    ("U10001", "B2C", "EUR"): (D("48250.75"), D("0.00"), D("0.00"), D("100000.00")),
    ("U10001", "B2C", "HKD"): (D("120000.00"), D("3000.00"), D("0.00"), D("0.00")),
    ("U10001", "B2C", "JPY"): (D("3500000"), D("0"), D("0"), D("0")),
    ("U10001", "B2B", "USD"): (D("82340.55"), D("0.00"), D("500.00"), D("29870.00")),
    ("U10001", "B2B", "CNY"): (D("560000.00"), D("0.00"), D("0.00"), D("0.00")),
    ("U10001", "Acquiring", "USD"): (D("12500.00"), D("800.00"), D("0.00"), D("0.00")),
    ("U10002", "B2B", "USD"): (D("40000.00"), D("0.00"), D("0.00"), D("60000.00")),
    ("U10002", "B2B", "EUR"): (D("15000.00"), D("0.00"), D("0.00"), D("0.00")),
    ("U10002", "B2B", "CNY"): (D("1250000.00"), D("20000.00"), D("0.00"), D("0.00")),
    ("U10002", "B2C", "HKD"): (D("8888.88"), D("0.00"), D("0.00"), D("0.00")),
    ("U20001", "B2C", "USD"): (D("1000.00"), D("0.00"), D("0.00"), D("0.00")),
}

# Value of one unit in USD at seed 0; cross rates are value(from) / value(to).
USD_VALUE = {
    "USD": D("1"),
    "EUR": D("1.085"),
    "GBP": D("1.27"),
    "HKD": D("0.1282"),
    "CNY": D("0.1385"),
    "JPY": D("0.00665"),
    "SGD": D("0.745"),
    "AUD": D("0.655"),
}
SUPPORTED_CURRENCIES = frozenset(USD_VALUE)
RATE_PLACES = D("0.000001")
CUSTOMER_SPREAD = D("0.002")  # the partner gets 0.2 % less than mid on a conversion
QUOTE_TTL_S = 60
ORDER_TTL_S = 600

# Fee on payouts and pays: 0.1 % of the amount, at least MIN_FEE, in the source currency.
FEE_RATE = D("0.001")
MIN_FEE = {
    "USD": D("1"),
    "EUR": D("1"),
    "GBP": D("1"),
    "SGD": D("1"),
    "HKD": D("8"),
    "CNY": D("7"),
    "JPY": D("150"),
    "AUD": D("1"),
}

ISO_NUMERIC = {
    "USD": "840",
    "EUR": "978",
    "GBP": "826",
    "HKD": "344",
    "CNY": "156",
    "JPY": "392",
    "SGD": "702",
    "AUD": "036",
}


def usd_values(seed: int) -> dict[str, Decimal]:
    """Seed 0 is the table above; other seeds move each rate by up to ±0.5 %, deterministically."""
    if seed == 0:
        return dict(USD_VALUE)
    rng = random.Random(seed)
    return {
        code: value
        if code == "USD"
        else (value * (1 + D(rng.randint(-50, 50)) / D(10000))).quantize(D("0.0000001"), ROUND_HALF_EVEN)
        for code, value in USD_VALUE.items()
    }


def virtual_account_no(user_id: str, currency: str) -> str:
    """A full 15-digit virtual account number; the bot must mask it when it shows it."""
    return "7000" + user_id[1:].zfill(6) + ISO_NUMERIC.get(currency, "999") + "01"


BENEFICIARIES: list[dict[str, Any]] = [
    {
        "beneficiaryId": "BEN001",
        "merBeneficiaryNo": "SEED-HK-1",
        "country": "HK",
        "currency": "HKD",
        "accountName": "Acme Trading Ltd",
        "accountNo": "012345678901",
        "bankName": "HSBC Hong Kong",
        "swiftCode": "HSBCHKHHHKH",
        "extra": {"bankCode": "004"},
    },
    {
        "beneficiaryId": "BEN002",
        "merBeneficiaryNo": "SEED-US-1",
        "country": "US",
        "currency": "USD",
        "accountName": "Hooli Components Inc",
        "accountNo": "000123456789",
        "bankName": "JPMorgan Chase Bank",
        "swiftCode": "CHASUS33",
        "extra": {"routingNumber": "021000021", "accountType": "CHECKING"},
    },
    {
        "beneficiaryId": "BEN003",
        "merBeneficiaryNo": "SEED-DE-1",
        "country": "DE",
        "currency": "EUR",
        "accountName": "Müller Maschinenbau GmbH",
        "accountNo": "DE89370400440532013000",
        "bankName": "Commerzbank",
        "swiftCode": "COBADEFFXXX",
        "extra": {},
    },
]

SWIFT = r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?"
# country: (currencies, accountNo pattern, swift required, extra fields (name, label, pattern, options))
COUNTRIES: dict[str, tuple[list[str], str, bool, list[tuple[str, str, str | None, list[str] | None]]]] = {
    "HK": (["HKD", "USD"], r"\d{6,17}", True, [("bankCode", "Bank code", r"\d{3}", None)]),
    "US": (
        ["USD"],
        r"\d{4,17}",
        False,
        [
            ("routingNumber", "ABA routing number", r"\d{9}", None),
            ("accountType", "Account type", None, ["CHECKING", "SAVINGS"]),
        ],
    ),
    "DE": (["EUR"], r"DE\d{20}", True, []),
    "GB": (["GBP", "EUR"], r"GB\d{2}[A-Z]{4}\d{14}", True, []),
    "SG": (["SGD", "USD"], r"\d{6,17}", True, []),
    "CN": (["CNY"], r"\d{12,19}", False, [("cnapsCode", "CNAPS code", r"\d{12}", None)]),
    "JP": (["JPY"], r"\d{7}", True, [("branchCode", "Branch code", r"\d{3}", None)]),
}
TOP_LEVEL_FIELDS = ("accountName", "accountNo", "bankName", "swiftCode")


def beneficiary_fields(country: str) -> list[dict[str, Any]]:
    """The form for one country: names outside TOP_LEVEL_FIELDS travel inside ``extra``."""
    _, account_pattern, swift_required, extras = COUNTRIES[country]
    fields: list[dict[str, Any]] = [
        {"name": "accountName", "label": "Account holder name", "required": True, "maxLength": 140},
        {
            "name": "accountNo",
            "label": "Account number" if country not in ("DE", "GB") else "IBAN",
            "required": True,
            "maxLength": 34,
            "pattern": f"^{account_pattern}$",
        },
        {"name": "bankName", "label": "Bank name", "required": True, "maxLength": 140},
        {
            "name": "swiftCode",
            "label": "SWIFT/BIC",
            "required": swift_required,
            "maxLength": 11,
            "pattern": f"^{SWIFT}$",
        },
    ]
    for name, label, pattern, options in extras:
        field: dict[str, Any] = {"name": name, "label": label, "required": True, "maxLength": 34}
        if pattern:
            field["pattern"] = f"^{pattern}$"
        if options:
            field["options"] = options
        fields.append(field)
    return fields


EDD_MATERIALS = ["Business licence", "Proof of address", "Source of funds statement"]
TRADE_MATERIALS = ["Commercial invoice", "Bill of lading", "Sales contract"]
