"""A Whalet answer that fails its signature alerts the operators' channel, once, not per call."""

from __future__ import annotations

import time

from devkit.localstack import LocalStack


def test_bad_signature_from_whalet_alerts_the_alerts_channel_once(stack: LocalStack) -> None:
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "queryCurrencyBalance", "kind": "bad_signature", "times": None}]}
    ).raise_for_status()
    for _ in range(2):
        before = len(stack.fake.responses())
        stack.slack_requests.command("U0REQ", "balance USD")
        answer = stack.fake.wait_for(lambda start=before: stack.fake.responses()[start:])[0]
        assert "trustworthy answer" in answer.text
    alert = stack.fake.wait_for(lambda: stack.fake.messages("C0ALERTS"))
    assert "queryCurrencyBalance" in alert[0].text and "WHALET_PUBLIC_KEY" in alert[0].text
    time.sleep(0.5)
    assert len(stack.fake.messages("C0ALERTS")) == 1
    assert 'result="bad_signature"' in stack.services.metrics.render().decode()
