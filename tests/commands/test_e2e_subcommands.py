"""Every sub-command's happy path and its bad inputs, through the real app."""

import json
import re

from tests.commands.helpers import ask, request_payout
from tests.fixtures.whalet import BOTH_PROTOCOLS

pytestmark = BOTH_PROTOCOLS  # every operation, in both protocol profiles


def ack_text(stack, user, text):
    http, post = ask(stack, user, text)
    assert post is None, f"expected an answer in the ack, got a response: {post.text if post else ''}"
    body = http.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


BAD_INPUTS = [
    ("payout 12.345 USD to acme-us", "USD amounts have at most 2 decimals", "payout AMOUNT CUR to"),
    ("payout 10.5 JPY to acme-us", "JPY amounts have no decimals", "payout AMOUNT"),
    ("payout 100 XYZ to acme-us", "not an ISO 4217 currency", "payout AMOUNT"),
    ("payout abc USD to acme-us", "'abc' is not an amount", "payout AMOUNT"),
    ("payout 100 USD acme-us", "write the amount, the currency, 'to'", "payout AMOUNT"),
    ('payout 100 USD to acme-us for "never closed', "never closed", "help"),
    ("payout 100 USD to acme-us for", "'for' needs a value", "payout AMOUNT"),
    ("payout 100 USD to acme-us with x", "did not expect 'with'", "payout AMOUNT"),
    ("pay 0 USD to U20001", "above zero", "pay AMOUNT"),
    ("pay 10 USD U20001", "'to'", "pay AMOUNT"),
    ("rate USD", "give two currencies", "rate FROM TO"),
    ("rate USD USD", "both currencies are USD", "rate FROM TO"),
    ("rate USD HKD --source B2X", "not a fund source", "rate FROM TO"),
    ("balance USD EUR", "at most one currency", "balance [CUR]"),
    ("balance --nope", "unknown option '--nope'", "balance [CUR]"),
    ("history", "say which records", "history collections"),
    ("history payouts --days 400", "from 1 to 90", "history collections"),
    ("beneficiaries XX", "not a country code", "beneficiaries [COUNTRY]"),
    ("beneficiaries add HK", "country and a currency", "beneficiaries [COUNTRY]"),
    ("pending now", "takes no arguments", "pending"),
    ("frobnicate", "`frobnicate` is not a /whalet sub-command", None),
    ("payuot 10 USD to acme-us", "Did you mean `payout`?", None),
]


def test_bad_input_is_answered_in_the_ack_with_usage(stack):
    """One stack for all cases (starting one per case would triple the suite's time)."""
    problems = []
    for text, needle, usage in BAD_INPUTS:
        answer = ack_text(stack, "U0REQ", text)
        if needle.lower() not in answer.lower() or (usage and f"Usage: `/whalet {usage}" not in answer):
            problems.append(f"{text!r} -> {answer!r}")
    assert problems == []
    assert stack.fake.responses() == []  # no handler ran: nothing was sent after any ack
    assert stack.operator.get("/sandbox/payouts").json()["records"] == []


def test_unknown_beneficiary_and_currency_mismatch_never_reach_whalet(stack):
    _, post = ask(stack, "U0REQ", "payout 100 USD to nobody")
    assert "'nobody' is not in the beneficiary book" in post.text and "acme-us" in post.text
    _, post = ask(stack, "U0REQ", "payout 100 USD to acme-us as HKD")
    assert "beneficiary acme-us receives USD, not HKD" in post.text
    _, post = ask(stack, "U0REQ", "payout 300000 USD to acme-us")
    assert "above the bot's ceiling of 250,000.00 USD" in post.text
    _, post = ask(stack, "U0VIEW", "payout 10 USD to acme-us")
    assert "for requesters and above; your role is viewer" in post.text
    assert stack.confirm_counts() == {}
    assert stack.operator.get("/sandbox/payouts").json()["records"] == []


def test_rate(stack):
    _, post = ask(stack, "U0VIEW", "rate usd hkd")
    assert post.text.startswith("1 USD = ") and "HKD" in post.text
    assert "Rate id" in json.dumps(post.body) and "<!date^" in json.dumps(post.body)


def test_balance_share_and_source(stack):
    _, post = ask(stack, "U0REQ", "balance --source B2C --share")
    assert post.response_type == "in_channel" and "Balances of U10001 (B2C)" in post.text
    _, post = ask(stack, "U0VIEW", "balance --user U99999")
    assert "not one of the configured Whalet users" in post.text


def test_pay_goes_through_approval(stack, database_url):
    _, post = ask(stack, "U0REQ", 'pay 300 USD to U10002 for "shared costs"')
    assert "Sent for approval" in post.text and "Pay 300.00 USD to Globex Export Co (Whalet user U10002)?" in post.text


