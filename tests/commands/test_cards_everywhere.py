"""Approvers see what they approve (issue 21, item 3): the channel card, an approver's DM copy and
the App Home entry of one request, as the Slack stand-in holds them after signed requests into the
real app, show the same facts: amount, fee, total debited, rate and what the beneficiary gets,
beneficiary or named payee, purpose, reference, flags, and the buttons."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.commands.helpers import APPROVALS, card_for, request_payout
from whalet.money import Money


def _visible(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _dm_copy(stack: Any, user: str, request_id: str) -> str:
    def found() -> str | None:
        channel = stack.fake.dm_channel(user)
        messages = stack.fake.messages(channel) if channel else []
        return next((t for m in messages if request_id in (t := _visible(m.blocks))), None)

    return stack.fake.wait_for(found)


def _home_entry(stack: Any, user: str, request_id: str) -> str:
    assert stack.slack_requests.event({"type": "app_home_opened", "user": user, "tab": "home"}).status_code == 200

    def found() -> str | None:
        views = [v for v in stack.fake.views(user=user) if v.action == "views.publish"]
        return next((t for v in views if request_id in (t := _visible(v.view["blocks"]))), None)

    return stack.fake.wait_for(found)


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        (
            'payout 25000 USD to acme-hk for "Machines" ref "PO-7781"',
            [
                "25,000.00 USD",
                "*Fee*",
                "*Total debited*",
                "*Rate*",
                "*Beneficiary gets*",
                "HKD",
                "Acme Trading Ltd",
                "••••8901",
                "Machines",
                "PO-7781",
                "above usual size",
            ],
        ),
        (
            'pay 300 USD to U10002 for "shared costs"',
            ["300.00 USD", "*Fee*", "*Total debited*", "Globex Export Co (Whalet user U10002)", "shared costs"],
        ),
    ],
)
def test_card_dm_copy_and_home_show_the_same_facts(stack: Any, text: str, facts: list[str]) -> None:
    request_id, card = request_payout(stack, text)
    surfaces = {
        "card": _visible(card_for(stack, request_id).blocks),
        "dm copy": _dm_copy(stack, "U0APP1", request_id),
        "home": _home_entry(stack, "U0APP2", request_id),
    }
    for where, shown in surfaces.items():
        missing = [fact for fact in facts if fact not in shown]
        assert not missing, f"{where} lacks {missing}"
        assert "approval_approve" in shown and "approval_reject" in shown, where
    assert not [m for m in stack.fake.messages(APPROVALS) if "Whalet user U10002?" in m.text]


def test_the_total_debited_adds_the_fee_in_the_amounts_currency(stack: Any) -> None:
    request_id, card = request_payout(stack, "payout 1200.50 USD to acme-us")
    with stack.services.store.read() as db:
        row = next(db.query("SELECT amount, fee, fee_currency FROM approval_requests WHERE id = ?", [request_id]))
    assert row["fee_currency"] == "USD" and Decimal(row["fee"]) > 0, row  # the sandbox's fee for a USD payout
    total = Money(Decimal(row["amount"]) + Decimal(row["fee"]), "USD").format()
    assert f"*Total debited*\\n{total}" in _visible(card.blocks)
