"""Rendering: the purposeful messages, the generic one, masking, Slack's size limits."""

from __future__ import annotations

import json
from decimal import Decimal

from whalet.masking import mask, mask_digit_runs
from notifications.render import generic, render
from notifications.rendered import with_mention

USERS = {"U10001": "Acme Trading Ltd"}
COLLECTION = {
    "userId": "U10001",
    "collectionId": "COL0001",
    "virtualAccountNo": "6222020000001234",
    "fundSource": "B2C",
    "currency": "USD",
    "amount": {"amount": Decimal("1200.5"), "cent": 120050, "centFactor": 100, "currency": "USD"},
    "payerName": "Wayne <Enterprises> & Co",
    "payerAccount": "GB29NWBK60161331926819",
    "receivedTime": "2024-05-01 09:29:00",
    "status": "SUCCESS",
}


def dump(rendered) -> str:  # type: ignore[no-untyped-def]
    return rendered.text + json.dumps(rendered.blocks, ensure_ascii=False)


def test_mask_keeps_only_the_last_four() -> None:
    assert mask("6222 0200 0000 1234") == "••••1234"
    assert mask("GB29NWBK60161331926819") == "••••6819"
    assert mask(None) == "••••"
    assert mask_digit_runs("sent to 6222020000001234 on 2024-05-01") == "sent to ••••1234 on 2024-05-01"


def test_collection_shows_amount_payer_masked_accounts_and_fund_source() -> None:
    rendered = render("collectionReceivedNotify", "collectionReceivedNotify", COLLECTION, USERS)
    text = dump(rendered)
    assert "1,200.50 USD" in text and "B2C" in text and "Acme Trading Ltd" in text
    assert "Wayne &lt;Enterprises&gt; &amp; Co" in text  # escaped, so not a Slack link or mention
    assert "••••1234" in text and "••••6819" in text
    assert "6222020000001234" not in text and "GB29NWBK60161331926819" not in text
    assert rendered.fold_line == "1,200.50 USD from Wayne &lt;Enterprises&gt; &amp; Co into ••••1234"


def test_payout_result_success_and_failure() -> None:
    body = {
        "userId": "U10001",
        "payoutId": "PO1",
        "merOrderNo": "P123",
        "status": "FAIL",
        "currency": "USD",
        "amount": Decimal("100.00"),
        "fee": Decimal("1.50"),
        "toCurrency": "HKD",
        "toAmount": Decimal("780.00"),
        "failReason": "account 12345678901 closed",
        "finishTime": "2024-05-01 10:00:00",
    }
    text = dump(render("payoutResultNotify", "payoutResultNotify", body, USERS))
    assert "Payout failed: 100.00 USD" in text and "780.00 HKD" in text and "1.50 USD" in text
    assert "••••8901 closed" in text and "12345678901" not in text
    ok = dump(render("payoutResultNotify", "payoutResultNotify", {**body, "status": "SUCCESS"}, USERS))
    assert "Payout completed" in ok


def test_known_api_code_with_an_unreadable_body_falls_back_to_generic() -> None:
    rendered = render("collectionReceivedNotify", "collectionReceivedNotify", {"collectionId": "C9"}, USERS)
    assert "Whalet notification: collectionReceivedNotify" in dump(rendered)
    assert "Could not read this as a collectionReceivedNotify" in dump(rendered)


def test_generic_rendering_masks_accounts_and_cards_and_keeps_ids_and_money() -> None:
    body = {
        "userId": "U10001",
        "cardNo": "4111111111111111",
        "bankAccount": "12-3456-7890123",
        "ibanCode": "DE89370400440532013000",
        "accountName": "Acme Ltd",
        "orderId": "ORD-77",
        "amount": Decimal("12345678.90"),
        "currency": "EUR",
        "note": "ref 98765432109",
        "details": {"accountNo": "000123456789"},
        "when": "2024-05-01 10:00:00",
    }
    text = dump(generic("cardFrozenNotify", body, USERS))
    for secret in ("4111111111111111", "7890123", "DE89370400440532013000", "98765432109", "000123456789"):
        assert secret not in text
    assert "••••1111" in text and "••••3000" in text and "••••2109" in text
    assert "Acme Ltd" in text and "ORD-77" in text and "12,345,678.90 EUR" in text
    assert "Acme Trading Ltd" in text and "cardFrozenNotify" in text


