"""Logs of a whole demo run: JSON lines, correlation ids that can be followed, and no secrets.

The unattended demo (balance, payout request, approval, confirm, result, money received, digest)
runs with the root logger at DEBUG writing JSON lines into a buffer, exactly as `whalet-bot run`
configures it when not on a terminal. Then the buffer and the rendered demo output are searched
for every secret the run used and every full account number the sandbox knows.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rich.console import Console

from devkit.demo import run_demo
from devkit.localstack import LocalStack
from bot.logs import JsonFormatter, configure_logging, redact


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (
        list(root.handlers),
        root.level,
        {
            name: logging.getLogger(name).level
            for name in ("httpx", "httpcore", "uvicorn.access", "apscheduler.executors.default")
        },
    )
    buffer = io.StringIO()
    configure_logging(logging.DEBUG, stream=buffer)  # a StringIO is not a terminal: JSON lines
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def _account_numbers(stack: LocalStack) -> set[str]:
    """Every full account / virtual account / IBAN the sandbox knows or sent us."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif (
            isinstance(value, str)
            and ("account" in key.lower() or "iban" in key.lower())
            and len(re.sub(r"\D", "", value)) >= 8
        ):
            found.add(value)

    walk(stack.operator.get("/sandbox/beneficiaries").json())
    walk([n["body"] for n in stack.operator.get("/sandbox/notifications").json()["notifications"]])
    walk(stack.operator.get("/sandbox/payouts").json())
    return found


def _key_body_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def test_demo_run_logs_follow_correlation_ids_and_never_show_secrets(
    make_stack: Callable[..., LocalStack], json_log: io.StringIO
) -> None:
    stack = make_stack()
    rendered = io.StringIO()
    assert run_demo(interactive=False, console=Console(file=rendered, width=120, no_color=True), stack=stack) == 0
    logs = json_log.getvalue()
    everything = logs + rendered.getvalue()

    events = [json.loads(line) for line in logs.splitlines()]  # every line is one JSON object
    assert len(events) > 50 and all({"time", "level", "logger", "message"} <= set(e) for e in events)
    requests = [e for e in events if e.get("event") == "slack_request"]  # one event per Slack request
    assert requests and all(e["status"] == 200 and "duration_ms" in e and e.get("user") for e in requests)

    secrets = {
        "the Slack bot token": stack.settings.slack_bot_token.get_secret_value(),
        "the signing secret": stack.settings.slack_signing_secret.get_secret_value(),
    }
    for name, path in (
        ("the partner private key", stack.sandbox.keys.partner_private),
        ("Whalet's private key", stack.sandbox.keys.whalet_private),
    ):
        for index, line in enumerate(_key_body_lines(path.read_bytes())):
            secrets[f"{name}, line {index + 1}"] = line
    numbers = _account_numbers(stack)
    assert len(numbers) >= 4, numbers  # beneficiaries' accounts, virtual accounts, the payer's IBAN
    for name, secret in secrets.items():
        assert secret not in everything, f"{name} appears in the logs or the demo output"
    for number in numbers:
        assert number not in everything, f"account number {number} appears in the logs or the demo output"
    # Capabilities a log reader must not get: every response_url (rewrites a card for 30 minutes),
    # trigger_id (opens a modal as the user) and upload URL the stand-in handed out in the run.
    issued = stack.fake.store
    capabilities = [f"/response/{rid}" for rid in issued.targets] + list(issued.triggers)
    assert len(capabilities) > 10, capabilities
    leaked = [c for c in capabilities if c in logs]
    assert not leaked, [line for line in logs.splitlines() if leaked[0] in line][:3]
    assert "/upload/v1/" not in logs.replace("/upload/[redacted]", "")

    # A notification can be followed from the webhook to its Slack post ...
    by_event: dict[str, set[str]] = {}
    for event in events:
        if event.get("correlation_id"):
            by_event.setdefault(event.get("event", ""), set()).add(event["correlation_id"])
    assert (
        by_event.get("webhook_stored", set())
        & by_event.get("inbox_relayed", set())
        & by_event.get("outbox_delivered", set())
    )
    # ... and a payout from the request to approval, confirm, result (and its card in Slack).
    payout_chain = (
        "approval_request",
        "slack_request",
        "approval_approve",
        "approval_confirm",
        "approval_result_success",
        "outbox_delivered",
    )  # slack_request: the Approve click
    followed = set.intersection(*(by_event.get(name, set()) for name in payout_chain))
    assert followed and all(request_id.startswith(("PO-", "PY-")) for request_id in followed), by_event.keys()


def test_redaction_is_the_last_line_of_defence() -> None:
    """Even a careless log call with a token or an account number comes out masked (the filter
    configure_logging attaches applies this same ``redact``)."""
    record = logging.LogRecord(
        "t",
        logging.WARNING,
        __file__,
        1,
        "token %s account %s iban %s",
        ("xoxb-1234-5678-abcdef", "012345678901", "DE89370400440532013000"),
        None,
    )
    line = redact(JsonFormatter().format(record))
    assert "xoxb-1234" not in line and "012345678901" not in line and "8901" in line
    assert "0532013000" not in line
