"""Steps of the batch payout tests: a CSV picked in the modal, the modal's answer, the batch's rows."""

from __future__ import annotations

from typing import Any

from tests.commands.helpers import card_for


def send_batch(stack: Any, csv_text: str | bytes, user: str = "U0REQ", note: str = "", name: str = "batch.csv") -> str:
    """`/whalet payout batch`, the file picked and submitted; returns what the modal says at the end."""
    return submit_batch(stack.fake, stack.slack_requests, csv_text, user, note, name)


def submit_batch(
    fake: Any, slack: Any, csv_text: str | bytes, user: str = "U0REQ", note: str = "", name: str = "batch.csv"
) -> str:
    """The same against any app the stand-in ``fake`` serves, through its signed ``slack`` requests."""
    before = len(fake.views(user))
    http = slack.command(user, "payout batch")
    assert http.status_code == 200, http.text
    opened = fake.wait_for(lambda: (v := fake.views(user)[before:]) and v[-1])
    assert opened.callback_id == "batch_payout_modal"
    content = csv_text if isinstance(csv_text, bytes) else csv_text.encode("utf-8")
    picked = fake.add_user_file(user, name, content)
    answer = slack.view_submission(user, opened, {"file": [picked], "note": note})
    assert answer.status_code == 200, answer.text
    return str(
        fake.wait_for(
            lambda: next(
                (
                    t
                    for v in fake.views(user)
                    if v.id == opened.id
                    and v.callback_id == "message"
                    and (t := str(v.view["blocks"][0]["text"]["text"]))
                    and not t.startswith("Checking")
                ),
                None,
            ),
            timeout=20,
        )
    )


def batch_id_of(said: str) -> str:
    return said.split("Batch `")[1].split("`")[0]


def batch_card(stack: Any, batch_id: str) -> Any:
    return card_for(stack, batch_id)


def lines_of(stack: Any, batch_id: str) -> list[dict[str, Any]]:
    with stack.services.store.read() as db:
        return list(db.query("SELECT * FROM batch_lines WHERE batch_id = ? ORDER BY line_no", [batch_id]))


def line_requests(stack: Any, batch_id: str) -> list[dict[str, Any]]:
    with stack.services.store.read() as db:
        return list(db.query("SELECT * FROM approval_requests WHERE batch_id = ? ORDER BY line_no, id", [batch_id]))


def thread_texts(stack: Any, batch_id: str) -> list[str]:
    card = batch_card(stack, batch_id)
    return [m.text for m in stack.fake.messages("C0APPROVALS") if m.is_reply and m.thread_ts == card.ts]
