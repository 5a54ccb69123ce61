"""Submit documents on a replenish to-do, end to end: the real Bolt app, signed Slack requests
from the stand-in (files "uploaded" there and read back with the bot token), the Whalet sandbox
in process recording what it received (names, sizes, SHA-256) and answering after its delay."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from devkit.localstack import LocalStack
from devkit.slack_standin.records import Message

TIMEOUT = 15.0
PDF = b"%PDF-1.4 business licence of Acme Trading Ltd\n"


def edd_card(stack: LocalStack) -> tuple[str, Message]:
    answer = stack.operator.post("/sandbox/replenish", json={"kind": "edd", "userId": "U10001"})
    assert answer.status_code == 200, answer.text
    [card] = stack.fake.wait_for(lambda: stack.fake.messages("C0COMPLIANCE"), timeout=TIMEOUT)
    return answer.json()["replenishId"], card


def open_form(stack: LocalStack, user: str, card: Message) -> dict[str, Any]:
    before = {v.id for v in stack.fake.views(user)}
    current = stack.fake.message("C0COMPLIANCE", card.ts)
    assert stack.slack_requests.block_action(user, current, action_id="replenish_submit").status_code == 200
    form = stack.fake.wait_for(
        lambda: next(
            (v for v in stack.fake.views(user) if v.callback_id == "replenish_submit_modal" and v.id not in before),
            None,
        ),
        timeout=TIMEOUT,
    )
    return dict(form.view, id=form.id)


def submit(stack: LocalStack, user: str, form: dict[str, Any], files: list[Any], note: str = "") -> dict[str, Any]:
    answer = stack.slack_requests.view_submission(user, form, {"files": files, "note": note})
    assert answer.status_code == 200, answer.text
    return answer.json() if answer.content else {}


def submissions(stack: LocalStack, replenish_id: str) -> list[dict[str, Any]]:
    records = stack.operator.get("/sandbox/replenish").json()["records"]
    return next(r for r in records if r["replenishId"] == replenish_id)["submissions"]


def thread_texts(stack: LocalStack, card: Message) -> list[str]:
    return [m.text for m in stack.fake.thread("C0COMPLIANCE", card.ts) if m.is_reply]


def shown(stack: LocalStack, card: Message) -> str:
    return json.dumps(stack.fake.message("C0COMPLIANCE", card.ts).blocks, ensure_ascii=False)


def test_documents_sent_from_the_to_do_pass_and_close_it(stack: LocalStack) -> None:
    replenish_id, card = edd_card(stack)
    assert "Submit documents" in json.dumps(card.blocks)
    form = open_form(stack, "U0REQ", card)
    assert "Business licence" in json.dumps(form["blocks"])  # what Whalet asked for
    licence = stack.fake.add_user_file("U0REQ", "licence.pdf", PDF, "application/pdf")
    statement = stack.fake.add_user_file("U0REQ", "statement.csv", b"date,amount\n2024-05-01,10.00\n")
    answer = submit(stack, "U0REQ", form, [licence, statement], note="as requested")
    assert answer["response_action"] == "update" and "Sending 2 files" in json.dumps(answer["view"])

    [sent] = stack.fake.wait_for(lambda: submissions(stack, replenish_id), timeout=TIMEOUT)
    assert [(f["name"], f["size"], f["sha256"]) for f in sent["files"]] == [
        ("licence.pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("statement.csv", 29, hashlib.sha256(b"date,amount\n2024-05-01,10.00\n").hexdigest()),
    ]
    assert sent["remark"] == "as requested"
    stack.fake.wait_for(lambda: "Closed, Whalet's decision: *PASS*" in shown(stack, card), timeout=TIMEOUT)
    thread = stack.fake.wait_for(lambda: (t := thread_texts(stack, card)) and "*PASS*" in t[-1] and t, timeout=TIMEOUT)
    assert "<@U0REQ> is sending 2 files to Whalet" in thread[0]
    assert "Whalet received the documents" in thread[1] and "*PASS*" in thread[-1]
    assert "replenish_submit" not in shown(stack, card) and "replenish_take" not in shown(stack, card)
    with stack.services.store.read() as db:
        [row] = db.query("SELECT state, result, submitted_by, files FROM replenish_submissions")
    assert (row["state"], row["result"], row["submitted_by"]) == ("accepted", "PASS", "U0REQ")
    assert hashlib.sha256(PDF).hexdigest() in row["files"]


def test_a_rejected_submission_reopens_the_to_do_and_a_second_one_passes(stack: LocalStack) -> None:
    replenish_id, card = edd_card(stack)
    blurry = stack.fake.add_user_file("U0REQ", "licence.jpg", b"blurry", "image/jpeg")
    submit(stack, "U0REQ", open_form(stack, "U0REQ", card), [blurry], note="please reject this one")
    stack.fake.wait_for(lambda: "Whalet rejected the documents" in shown(stack, card), timeout=TIMEOUT)
    assert "sandbox rule" in shown(stack, card) and "replenish_submit" in shown(stack, card)
    stack.fake.wait_for(
        lambda: any("Submit documents is on the card again" in t for t in thread_texts(stack, card)), timeout=TIMEOUT
    )

    sharp = stack.fake.add_user_file("U0REQ", "licence.pdf", PDF, "application/pdf")
    submit(stack, "U0REQ", open_form(stack, "U0REQ", card), [sharp], note="a sharper scan")
    stack.fake.wait_for(lambda: "Closed, Whalet's decision: *PASS*" in shown(stack, card), timeout=TIMEOUT)
    first, second = submissions(stack, replenish_id)
    assert (first["result"], second["result"]) == ("REJECT", "PASS")
    assert [f["name"] for f in second["files"]] == ["licence.pdf"]


def test_a_file_over_10_mb_is_refused_in_the_form_and_nothing_is_sent(stack: LocalStack) -> None:
    replenish_id, card = edd_card(stack)
    big = stack.fake.add_user_file("U0REQ", "scan.tiff", b"x" * 10_500_000, "image/tiff")
    answer = submit(stack, "U0REQ", open_form(stack, "U0REQ", card), [big])
    assert answer == {
        "response_action": "errors",
        "errors": {"files": "scan.tiff is 10.5 MB; each file may be at most 10 MB."},
    }
    assert submissions(stack, replenish_id) == [] and thread_texts(stack, card) == []


def test_more_than_ten_files_are_refused(stack: LocalStack) -> None:
    replenish_id, card = edd_card(stack)
    files = [stack.fake.add_user_file("U0REQ", f"page{n}.png", b"png", "image/png") for n in range(11)]
    answer = submit(stack, "U0REQ", open_form(stack, "U0REQ", card), files)
    assert answer["errors"] == {"files": "At most 10 files can be sent at once; you picked 11."}
    assert submissions(stack, replenish_id) == []


def test_a_double_submit_sends_once(stack: LocalStack) -> None:
    replenish_id, card = edd_card(stack)
    form = open_form(stack, "U0REQ", card)
    other = open_form(stack, "U0APP1", card)  # a second person with the form open at the same time
    licence = stack.fake.add_user_file("U0REQ", "licence.pdf", PDF, "application/pdf")
    first = submit(stack, "U0REQ", form, [licence])
    again = submit(stack, "U0REQ", form, [licence])  # the same modal submitted twice
    late = submit(stack, "U0APP1", other, [stack.fake.add_user_file("U0APP1", "mine.pdf", PDF)])
    assert first["response_action"] == "update"
    assert again["response_action"] == "errors" and late["response_action"] == "errors"
    assert "U0REQ" in late["errors"]["files"]
    stack.fake.wait_for(lambda: "Closed, Whalet's decision: *PASS*" in shown(stack, card), timeout=TIMEOUT)
    assert len(submissions(stack, replenish_id)) == 1
    with stack.services.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM replenish_submissions").fetchone()[0] == 1


def test_someone_without_the_role_is_refused(stack: LocalStack) -> None:
    replenish_id, card = edd_card(stack)
    assert stack.slack_requests.block_action("U0VIEW", card, action_id="replenish_submit").status_code == 200
    told = stack.fake.wait_for(
        lambda: [r for r in stack.fake.responses() if "Sending documents to Whalet is for" in r.text], timeout=TIMEOUT
    )
    assert told[0].response_type == "ephemeral" and "your role is viewer" in told[0].text
    assert not [v for v in stack.fake.views("U0VIEW") if v.callback_id == "replenish_submit_modal"]
    form = open_form(stack, "U0REQ", card)  # a form opened by someone else, submitted by the viewer
    answer = submit(stack, "U0VIEW", form, [stack.fake.add_user_file("U0VIEW", "x.pdf", PDF)])
    assert "your role is viewer" in answer["errors"]["files"]
    assert submissions(stack, replenish_id) == []
