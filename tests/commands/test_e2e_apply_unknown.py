"""A payout request whose apply answer is lost: no card, nothing confirmed, a true sentence."""

from __future__ import annotations

from tests.commands.helpers import ask


def test_apply_without_a_trustworthy_answer_puts_nothing_up_for_approval(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(settings_overrides={"whalet_timeout_seconds": 0.5})
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "payoutApply", "kind": "timeout_after_apply", "seconds": 1.5}]}
    ).raise_for_status()
    _, reply = ask(stack, "U0REQ", "payout 42 USD to acme-us")
    assert reply is not None and "nothing will be paid" in reply.text
    with stack.services.store.read() as db:
        assert [r[0] for r in db.execute("SELECT state FROM approval_requests")] == ["ABANDONED"]
    assert not stack.fake.messages("C0APPROVALS")
    assert all(count == 0 for count in stack.confirm_counts().values())  # applied at Whalet, never confirmed
