"""Every Whalet operation and notification, and the apiCode it travels under (spec §4–5).

Most apiCodes are our reconstruction (``provisional``): Whalet's public pages show only a few.
They live in this one table so a deployer holding Whalet's integration pack corrects them in
the config file (``[whalet.api_codes]``, checked by ``resolve_api_codes``) without touching code.

Operation names are the spec's own apiCodes (``payoutApply``), so the override file reads
"the operation the spec calls payoutApply is called X at Whalet", and a name never changes when
its apiCode is corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from whalet.envelope import HEAD_LIMITS


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    api_code: str
    provisional: bool
    kind: str  # "read" (safe to retry), "write" (not money, not retried), "money", "notification"

    @property
    def read_only(self) -> bool:
        return self.kind == "read"

    @property
    def moves_money(self) -> bool:
        return self.kind == "money"

    @property
    def is_notification(self) -> bool:
        return self.kind == "notification"


def _table(*rows: tuple[str, bool, str]) -> Mapping[str, Operation]:
    return MappingProxyType({name: Operation(name, name, provisional, kind) for name, provisional, kind in rows})


_P, _SEEN = True, False  # provisional (our reconstruction) / seen on Whalet's pages

OPERATIONS: Mapping[str, Operation] = _table(
    # calls (partner -> Whalet)
    ("queryCurrencyBalance", _SEEN, "read"),
    ("queryPlatformBalance", _P, "read"),
    ("queryRate", _P, "read"),
    ("payoutApply", _P, "money"),
    ("payoutConfirm", _P, "money"),
    ("payApply", _P, "money"),
    ("payConfirm", _P, "money"),
    ("queryBeneficiaryCountries", _P, "read"),
    ("queryBeneficiaryFields", _P, "read"),
    ("beneficiaryApply", _P, "money"),
    ("beneficiaryDelete", _P, "money"),
    ("queryCollectionRecords", _P, "read"),
    ("queryWithdrawRecords", _P, "read"),
    ("queryPaymentRecords", _P, "read"),
    ("queryPayRecords", _P, "read"),
    ("eddReplenishQuery", _P, "read"),
    ("eddReplenishSubmit", _P, "write"),
    ("tradeReplenishSubmit", _P, "write"),
    ("tradeOrderBindApply", _P, "write"),  # Whalet's "Trade Order Bind Apply" (B2B collections)
    ("connectivity", _SEEN, "read"),
    ("mockPayeeNotify", _SEEN, "write"),
    # notifications (Whalet -> partner webhook)
    ("collectionReceivedNotify", _P, "notification"),
    ("payoutResultNotify", _P, "notification"),
    ("payResultNotify", _P, "notification"),
    ("beneficiaryResultNotify", _P, "notification"),
    ("eddReplenishNotify", _P, "notification"),
    ("eddReplenishResultNotify", _P, "notification"),
    ("tradeReplenishNotify", _P, "notification"),
    ("tradeReplenishResultNotify", _P, "notification"),
    ("userOnboardingResultNotify", _P, "notification"),
    ("userHolderResultNotify", _P, "notification"),
    ("virtualAccountNotify", _P, "notification"),
    ("cardCancelResultNotify", _P, "notification"),
    ("shopBindResultNotify", _P, "notification"),
    ("tradeOrderBindNotify", _P, "notification"),
    ("connectivityNotify", _SEEN, "notification"),
)

# Never retried automatically: an unknown outcome is resolved by looking the order up.
MONEY_MOVING: frozenset[str] = frozenset(n for n, op in OPERATIONS.items() if op.moves_money)
READ_ONLY: frozenset[str] = frozenset(n for n, op in OPERATIONS.items() if op.read_only)

# Routing groups (config `routes` may name a group instead of single notifications).
NOTIFICATION_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "collections": ("collectionReceivedNotify",),
        "payouts": ("payoutResultNotify",),
        "pays": ("payResultNotify",),
        "beneficiaries": ("beneficiaryResultNotify",),
        "replenish": (
            "eddReplenishNotify",
            "eddReplenishResultNotify",
            "tradeReplenishNotify",
            "tradeReplenishResultNotify",
        ),
        "onboarding": (
            "userOnboardingResultNotify",
            "userHolderResultNotify",
            "virtualAccountNotify",
            "cardCancelResultNotify",
            "shopBindResultNotify",
            "tradeOrderBindNotify",
        ),
        "connectivity": ("connectivityNotify",),
    }
)


class UnknownOperation(ValueError):
    """A name in ``[whalet.api_codes]`` that is not one of our operations."""


def resolve_api_codes(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full operation -> apiCode map, with the config file's corrections applied.

    Refuses unknown operation names (a typo would otherwise silently keep the wrong apiCode),
    empty or over-long codes, and two operations sharing one apiCode (routing could not tell
    them apart).
    """
    resolved = {name: op.api_code for name, op in OPERATIONS.items()}
    for name, code in (overrides or {}).items():
        if name not in OPERATIONS:
            raise UnknownOperation(
                f"whalet.api_codes.{name}: unknown operation; known operations are " + ", ".join(sorted(OPERATIONS))
            )
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > HEAD_LIMITS["apiCode"]:
            raise ValueError(f"whalet.api_codes.{name}: apiCode must be 1-{HEAD_LIMITS['apiCode']} characters")
        resolved[name] = code.strip()
    seen: dict[str, str] = {}
    for name, code in resolved.items():
        if code in seen:
            raise ValueError(f"whalet.api_codes: {seen[code]} and {name} would both use apiCode {code!r}")
        seen[code] = name
    return resolved


def operation_for(api_code: str, api_codes: Mapping[str, str] | None = None) -> str | None:
    """The operation name an incoming apiCode stands for, or None when we do not know it."""
    codes = api_codes if api_codes is not None else resolve_api_codes()
    for name, code in codes.items():
        if code == api_code:
            return name
    return None


def group_api_codes(group: str, api_codes: Mapping[str, str] | None = None) -> frozenset[str]:
    """The apiCodes (after overrides) of one notification group; KeyError for an unknown group."""
    codes = api_codes if api_codes is not None else resolve_api_codes()
    return frozenset(codes[name] for name in NOTIFICATION_GROUPS[group])
