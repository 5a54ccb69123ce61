"""The approval card stays within Block Kit limits and carries what approvers must see."""

import json

from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st
from decimal import Decimal
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block

from services.approvals.cards import APPROVE_ACTION, REJECT_ACTION, card_blocks, card_text, parse_block_id
from services.approvals.fingerprint import fingerprint, verify
from services.slack.blocks import MAX_BLOCKS, PAGED_TEXT, cut, finish, paged, section, text_of
from services.approvals.request import Approval
from services.approvals.request import ApprovalRequest

NOW = datetime(2025, 3, 3, 10, 30, tzinfo=UTC)


def row(**over):
    base = dict(
        id="PO-ABCD2345",
        kind="payout",
        state="PENDING",
        version=1,
        requester="U1REQ",
        amount="1250.00",
        currency="USD",
        fee="15.00",
        to_amount="9750.00",
        to_currency="HKD",
        rate="7.8",
        beneficiary_id="B1",
        beneficiary_name="Acme Supplies Inc",
        payee_user_id=None,
        account_tail="6789",
        purpose="March invoices",
        reference="INV-77",
        flags='["new beneficiary"]',
        mer_order_no="WB2025030310300000ABCDEFGH",
        expires_at=(NOW + timedelta(minutes=25)).isoformat(),
        required_approvals=2,
        decided_at=None,
        decided_by=None,
        reason=None,
        note=None,
        result_status=None,
        fail_reason=None,
        user_id="U10001",
        created_at=NOW.isoformat(),
    )
    base.update(over)
    request = ApprovalRequest.from_row(base)
    return request.with_(fingerprint=fingerprint(request))


def given(*users):
    return [Approval(u, "2025-03-03T10:31:00+00:00") for u in users]


def texts(blocks):
    return json.dumps(blocks, ensure_ascii=False)


def test_pending_card_shows_everything_the_spec_lists():
    blocks = card_blocks(row(), given("U2APP"))
    body = texts(blocks)
    assert "Pay out 1,250.00 USD to Acme Supplies Inc (••••6789)?" in body
    for needle in (
        "<@U1REQ>",
        "15.00 USD",
        "1 USD = 7.8 HKD",
        "9,750.00 HKD",
        "March invoices",
        "INV-77",
        "new beneficiary",
        "1 of 2",
        "<@U2APP>",
        "<!date^",
        "Open until <!date^",
    ):
        assert needle in body, needle
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    ref = parse_block_id(actions[0]["block_id"])
    assert ref and ref.request_id == "PO-ABCD2345" and ref.version == 1 and verify(row(), ref.fingerprint) is None
    approve, reject = actions[0]["elements"]
    assert (
        approve["action_id"] == APPROVE_ACTION and approve["value"] == "PO-ABCD2345" and approve["style"] == "primary"
    )
    assert approve["confirm"]["text"]["type"] == "plain_text" and "Acme" in approve["confirm"]["text"]["text"]
    assert reject["action_id"] == REJECT_ACTION and "style" not in reject
    assert card_text(row()).startswith("Pay out 1,250.00 USD")


def test_final_cards_have_no_buttons():
    for state, needle in (
        ("EXPIRED", "Expired — not sent"),
        ("REJECTED", "Rejected by <@U3>"),
        ("CONFIRMED", "Approved by <@U2APP>"),
        ("CONFIRM_UNKNOWN", "outcome is unknown"),
        ("FAILED", "Failed"),
    ):
        blocks = card_blocks(row(state=state, decided_at=NOW.isoformat(), decided_by="U3"), given("U2APP"))
        offered = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        # no Approve or Reject; a card that ended unpaid offers its requester "Request again"
        assert offered == (["approval_request_again"] if state in ("EXPIRED", "REJECTED", "FAILED") else []), state
        assert needle in texts(blocks), state


def test_whalets_failure_reason_on_a_card_has_account_numbers_masked():
    failed = row(state="FAILED", decided_at=NOW.isoformat(), fail_reason="Account 6222020200112233445 is closed")
    shown = texts(card_blocks(failed, given("U2APP")))
    assert "6222020200112233445" not in shown and "3445 is closed" in shown


def test_user_text_cannot_mention_or_break_out():
    blocks = card_blocks(row(purpose="<!channel> pay now & <http://evil|x>", beneficiary_name="A<b>"), [])
    body = texts(blocks)
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body and "A&lt;b&gt;" in body


def test_huge_inputs_stay_within_limits():
    long = "x" * 5000
    blocks = card_blocks(row(purpose=long, reference=long, beneficiary_name=long), given(*(f"U{i}" for i in range(30))))
    for block in blocks:
        Block.parse(block).to_dict()  # SDK validation
        for field in block.get("fields") or []:
            assert len(field["text"]) <= 2000
    assert len(blocks) <= MAX_BLOCKS


