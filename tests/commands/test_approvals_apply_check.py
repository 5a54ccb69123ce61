"""Issue 9, failure 8: Whalet's apply answer is compared with the request before any card is shown."""

from datetime import UTC, datetime
from decimal import Decimal

from services.approvals.kinds import ApplyAnswer
from services.approvals.request import ApprovalRequest
from services.approvals.kinds import mismatch_of
from services.approvals.states import State
from whalet.money import Money

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = ApprovalRequest(
    id="PO-ABCDEFGH",
    kind="payout",
    state=State.APPLYING,
    version=1,
    requester="U1",
    user_id="U10001",
    amount=Decimal("1200.50"),
    currency="USD",
    mer_order_no="WBO1",
    created_at=NOW,
    beneficiary_id="BEN002",
    to_currency="USD",
)


def answer(**over):
    base = dict(
        whalet_id="PO1",
        mer_order_no="WBO1",
        amount=Money(Decimal("1200.50"), "USD"),
        fee=Money(Decimal("2.00"), "HKD"),
        expire_time=NOW,
        party=None,
        to_amount=Money(Decimal("1200.50"), "USD"),
    )
    return ApplyAnswer(**{**base, **over})


def test_a_matching_answer_passes_and_the_fee_may_have_its_own_currency():
    assert mismatch_of(REQUEST, answer()) is None
    assert mismatch_of(REQUEST, answer(party="BEN002")) is None


def test_every_mismatch_is_named():
    assert "amount" in mismatch_of(REQUEST, answer(amount=Money(Decimal("12005.00"), "USD")))
    assert "amount" in mismatch_of(REQUEST, answer(amount=Money(Decimal("1200.50"), "EUR")))
    assert "beneficiary BEN999" in mismatch_of(REQUEST, answer(party="BEN999"))
    assert "order number" in mismatch_of(REQUEST, answer(mer_order_no="WBO2"))
    assert "HKD" in mismatch_of(REQUEST, answer(to_amount=Money(Decimal("9000"), "HKD")))
