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
