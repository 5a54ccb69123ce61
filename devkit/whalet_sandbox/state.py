"""Everything one sandbox instance knows, bundled for the operation handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import seed
from .beneficiaries import Beneficiaries
from .clock import Timeline, VirtualClock
from .documents import TradeOrders
from .events import Collections, Replenishments
from .ledger import Ledger, Notify
from .orders import OrderBook
from .wire import Body


@dataclass
class State:
    ledger: Ledger
    orders: OrderBook
    beneficiaries: Beneficiaries
    collections: Collections
    replenishments: Replenishments
    trade_orders: TradeOrders
    # requestNo -> (apiCode, decrypted body, dispatch.Outcome): the idempotency store (spec §4)
    answers: dict[str, tuple[str, Any, Any]] = field(default_factory=dict)

    @classmethod
    def create(
        cls, clock: VirtualClock, timeline: Timeline, notify: Notify, seed_value: int, result_delay_s: float
    ) -> State:
        ledger = Ledger(clock, timeline, notify, seed_value, result_delay_s)
        collections = Collections(ledger)
        return cls(
            ledger,
            OrderBook(ledger),
            Beneficiaries(ledger),
            collections,
            Replenishments(ledger),
            TradeOrders(ledger, collections),
        )

    @staticmethod
    def body(data: Any) -> Body:
        return Body({} if data is None else data, seed.SUPPORTED_CURRENCIES)
