"""A book over Slack's 100-option cap: the payout form searches it instead of cutting it short."""

from __future__ import annotations

from collections.abc import Callable

from devkit.localstack import DEMO_CONFIG, LocalStack

EXTRA = 117  # with the demo's 3: 120 entries


def large_book(extra: int = EXTRA) -> str:
    entries = "".join(
        f'\n[[beneficiaries]]\nid = "BENX{n:03d}"\nnickname = "vendor-{n:03d}"\n'
        f'name = "Vendor {n:03d} Ltd"\ncountry = "US"\ncurrency = "USD"\naccount_tail = "{n:04d}"\n'
        for n in range(extra)
    )
    return DEMO_CONFIG.replace("\n[[routes]]", entries + "\n[[routes]]", 1)


def test_a_book_of_120_is_searched_and_every_entry_can_be_paid(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(large_book())
    assert stack.slack_requests.command("U0REQ", "payout").status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "payout_modal"), None)
    ).view
    element = next(b for b in view["blocks"] if b.get("block_id") == "beneficiary")["element"]
    assert element["type"] == "external_select" and "options" not in element

    def search(typed: str) -> list[str]:
        answer = stack.slack_requests.block_suggestion("U0REQ", view, "beneficiary", typed)
        assert answer.status_code == 200, answer.text
        return [o["value"] for o in answer.json()["options"]]

    assert search("") == [e.id for e in stack.config.beneficiaries][:100]  # Slack's cap on one answer
    assert search("hooli") == ["BEN002"]
    assert search("VENDOR 116") == ["BENX116"]  # the last entry, beyond the first 100
    assert search("usd vendor-00") == [f"BENX00{n}" for n in range(10)]
    assert search("nothing like this") == []

    submitted = stack.slack_requests.view_submission(
        "U0REQ", view, {"beneficiary": "BEN002", "amount": "250", "currency": "USD"}
    )
    assert submitted.status_code == 200 and submitted.text == ""
    note = stack.fake.wait_for(
        lambda: next((e for e in stack.fake.ephemerals("U0REQ") if "Sent for approval" in e.text), None)
    )
    assert "Hooli Components Inc" in note.text


def test_a_book_of_exactly_100_keeps_the_plain_menu_with_every_entry(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(large_book(97))
    assert stack.slack_requests.command("U0REQ", "payout").status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "payout_modal"), None)
    ).view
    element = next(b for b in view["blocks"] if b.get("block_id") == "beneficiary")["element"]
    assert element["type"] == "static_select" and len(element["options"]) == 100