def test_pending_lists_open_requests(stack, database_url):
    request_id, _ = request_payout(stack, "payout 20000 USD to acme-us")
    _, post = ask(stack, "U0VIEW", "pending")
    assert request_id in json.dumps(post.body) and "needs 2 more approvers" in json.dumps(post.body)


def test_history_payouts_after_a_payout(stack):
    request_id, card = request_payout(stack)
    _, post = ask(stack, "U0VIEW", "history payouts --days 2")
    assert "Payouts of the last 2 days" in post.text
    assert "1,200.50 USD" in json.dumps(post.body, ensure_ascii=False)
    # Times in the reader's Slack zone (the stand-in's people are in UTC), and the note says so.
    assert "Times in your Slack time zone (UTC)." in json.dumps(post.body)
    assert re.search(
        r"• \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC  \*1,200.50 USD\*", json.dumps(post.body, ensure_ascii=False)
    )
    _, post = ask(stack, "U0VIEW", "history pays")
    assert "none" in post.text


def test_status(stack, database_url):
    _, post = ask(stack, "U0VIEW", "status")
    body = json.dumps(post.body)
    assert "Whalet answers" in body and "Slack outbox" in body and "Approvals: 0 open requests" in body
    assert "protocol at" in body and "a test gateway, payouts allowed" in body


def test_beneficiaries_list_is_masked(stack):
    _, post = ask(stack, "U0VIEW", "beneficiaries")
    body = json.dumps(post.body, ensure_ascii=False)
    assert "acme-us" in body and "••••6789" in body
    _, post = ask(stack, "U0VIEW", "beneficiaries DE")
    assert "1 beneficiary in DE" in post.text


def test_payout_modal_errors_then_success(stack):
    http = stack.slack_requests.command("U0REQ", "payout")
    assert http.status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "payout_modal"), None)
    )
    bad = stack.slack_requests.view_submission(
        "U0REQ", view.view, {"beneficiary": "BEN002", "amount": "12.345", "currency": "USD", "to_currency": "HKD"}
    )
    assert bad.status_code == 200
    errors = bad.json()
    assert errors["response_action"] == "errors"
    assert "at most 2 decimals" in errors["errors"]["amount"]
    assert "receives USD, not HKD" in errors["errors"]["to_currency"]
    bad = stack.slack_requests.view_submission(
        "U0REQ", view.view, {"beneficiary": "BEN002", "amount": "10", "currency": "DOLLARS"}
    )
    assert "currency" in bad.json()["errors"]
    good = stack.slack_requests.view_submission(
        "U0REQ", view.view, {"beneficiary": "BEN002", "amount": "250", "currency": "USD", "purpose": "Samples"}
    )
    assert good.status_code == 200 and good.text == ""
    note = stack.fake.wait_for(
        lambda: next((e for e in stack.fake.ephemerals("U0REQ") if "Sent for approval" in e.text), None)
    )
    assert "250.00 USD" in note.text


def test_beneficiary_add_modal_driven_by_whalet(stack, database_url):
    assert stack.slack_requests.command("U0REQ", "beneficiaries add").status_code == 200
    pick = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "beneficiary_pick_modal"), None)
    )
    r = stack.slack_requests.view_submission("U0REQ", dict(pick.view, id=pick.id), {"where": "HK:HKD"})
    assert r.json()["response_action"] == "update"
    form = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "beneficiary_form_modal"), None)
    )
    form_view = dict(form.view, id=form.id)
    bad = stack.slack_requests.view_submission(
        "U0REQ",
        form_view,
        {
            "nickname": "Bad Name",
            "f_accountName": "Kowloon Parts",
            "f_accountNo": "12",
            "f_bankName": "HSBC",
            "f_swiftCode": "HSBCHKHHXXX",
            "f_bankCode": "004",
        },
    )
    errors = bad.json()["errors"]
    assert set(errors) == {"nickname", "f_accountNo"}
    good = stack.slack_requests.view_submission(
        "U0REQ",
        form_view,
        {
            "nickname": "kowloon-parts",
            "f_accountName": "Kowloon Parts",
            "f_accountNo": "123456789",
            "f_bankName": "HSBC",
            "f_swiftCode": "HSBCHKHHXXX",
            "f_bankCode": "004",
        },
    )
    assert good.status_code == 200 and good.text == ""
    stack.fake.wait_for(
        lambda: any("Sent to Whalet: *kowloon-parts*" in e.text for e in stack.fake.ephemerals("U0REQ"))
    )
    with stack.services.store.read() as db:
        stored = next(db.query("SELECT * FROM beneficiary_book WHERE nickname = 'kowloon-parts'"))
    assert stored["account_tail"] == "6789" and stored["status"] in ("PROCESSING", "SUCCESS")
