"""GET /metrics: Prometheus text with counters bumped by real traffic and state read from SQLite."""

from __future__ import annotations


from devkit.localstack import LocalStack
from core.storage.outbox import enqueue_post


def test_metrics_show_whalet_calls_acks_and_outbox_state(stack: LocalStack) -> None:
    stack.slack_requests.command("U0REQ", "balance")
    stack.fake.wait_for(lambda: stack.fake.responses())
    with stack.services.store.transaction() as db:
        enqueue_post(db, channel="C0METRICS", text="hello")
    stack.services.wake_outbox()
    stack.fake.wait_for(lambda: stack.fake.messages("C0METRICS"))

    def scrape() -> str:
        return stack.http.get("/metrics").text

    text = stack.fake.wait_for(lambda: (t := scrape()) and 'state="done"' in t and t)
    assert 'whalet_bot_whalet_calls_total{operation="queryCurrencyBalance",result="SUCCESS"}' in text
    assert "whalet_bot_slack_ack_seconds_count" in text
    assert 'whalet_bot_outbox_messages{state="done"}' in text
    assert "whalet_bot_inbox_backlog" in text
    assert 'whalet_bot_commands_total{outcome="ok",subcommand="balance"} 1.0' in text


def test_metrics_count_webhook_receipts_and_bad_commands(stack: LocalStack) -> None:
    stack.slack_requests.command("U0REQ", "payout lots of money")
    stack.operator.post("/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "12.00"})
    stack.fake.wait_for(lambda: stack.fake.messages("C0COLLECT"))
    stack.http.post("/whalet/webhook", content=b'{"head": {}, "body": {}}')
    text = stack.http.get("/metrics").text
    assert 'whalet_bot_commands_total{outcome="bad_input",subcommand="payout"} 1.0' in text
    assert 'whalet_bot_webhook_receipts_total{api_code="collectionReceivedNotify",outcome="stored"} 1.0' in text
    assert 'whalet_bot_webhook_receipts_total{api_code="unverified",outcome="malformed"} 1.0' in text
