"""The demo's beneficiary book is Whalet's: the card an approver sees in the demo is what Whalet would pay."""

from __future__ import annotations

from devkit.localstack import LocalStack


def test_the_demo_book_names_every_beneficiary_and_account_tail_as_the_sandbox_holds_them(stack: LocalStack) -> None:
    answer = stack.operator.get("/sandbox/beneficiaries").json()
    held = {b["beneficiaryId"]: b for b in answer["records"]}
    assert stack.config.beneficiaries
    for entry in stack.config.beneficiaries:
        whalet = held[entry.id]
        assert entry.name == whalet["accountName"], entry.id
        assert str(whalet["accountNo"]).endswith(entry.account_tail), entry.id
        assert (entry.country, entry.currency) == (whalet["country"], whalet["currency"]), entry.id
