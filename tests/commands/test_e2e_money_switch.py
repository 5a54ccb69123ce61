"""The live-money switch: against a gateway that may be production, money waits for money_enabled.

The switch sits above the transport seam (whalet/client.py), so one profile suffices here; the
client-level test in tests/whalet/test_v1.py covers every money-moving call under v1.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from devkit.localstack import DEMO_CONFIG, LocalStack
from tests.commands.helpers import ask

PRODUCTION_LIKE = {"legacy": "https://gateway.whalet.invalid/api", "v1": "https://gateway.whalet.invalid"}


def test_payouts_are_refused_with_a_sentence_until_money_is_switched_on(
    make_stack: Callable[..., LocalStack], whalet_protocol: str
) -> None:
    stack = make_stack(settings_overrides={"whalet_base_url": PRODUCTION_LIKE[whalet_protocol]})
    _, post = ask(stack, "U0REQ", 'payout 100 USD to acme-us for "May invoice"')
    assert "Moving money is switched off for this Whalet gateway, so nothing was sent" in post.text
    assert "money_enabled = true" in post.text
    _, status = ask(stack, "U0VIEW", "status", timeout=15)
    shown = json.dumps(status.body)
    assert "moving money is OFF" in shown and "gateway.whalet.invalid" in shown

    switched_on = DEMO_CONFIG.replace("[whalet]\n", "[whalet]\nmoney_enabled = true\n", 1)
    stack = make_stack(switched_on, settings_overrides={"whalet_base_url": PRODUCTION_LIKE[whalet_protocol]})
    _, post = ask(stack, "U0REQ", 'payout 100 USD to acme-us for "May invoice"', timeout=15)
    assert "switched off" not in post.text  # past the switch, it really tries (and cannot reach) Whalet
    _, status = ask(stack, "U0VIEW", "status", timeout=15)
    assert "moving real money is ON" in json.dumps(status.body)
