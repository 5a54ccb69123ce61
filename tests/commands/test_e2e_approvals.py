"""Approvals end to end: real Bolt app, signed requests, fake Slack, Whalet sandbox over HTTP."""

import json

from tests.commands.helpers import audit_actions, card_for, click, has_buttons, request_payout, row
from tests.fixtures.whalet import BOTH_PROTOCOLS


@BOTH_PROTOCOLS
def test_payout_one_approver_confirms_once(stack, database_url: str | None):
    request_id, card = request_payout(stack)
    body = json.dumps(card.blocks, ensure_ascii=False)
    assert "Pay out 1,200.50 USD to Hooli Components Inc (••••6789)?" in body and "March invoices" in body
    assert "new beneficiary" in body and "0 of 1" in body and has_buttons(card)
    answer = click(stack, "U0APP1", card)
    assert "sent to Whalet" in answer.text and answer.response_type == "ephemeral"
    updated = stack.fake.wait_for(lambda: (m := stack.fake.message(card.channel, card.ts)) and not has_buttons(m) and m)
    assert "Approved by <@U0APP1>" in json.dumps(updated.blocks, ensure_ascii=False)
    stored = row(stack, request_id)
    assert stored["state"] in ("CONFIRMED", "SUCCEEDED")
    assert stack.confirm_counts()[stored["mer_order_no"]] == 1
    assert audit_actions(stack, request_id)[:3] == ["request.apply", "request", "approve"]


def test_requester_cannot_approve_own_payout(stack):
    request_id, card = request_payout(stack)
    answer = click(stack, "U0REQ", card)
    assert "You requested this payout, so someone else has to approve it." in answer.text
    assert row(stack, request_id)["state"] == "PENDING"
    assert stack.fake.message(card.channel, card.ts).updated_count == 0
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 0


def test_two_approver_tier_needs_two_distinct_people(stack, database_url: str | None):
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")
    first = click(stack, "U0APP1", card)
    assert "1 of 2" in first.text
    again = click(stack, "U0APP1", card)
    assert "already approved" in again.text
    assert row(stack, request_id)["state"] == "PENDING"
    card = stack.fake.wait_for(
        lambda: (m := stack.fake.message(card.channel, card.ts)) and "1 of 2" in json.dumps(m.blocks) and m
    )
    second = click(stack, "U0APP2", card)
    assert "sent to Whalet" in second.text
    stored = row(stack, request_id)
    assert stored["state"] in ("CONFIRMED", "SUCCEEDED")
    assert stack.confirm_counts()[stored["mer_order_no"]] == 1


def test_viewer_click_is_refused_and_changes_nothing(stack):
    request_id, card = request_payout(stack)
    answer = click(stack, "U0VIEW", card)
    assert "Only approvers" in answer.text
    assert row(stack, request_id)["state"] == "PENDING" and row(stack, request_id)["version"] == 2
    assert stack.fake.message(card.channel, card.ts).updated_count == 0


def test_altered_button_value_is_refused_by_fingerprint(stack):
    first_id, first_card = request_payout(stack)
    second_id, _ = request_payout(stack, "payout 300 USD to acme-us")
    answer = click(stack, "U0APP1", first_card, value=second_id)
    assert "refused" in answer.text and "does not belong" in answer.text
    assert row(stack, first_id)["state"] == "PENDING" and row(stack, second_id)["state"] == "PENDING"
    assert stack.confirm_counts()[row(stack, second_id)["mer_order_no"]] == 0


def test_tampered_signature_is_refused(stack):
    r = stack.slack_requests.command("U0REQ", "payout 10 USD to acme-us", tamper=True)
    assert r.status_code == 401
    stale = stack.slack_requests.command("U0REQ", "balance", timestamp=1_000_000)
    assert stale.status_code == 401
    assert stack.fake.responses() == [] and stack.confirm_counts() == {}


