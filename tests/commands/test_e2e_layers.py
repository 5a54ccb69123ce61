"""Approval layers (issue 21, item 5): one approval from each layer, in order, by different
people, through signed clicks on the real app; group members read from the Slack stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.config import BotConfig, ConfigError, load_config
from devkit.localstack import DEMO_CONFIG
from tests.commands.helpers import card_for, click, request_payout, row

LAYERED = DEMO_CONFIG.replace(
    '{ currency = "USD", up_to = "100000", approvals = 2 }',
    '{ currency = "USD", up_to = "100000", layers = [["U0APP1", "S0LEADS"], ["U0ADM"]] }',
).replace('approvers = ["U0APP1", "U0APP2"]', 'approvers = ["U0APP1", "U0APP2"]\napprover_groups = ["S0LEADS"]')
LEADS = {"S0LEADS": ["U0LEAD"]}


def _card_text(stack: Any, request_id: str) -> str:
    return json.dumps(card_for(stack, request_id).blocks)


def _approvals(stack: Any, request_id: str) -> list[tuple[str, int | None]]:
    with stack.services.store.read() as db:
        return [
            (r["approver"], r["layer"]) for r in db.query("SELECT * FROM approvals WHERE request_id = ?", [request_id])
        ]


def test_layers_are_approved_in_order_by_different_people(make_stack: Any) -> None:
    stack = make_stack(LAYERED)
    stack.fake.usergroups = dict(LEADS)
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")
    assert "Layer 1 of 2* (<@U0APP1>, <!subteam^S0LEADS>): waiting" in _card_text(stack, request_id)

    early = click(stack, "U0ADM", card)
    assert early.text == (
        "This request is approved layer by layer and now needs layer 1 of 2 (<@U0APP1>, <!subteam^S0LEADS>); "
        "you are in layer 2, so approve after that."
    )
    outsider = click(stack, "U0APP2", card)
    assert outsider.text.endswith("you are not in that layer.")
    assert _approvals(stack, request_id) == [] and row(stack, request_id)["state"] == "PENDING"

    assert "1 of 2" in click(stack, "U0LEAD", card).text  # a member of the layer's group
    shown = stack.fake.wait_for(
        lambda: (t := _card_text(stack, request_id)) and ":white_check_mark: <@U0LEAD>" in t and t
    )
    assert "Layer 2 of 2* (<@U0ADM>): waiting" in shown
    assert "sent to Whalet" in click(stack, "U0ADM", card).text
    stack.fake.wait_for(lambda: row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED"))
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 1
    assert sorted(_approvals(stack, request_id), key=lambda a: a[1] or 0) == [("U0LEAD", 0), ("U0ADM", 1)]


def test_one_person_in_two_layers_satisfies_only_one(make_stack: Any) -> None:
    config = LAYERED.replace(
        'layers = [["U0APP1", "S0LEADS"], ["U0ADM"]]', 'layers = [["U0APP1"], ["U0APP1", "U0ADM"]]'
    )
    stack = make_stack(config)
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")
    assert "1 of 2" in click(stack, "U0APP1", card).text
    assert "already approved" in click(stack, "U0APP1", card).text
    assert row(stack, request_id)["state"] == "PENDING"


def test_leaving_the_layer_before_the_next_one_approves_undoes_it(make_stack: Any) -> None:
    """Layer membership is read afresh at every decision, like roles: the team lead who approved
    layer 1 then left the leads' group, so layer 1 waits again and the CFO cannot release it."""
    stack = make_stack(LAYERED)
    stack.fake.usergroups = {"S0LEADS": ["U0LEAD"]}
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")
    assert "1 of 2" in click(stack, "U0LEAD", card).text
    stack.fake.usergroups = {"S0LEADS": []}
    refused = click(stack, "U0ADM", card)
    assert "now needs layer 1 of 2" in refused.text, refused.text
    assert row(stack, request_id)["state"] == "PENDING"
    assert stack.confirm_counts().get(row(stack, request_id)["mer_order_no"], 0) == 0


def test_a_tier_without_layers_works_as_before(make_stack: Any) -> None:
    stack = make_stack(LAYERED)
    request_id, card = request_payout(stack, "payout 500 USD to acme-us")  # the 1-approval tier
    assert "sent to Whalet" in click(stack, "U0APP2", card).text
    assert "Layer" not in _card_text(stack, request_id)


def test_layers_in_the_policy_file_are_checked(tmp_path: Any) -> None:
    tier = BotConfig.model_validate(
        {"approvals": {"channel": "C0A", "tiers": [{"currency": "USD", "up_to": "10", "layers": [["U1"], ["S2"]]}]}}
    ).approvals
    assert tier is not None and tier.tiers[0].approvals == 2
    path = tmp_path / "policy.toml"
    path.write_text(
        '[approvals]\nchannel = "C0A"\n'
        'tiers = [{ currency = "USD", up_to = "10", approvals = 3, layers = [["U1"], ["U2"]] }]\n'
    )
    with pytest.raises(ConfigError, match="needs one approval per layer"):
        load_config(path)
    path.write_text('[approvals]\nchannel = "C0A"\ntiers = [{ currency = "USD", up_to = "10", layers = [["#cfo"]] }]\n')
    with pytest.raises(ConfigError, match="a Slack user or user-group id"):
        load_config(path)
