"""Sub-commands through the real Bolt app over HTTP, signed like Slack, against the sandbox."""

import json

from tests.fixtures.whalet import BOTH_PROTOCOLS

pytestmark = BOTH_PROTOCOLS  # every operation, in both protocol profiles


def last_response(stack, n=1):
    return stack.fake.wait_for(lambda: len(stack.fake.responses()) >= n and stack.fake.responses()[n - 1])


def test_balance_happy_path(stack):
    r = stack.slack_requests.command("U0VIEW", "balance USD")
    assert r.status_code == 200 and r.text == ""
    post = last_response(stack)
    assert post.response_type == "ephemeral"
    body = json.dumps(post.body)
    assert "USD" in body and "available" in body


def test_help(stack):
    r = stack.slack_requests.command("U0REQ", "help")
    assert r.status_code == 200
    text = last_response(stack).text
    assert "requester" in text and "/whalet payout" in text


def test_a_command_whose_words_say_payload_is_routed_like_any_other(stack):
    """Bolt's own parser takes any form body containing "payload" for an interaction; the door
    parses once and hands Bolt that parse, so a purpose or a channel name cannot misroute."""
    from tests.commands.helpers import ask

    http, answer = ask(stack, "U0REQ", 'payout 10 USD to acme-us for "payload adapter"')
    assert http.status_code == 200 and answer is not None and "Sent for approval" in answer.text
    http, answer = ask(stack, "U0VIEW", "help payload")
    assert http.status_code == 200