def test_pay_card_headline():
    blocks = card_blocks(row(kind="pay", payee_user_id="U20001", beneficiary_name=None, to_amount=None, rate=None), [])
    assert "Pay 1,250.00 USD to Whalet user U20001?" in texts(blocks)


def test_fingerprint_binds_every_shown_field():
    base = row()
    for field, value in (
        ("amount", "1250.01"),
        ("beneficiary_id", "B2"),
        ("account_tail", "0000"),
        ("purpose", "other"),
        ("requester", "U9"),
        ("rate", "7.9"),
        ("id", "PO-OTHER"),
    ):
        assert fingerprint(row(**{field: value})) != base.fingerprint, field
    assert fingerprint(row(state="EXPIRED", version=9)) == base.fingerprint
    tampered = base.with_(amount=Decimal("9999.00"))
    assert "no longer matches" in verify(tampered, base.fingerprint)
    assert "does not belong" in verify(base, fingerprint(row(id="PO-OTHER")))
    assert verify(base, None) is not None


def test_lapsed_approval_is_named_on_the_card():
    blocks = card_blocks(row(), [Approval("U2APP", "x"), Approval("U3OLD", "x", counts=False)])
    body = texts(blocks)
    assert (
        "<@U3OLD>'s approval no longer counts: not an approver now, or above their approval limit." in body
        and "1 of 2" in body
    )


def test_fee_keeps_its_own_currency():
    assert "2.50 EUR" in texts(card_blocks(row(fee="2.50", fee_currency="EUR"), []))


def test_block_limits_helpers():
    assert cut("abcdef", 4) == "abc…" and cut("abc", 4) == "abc"
    blocks = finish([section(f"line {i}") for i in range(80)], what="records")
    assert len(blocks) == 50 and "31 more records not shown" in texts(blocks[-1:])
    sections, hidden = paged([f"row {i}" for i in range(1000)], per_block=10, max_blocks=5)
    assert len(sections) == 5 and hidden == 950
    sections, hidden = paged(["y" * 900] * 6)
    assert hidden == 0 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    # long lines stop at the text share of one answer, not at 45 sections of 3,000 characters
    sections, hidden = paged([f"{i:03d} " + "z" * 696 for i in range(100)], per_block=15, max_blocks=45)
    shown = [line for b in sections for line in b["text"]["text"].split("\n")]
    assert text_of(sections) <= PAGED_TEXT and hidden == 100 - len(shown) and len(shown) >= 12
    assert shown == [f"{i:03d} " + "z" * 696 for i in range(len(shown))]  # whole lines, in order


HOSTILE = st.text(
    alphabet=st.sampled_from(
        list(
            "ab *_~`<>&!:1.\n\r\t\x0b\x0c\x85\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff\x00\x1b中文"
        )
    ),
    max_size=40,
)
HIDDEN_OR_BREAKS = set(
    "\n\r\t\x0b\x0c\x85\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff\x00\x1b"
)


@settings(max_examples=300, deadline=None)
@for_all(
    purpose=HOSTILE,
    reference=HOSTILE,
    name=HOSTILE,
    flag=HOSTILE,
    note=HOSTILE,
    state=st.sampled_from(["PENDING", "REJECTED", "FAILED"]),
)
def test_user_text_in_any_card_field_shows_as_one_line_without_hidden_characters(
    purpose: str, reference: str, name: str, flag: str, note: str, state: str
) -> None:
    r = row(
        purpose=purpose or "x",
        reference=reference or "y",
        beneficiary_name=name or "z",
        flags=json.dumps([flag or "f"]),
        note=note,
        reason=note,
        fail_reason=note,
        state=state,
        decided_by="U1APP" if state != "PENDING" else None,
        decided_at=NOW.isoformat() if state != "PENDING" else None,
    )
    for block in card_blocks(r, []):
        texts = [f["text"] for f in block.get("fields", [])]
        texts += [block["text"]["text"]] if isinstance(block.get("text"), dict) else []
        texts += [e["text"] for e in block.get("elements", []) if isinstance(e, dict) and "text" in e]
        texts = [t["text"] if isinstance(t, dict) else t for t in texts]
        for text in texts:
            label, _, value = text.partition("\n") if text.startswith("*") and "*\n" in text else ("", "", text)
            assert not HIDDEN_OR_BREAKS & set(value), (label, value)  # one visible line, nothing hidden
            assert not HIDDEN_OR_BREAKS & set(label)