def test_generic_rendering_stays_within_slack_limits() -> None:
    body = {f"field{i}": "x" * 5000 for i in range(600)}
    rendered = generic("hugeNotify", body, {})
    assert len(rendered.blocks) <= 50
    for block in rendered.blocks:
        for item in block.get("fields", []):
            assert len(item["text"]) <= 2000
        if block.get("text"):
            assert len(block["text"]["text"]) <= 3000


def test_mention_is_added_to_text_and_blocks() -> None:
    rendered = with_mention(
        render("connectivityNotify", "connectivityNotify", {"message": "hi", "requestNo": "R1"}, USERS), "S0TEAM"
    )
    assert rendered.text.startswith("<!subteam^S0TEAM>")
    assert "<!subteam^S0TEAM>" in json.dumps(rendered.blocks)


def test_onboarding_result_rendering() -> None:
    text = dump(
        render(
            "userOnboardingResultNotify",
            "userOnboardingResultNotify",
            {"userId": "U10001", "status": "REJECT", "remark": "blurred passport"},
            USERS,
        )
    )
    assert "Onboarding review: REJECT" in text and "blurred passport" in text


def assert_valid_block_kit(blocks: list[dict]) -> None:  # type: ignore[type-arg]
    """Each block parses into slack_sdk's model, passes its validation and round-trips unchanged."""
    from slack_sdk.models.blocks import Block

    assert len(blocks) <= 50
    for raw in blocks:
        model = Block.parse(raw)
        assert model is not None, raw
        assert model.to_dict() == raw  # to_dict() runs the SDK's validate_json (limits, required keys)


def test_every_kind_of_message_is_valid_block_kit() -> None:
    from core.clock import iso
    from datetime import UTC, datetime
    from notifications import render_replenish

    payout = {
        "userId": "U10001",
        "payoutId": "PO1",
        "merOrderNo": "P123",
        "status": "SUCCESS",
        "currency": "USD",
        "amount": Decimal("100.00"),
        "fee": Decimal("1.50"),
        "toCurrency": "HKD",
        "toAmount": Decimal("780.00"),
        "finishTime": "2024-05-01 10:00:00",
    }
    todo = {
        "replenish_id": "RP1",
        "kind": "trade",
        "user_id": "U10001",
        "trade_id": "T1",
        "trade_type": "COLLECTION",
        "reason": "check",
        "materials": ["Invoice", {"name": "Contract", "description": "signed"}],
        "deadline": iso(datetime(2024, 5, 3, tzinfo=UTC)),
        "state": "OPEN",
        "owner": None,
        "result": None,
        "remark": None,
    }
    messages = [
        render("collectionReceivedNotify", "collectionReceivedNotify", COLLECTION, USERS),
        render("payoutResultNotify", "payoutResultNotify", payout, USERS),
        render("connectivityNotify", "connectivityNotify", {"message": "hi", "requestNo": "R1"}, USERS),
        render("virtualAccountNotify", "virtualAccountNotify", {"userId": "U1", "status": "PASS"}, USERS),
        generic("hugeNotify", {f"field{i}": "x" * 5000 for i in range(600)}, {}),
        render_replenish.card(todo, USERS),
        render_replenish.card({**todo, "state": "CLOSED", "result": "PASS", "owner": "U0A"}, USERS),
        with_mention(render_replenish.reminder(todo), "S0TEAM"),
    ]
    for message in messages:
        assert_valid_block_kit(message.blocks)
