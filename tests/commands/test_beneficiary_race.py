"""Two people adding the same nickname at once (issue 19 item 4): the nickname is reserved in
the book (its UNIQUE constraint decides) before Whalet is asked, so exactly one application
goes to Whalet, the other person is told in a sentence, and the book holds one row. Before, both
passed the check, both applications reached Whalet, and the second insert failed on the
constraint after Whalet had accepted it, telling nobody. On SQLite and Postgres."""

from __future__ import annotations

from typing import Any

from tests.fixtures.race import at_once
from devkit.localstack import LocalStack

ROUNDS = 4
FORM = {
    "f_accountName": "Kowloon Parts",
    "f_accountNo": "123456789",
    "f_bankName": "HSBC",
    "f_swiftCode": "HSBCHKHHXXX",
    "f_bankCode": "004",
}


def _open_form(stack: LocalStack, user: str) -> dict[str, Any]:
    before = {v.id for v in stack.fake.views(user) if v.callback_id == "beneficiary_form_modal"}
    assert stack.slack_requests.command(user, "beneficiaries add").status_code == 200
    pick = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views(user) if v.callback_id == "beneficiary_pick_modal"), None)
    )
    stack.slack_requests.view_submission(user, dict(pick.view, id=pick.id), {"where": "HK:HKD"})
    form = stack.fake.wait_for(
        lambda: next(
            (v for v in stack.fake.views(user) if v.callback_id == "beneficiary_form_modal" and v.id not in before),
            None,
        )
    )
    return dict(form.view, id=form.id)


def _outcome(stack: LocalStack, user: str, nickname: str, answer: Any) -> str:
    """``sent``, ``refused`` (in the form, or told after it), as the person sees it."""
    if answer.text and "errors" in answer.json():
        return "refused"
    note = stack.fake.wait_for(
        lambda: next((e.text for e in stack.fake.ephemerals(user) if f"{nickname}" in e.text), None), timeout=10
    )
    return "sent" if note.startswith("Sent to Whalet") else "refused"


def _submit_at_once(stack: LocalStack, forms: dict[str, dict[str, Any]], nickname: str) -> dict[str, Any]:
    """Every person submits their form with ``nickname``, lined up by a barrier."""
    users = list(forms)
    answers = at_once(
        *(
            lambda user=user: stack.slack_requests.view_submission(user, forms[user], {"nickname": nickname, **FORM})
            for user in users
        )
    )
    return dict(zip(users, answers, strict=True))


def test_one_nickname_added_twice_at_once_reaches_whalet_once(stack: LocalStack, database_url: str | None) -> None:
    people = ("U0REQ", "U0APP1")
    for round_no in range(ROUNDS):
        nickname = f"race-{round_no}"
        answers = _submit_at_once(stack, {user: _open_form(stack, user) for user in people}, nickname)
        outcomes = sorted(_outcome(stack, user, nickname, answers[user]) for user in people)
        assert outcomes == ["refused", "sent"], (nickname, outcomes)
        with stack.services.store.read() as db:
            assert db.execute("SELECT COUNT(*) FROM beneficiary_book WHERE nickname = ?", [nickname]).fetchone()[0] == 1
