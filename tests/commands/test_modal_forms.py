"""A modal's private_metadata is only an id; what its submission needs is kept server-side.

The beneficiary form used to carry its validation rules in private_metadata and cut the JSON at
3,000 characters, which broke from about 44 fields on. These run against the strict Slack
stand-in, which refuses a view whose private_metadata is over 3,000 characters.
"""

from __future__ import annotations


from devkit.localstack import DEMO_CONFIG, LocalStack
from commands.modals import beneficiary_form_modal, recall, stash
from tests.commands.helpers import request_payout
from whalet.models import BeneficiaryField


def test_a_form_of_sixty_fields_keeps_every_rule_and_slack_accepts_the_view(stack: LocalStack) -> None:
    fields = [
        BeneficiaryField(
            name=f"field{n:02d}",
            label=f"Field number {n}",
            required=n % 2 == 0,
            max_length=35,
            pattern="^[A-Za-z0-9 ./-]{1,35}$",
        )
        for n in range(60)
    ]
    rules = [{"n": f.name, "r": f.required, "m": f.max_length, "p": f.pattern} for f in fields]
    form_id = stash(stack.services.store, {"channel": "C0FINANCE", "country": "HK", "currency": "HKD", "rules": rules})
    view = beneficiary_form_modal("HK", "HKD", fields, form_id)
    assert view["private_metadata"] == form_id and len(form_id) < 40

    async def open_it() -> str:
        opened = await stack.services.slack.views_open(trigger_id=stack.fake.new_trigger_id("U0REQ"), view=view)
        return str(opened["view"]["private_metadata"])

    assert stack.run(open_it()) == form_id
    kept = recall(stack.services.store, view)
    assert kept["rules"] == rules and (kept["country"], kept["channel"]) == ("HK", "C0FINANCE")


def test_reject_modal_escapes_the_beneficiary_name(make_stack) -> None:  # type: ignore[no-untyped-def]
    """The reject modal's section is mrkdwn: a name from the book must not become a mention."""
    assert 'name = "Hooli Components Inc"' in DEMO_CONFIG
    stack = make_stack(DEMO_CONFIG.replace('name = "Hooli Components Inc"', 'name = "Acme <!channel> & Sons"'))
    _, card = request_payout(stack)
    stack.slack_requests.block_action("U0APP1", card, "approval_reject")
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0APP1") if v.callback_id == "approval_reject_modal"), None)
    )
    text = view.view["blocks"][0]["text"]["text"]
    assert "Acme &lt;!channel&gt; &amp; Sons" in text and "<!channel>" not in text
    assert recall(stack.services.store, view.view)["request_id"]
    assert recall(stack.services.store, {"private_metadata": "forged-id"}) == {}
