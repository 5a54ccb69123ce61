"""A signed `/whalet payout` sent three times (a replay inside Slack's 5-minute window) makes one request."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.commands.helpers import cards, responses_since


def test_three_copies_of_one_signed_payout_command_make_one_request_and_one_card(stack, database_url) -> None:  # type: ignore[no-untyped-def]
    before = len(stack.fake.responses())
    first = stack.slack_requests.command("U0REQ", 'payout 250 USD to acme-us for "replayed"')
    assert first.status_code == 200
    body = urlencode(stack.slack_requests.last_payload).encode()
    headers = stack.slack_requests.sign(body)  # the same bytes and the same signature, as captured
    # Replayed once the first copy's request exists, so the answers can name it (copies that come
    # while it is still being made are refused too, and say so).
    responses_since(stack, before, n=1, timeout=20)
    for _ in range(2):
        again = stack.slack_requests.post(
            body, timestamp=int(headers["X-Slack-Request-Timestamp"]), signature=headers["X-Slack-Signature"]
        )
        assert again.status_code == 200
    answers = responses_since(stack, before, n=3)
    made = [a.text for a in answers if "Request `" in a.text]
    assert len(made) == 1, [a.text for a in answers]
    request_id = made[0].split("Request `")[1].split("`")[0]
    replays = [a.text for a in answers if "already received once" in a.text]
    assert len(replays) == 2 and all(request_id in text for text in replays), replays
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM approval_requests").fetchone()[0] == 1
    assert len([c for c in cards(stack) if request_id in str(c.blocks)]) == 1


def test_copies_that_come_while_the_request_is_being_made_are_refused_and_say_so(stack, database_url) -> None:  # type: ignore[no-untyped-def]
    """Whalet slow to take the payout: the copies arrive while the first is still at Whalet; they
    make nothing and say the request is still being made."""
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "payoutApply", "kind": "latency", "seconds": 1.5}]}
    ).raise_for_status()
    before = len(stack.fake.responses())
    assert stack.slack_requests.command("U0REQ", 'payout 250 USD to acme-us for "slow"').status_code == 200
    body = urlencode(stack.slack_requests.last_payload).encode()
    headers = stack.slack_requests.sign(body)
    for _ in range(2):
        again = stack.slack_requests.post(
            body, timestamp=int(headers["X-Slack-Request-Timestamp"]), signature=headers["X-Slack-Signature"]
        )
        assert again.status_code == 200
    answers = [a.text for a in responses_since(stack, before, n=3, timeout=20)]
    assert sum("still being made" in text for text in answers) == 2, answers
    assert sum("Request `" in text for text in answers) == 1, answers
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM approval_requests").fetchone()[0] == 1