def test_reject_with_reason_then_late_approve_changes_nothing(stack):
    request_id, card = request_payout(stack)
    stack.slack_requests.block_action("U0APP1", card, "approval_reject")
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0APP1") if v.callback_id == "approval_reject_modal"), None)
    )
    r = stack.slack_requests.view_submission("U0APP1", view.view, {"reason": "wrong invoice"})
    assert r.status_code == 200
    updated = stack.fake.wait_for(lambda: (m := stack.fake.message(card.channel, card.ts)) and not has_buttons(m) and m)
    assert "Rejected by <@U0APP1>" in json.dumps(updated.blocks) and "wrong invoice" in json.dumps(updated.blocks)
    late = click(stack, "U0APP2", card)
    assert "rejected" in late.text
    assert row(stack, request_id)["state"] == "REJECTED"
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 0
    assert "reject" in audit_actions(stack, request_id)


def test_a_late_reject_on_an_approved_and_sent_request_says_what_happened(stack):
    request_id, card = request_payout(stack)
    assert "sent to Whalet" in click(stack, "U0APP1", card).text
    late = click(stack, "U0APP2", card, "approval_reject")  # the card as it was before the approval
    assert late.text == "This request was approved and sent; it can no longer be rejected."
    assert row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED")


def test_freeze_blocks_requests_and_approvals(stack):
    request_id, card = request_payout(stack)
    from tests.commands.helpers import ask

    _, refused = ask(stack, "U0REQ", "freeze")
    assert "admins" in refused.text
    _, done = ask(stack, "U0ADM", "freeze")
    assert "Frozen" in done.text
    stack.fake.wait_for(lambda: any("froze payouts" in m.text for m in stack.fake.messages("C0APPROVALS")))
    answer = click(stack, "U0APP1", card)
    assert "frozen" in answer.text
    _, new = ask(stack, "U0REQ", "payout 5 USD to acme-us")
    assert "frozen" in new.text
    assert row(stack, request_id)["state"] == "PENDING"
    _, lifted = ask(stack, "U0ADM", "unfreeze")
    assert "Unfrozen" in lifted.text
    assert "sent to Whalet" in click(stack, "U0APP1", card).text
    with stack.services.store.read() as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE subject = 'payouts'")]
    assert actions == ["freeze", "unfreeze"]


def test_a_hostile_purpose_cannot_draw_a_fake_line_or_reverse_text_on_the_card(stack):
    """A quoted purpose with a line break drew a fake bold `*Amount* 1.00 USD` line under a real
    payout, and U+202E made "Invoice \u202e0001 DSU" read "Invoice USD 1000"."""
    request_id, card = request_payout(stack, 'payout 10 USD to acme-us for "Invoice \u202e0001 DSU\n*Amount* 1.00 USD"')
    shown = json.dumps(card.blocks, ensure_ascii=False)
    purpose = next(f["text"] for b in card.blocks for f in b.get("fields", []) if f["text"].startswith("*Purpose*"))
    assert purpose == "*Purpose*\nInvoice 0001 DSU *Amount* 1.00 USD"  # one line, nothing reversed
    assert "\u202e" not in shown and shown.count("*Amount*") == 2  # the card's own label, and the quoted text


def test_request_again_after_a_rejection_makes_one_new_request_for_the_requester_only(stack):
    request_id, card = request_payout(stack, 'payout 250 USD to acme-us for "Invoice 12"')
    stack.slack_requests.block_action("U0APP1", card, "approval_reject")
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0APP1") if v.callback_id == "approval_reject_modal"), None)
    )
    stack.slack_requests.view_submission("U0APP1", view.view, {"reason": "wrong invoice"})
    rejected = stack.fake.wait_for(
        lambda: (
            (m := stack.fake.message(card.channel, card.ts)) and "approval_request_again" in json.dumps(m.blocks) and m
        )
    )
    assert "someone else" not in click(stack, "U0APP2", rejected, "approval_request_again").text
    assert "Only <@U0REQ>" in click(stack, "U0APP2", rejected, "approval_request_again").text
    answer = click(stack, "U0REQ", rejected, "approval_request_again")
    assert "Sent for approval" in answer.text, answer.text
    new_id = answer.text.split("Request `")[1].split("`")[0]
    assert new_id != request_id
    again = row(stack, new_id)
    assert (again["amount"], again["purpose"], again["beneficiary_id"]) == ("250.00", "Invoice 12", "BEN002")
    card_for(stack, new_id)
    twice = click(stack, "U0REQ", rejected, "approval_request_again")
    assert f"the new request is `{new_id}`" in twice.text
    assert "request.again" in audit_actions(stack, new_id)
