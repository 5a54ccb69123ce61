"""Inbox -> outbox: each notification rendered, routed and applied exactly once, atomically."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from core.clock import FrozenClock
from notifications import todos
from tests.notifications.conftest import Harness
from tests.notifications.test_webhook import COLLECTION

REPLENISH = {
    "userId": "U10001",
    "replenishId": "RP0001",
    "reason": "Enhanced due diligence review",
    "requiredMaterials": ["Business licence", "Proof of address"],
    "deadline": "2024-05-03 09:30:00",
}


def posts(h: Harness, channel: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in h.outbox() if r["op"] == "post" and channel in (None, r["channel"])]


def updates(h: Harness, ref: str) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in h.outbox() if r["op"] == "update" and r["ref"] == ref and r["state"] == "pending"]


def shown(h: Harness, ref: str) -> str:
    """What Slack will show for the message under ``ref`` once the outbox is through (while the
    post is still queued, an update rewrites the queued post instead)."""
    pending = updates(h, ref)
    row = pending[-1] if pending else next(r for r in h.outbox() if r["op"] == "post" and r["ref"] == ref)
    return str(row["text"]) + str(row["blocks"])


async def test_collection_goes_to_its_route_as_a_foldable_collection(
    harness: Harness, database_url: str | None
) -> None:
    assert harness.send("collectionReceivedNotify", COLLECTION).status_code == 200
    assert await harness.relay() == 1
    [post] = posts(harness)
    assert post["channel"] == "C0COLLECT" and post["kind"] == "collection"
    assert post["fold_line"].startswith("1,200.50 USD from Wayne Enterprises")
    [row] = harness.rows("SELECT * FROM inbox")
    assert row["processed_at"] is not None and row["outcome"] == "relayed"
    assert post["correlation_id"] == row["correlation_id"]
    assert await harness.relay() == 0  # nothing relayed twice


async def test_unknown_api_code_is_relayed_generically_to_the_default_channel(harness: Harness) -> None:
    harness.send("walletFrozenNotify", {"userId": "U10001", "cardNo": "4111111111111111", "status": "FROZEN"})
    await harness.relay()
    [post] = posts(harness)
    assert post["channel"] == "C0FINANCE"
    assert "walletFrozenNotify" in post["text"] and "••••1111" in post["blocks"]
    assert "4111111111111111" not in post["blocks"] + post["text"]


async def test_a_crash_before_the_processed_mark_leaves_no_message_and_the_redo_posts_once(harness: Harness) -> None:
    harness.send("collectionReceivedNotify", COLLECTION)
    with harness.services.store.transaction() as db:  # the last write of the relay transaction fails
        db.execute("CREATE TRIGGER crash BEFORE UPDATE OF processed_at ON inbox BEGIN SELECT RAISE(ABORT, 'boom'); END")
    await harness.relay()
    assert posts(harness) == []
    [row] = harness.rows("SELECT * FROM inbox")
    assert row["processed_at"] is None and row["attempts"] == 1 and "boom" in row["last_error"]
    with harness.services.store.transaction() as db:
        db.execute("DROP TRIGGER crash")
    await harness.relay()
    assert len(posts(harness, "C0COLLECT")) == 1


async def test_a_row_that_keeps_failing_is_shown_generically_in_the_alerts_channel(harness: Harness) -> None:
    harness.send("collectionReceivedNotify", COLLECTION)
    with harness.services.store.transaction() as db:
        db.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON outbox WHEN NEW.channel = 'C0COLLECT' "
            "BEGIN SELECT RAISE(ABORT, 'renderer bug'); END"
        )
    for _ in range(3):
        await harness.relay()
    [post] = posts(harness)
    assert post["channel"] == "C0ALERTS" and "could not handle" in post["blocks"]
    assert harness.rows("SELECT outcome FROM inbox") == [{"outcome": "failed"}]


def _approval(h: Harness, state: str = "CONFIRMED") -> None:
    with h.services.store.transaction() as db:
        db.execute(
            """INSERT INTO approval_requests (id, kind, state, requester, user_id, amount, currency, fee,
                          to_amount, to_currency, mer_order_no, whalet_id, beneficiary_name, account_tail,
                          required_approvals, created_at, decided_at)
                      VALUES ('R1', 'payout', ?, 'U0REQ', 'U10001', '100.00', 'USD', '1.50', '780.00', 'HKD',
                              'P0001', 'PO1', 'Acme HK', '4321', 1, '2024-05-01T00:00:00+00:00',
                              '2024-05-01T00:10:00+00:00')""",
            [state],
        )
        db.execute(
            "INSERT INTO approvals (request_id, approver, at) VALUES ('R1', 'U0APP1', '2024-05-01T00:10:00+00:00')"
        )


PAYOUT = {
    "userId": "U10001",
    "payoutId": "PO1",
    "merOrderNo": "P0001",
    "status": "SUCCESS",
    "currency": "USD",
    "amount": Decimal("100.00"),
    "fee": Decimal("1.50"),
    "toCurrency": "HKD",
    "toAmount": Decimal("780.00"),
    "finishTime": "2024-05-01 09:40:00",
}


async def test_payout_result_goes_into_the_approval_cards_thread_and_settles_the_request(
    harness: Harness, database_url: str | None
) -> None:
    _approval(harness)
    harness.send("payoutResultNotify", PAYOUT)
    await harness.relay()
    [reply] = posts(harness, "C0APPROVALS")
    assert reply["thread_ref"] == "approval:R1"
    assert "Payout completed: 100.00 USD" in reply["text"]
    [told] = posts(harness, "U0REQ")  # the requester, in a DM (tell_requester = "dm")
    assert told["text"].startswith(":white_check_mark: Your payout request `R1`") and "is paid" in told["text"]
    assert "Whalet reports it done" in shown(harness, "approval:R1")  # card updated by the approvals module
    assert harness.rows("SELECT state, result_status FROM approval_requests") == [
        {"state": "SUCCEEDED", "result_status": "SUCCESS"}
    ]


async def test_payout_result_for_an_order_made_elsewhere_is_a_normal_routed_post(harness: Harness) -> None:
    harness.send("payoutResultNotify", {**PAYOUT, "merOrderNo": "PORTAL1"})
    await harness.relay()
    [post] = posts(harness)
    assert post["channel"] == "C0FINANCE" and post["thread_ref"] is None


async def test_beneficiary_result_confirms_the_book_entry_and_tells_who_added_it(
    harness: Harness, database_url: str | None
) -> None:
    with harness.services.store.transaction() as db:
        db.execute("""INSERT INTO beneficiary_book (mer_beneficiary_no, nickname, name, country, currency,
                          account_tail, status, added_by, added_at)
                      VALUES ('B0001', 'acme-uk', 'Acme UK', 'GB', 'GBP', '6819', 'PROCESSING', 'U0REQ', 'x')""")
    harness.send(
        "beneficiaryResultNotify",
        {"userId": "U10001", "beneficiaryId": "BEN9", "merBeneficiaryNo": "B0001", "status": "SUCCESS"},
    )
    await harness.relay()
    assert harness.rows("SELECT id, status FROM beneficiary_book") == [{"id": "BEN9", "status": "SUCCESS"}]
    [post] = posts(harness)
    assert post["text"].startswith("<@U0REQ>") and "acme-uk" in post["blocks"]
    harness.send(
        "beneficiaryResultNotify",
        {
            "userId": "U10001",
            "beneficiaryId": "BEN9",
            "merBeneficiaryNo": "B0001",
            "status": "FAILED",
            "failReason": "account closed",
        },
    )  # Whalet changed its mind
    await harness.relay()
    assert harness.rows("SELECT status FROM beneficiary_book") == [{"status": "FAILED"}]
    later = posts(harness)[-1]
    assert "Update of an earlier notification about `BEN9`" in later["blocks"] and "`failReason`" in later["blocks"]


async def test_replenish_to_do_lifecycle_owner_reminder_and_closure(
    harness: Harness, frozen: FrozenClock, database_url: str | None
) -> None:
    services = harness.services
    harness.send("eddReplenishNotify", REPLENISH)
    await harness.relay()
    [card] = posts(harness)
    assert card["channel"] == "C0COMPLIANCE" and card["ref"] == "replenish:RP0001"
    assert card["text"].startswith("<!subteam^S0COMPLY>")
    blocks = json.loads(card["blocks"])
    assert any(b["type"] == "actions" and b["elements"][0]["action_id"] == "replenish_take" for b in blocks)
    assert "Business licence" in card["blocks"] and "Proof of address" in card["blocks"]

    taken = todos.take(services, "RP0001", "U0ANNA")
    assert taken.taken
    assert "<@U0ANNA> is handling this" in shown(harness, "replenish:RP0001")
    second = todos.take(services, "RP0001", "U0BOB")
    assert not second.taken and second.reason == "<@U0ANNA> is already handling this."

    assert todos.send_due_reminders(services) == 0  # 48 h before the deadline: too early
    frozen.advance(timedelta(hours=24, seconds=1))  # now 23:59:59 before the deadline
    assert todos.send_due_reminders(services) == 1
    assert todos.send_due_reminders(services) == 0  # once only
    reminder = posts(harness)[-1]
    assert reminder["thread_ref"] == "replenish:RP0001" and "<@U0ANNA> is handling it" in reminder["text"]

    harness.send("eddReplenishResultNotify", {"userId": "U10001", "replenishId": "RP0001", "status": "PASS"})
    await harness.relay()
    closed = shown(harness, "replenish:RP0001")
    assert "Closed, Whalet's decision: *PASS*" in closed and "replenish_take" not in closed
    assert "Whalet's decision on `RP0001`: *PASS*" in posts(harness)[-1]["text"]
    assert harness.rows("SELECT state, owner, result FROM replenish_todos") == [
        {"state": "CLOSED", "owner": "U0ANNA", "result": "PASS"}
    ]
    assert not todos.take(services, "RP0001", "U0BOB").taken


async def test_a_pass_before_its_request_ends_closed_and_the_late_card_has_no_button(
    harness: Harness, database_url: str | None
) -> None:
    harness.send("eddReplenishResultNotify", {"userId": "U10001", "replenishId": "RP8", "status": "PASS"})
    await harness.relay()
    harness.send("eddReplenishNotify", {**REPLENISH, "replenishId": "RP8"})
    await harness.relay()
    card = posts(harness, "C0COMPLIANCE")[-1]
    assert "replenish_take" not in card["blocks"] and "replenish_submit" not in card["blocks"]
    assert "PASS" in card["blocks"]
    assert harness.rows("SELECT state FROM replenish_todos") == [{"state": "CLOSED"}]


async def test_a_reject_before_its_request_leaves_it_open_asking_for_documents_again(
    harness: Harness, database_url: str | None
) -> None:
    """A REJECT means Whalet still wants documents: the to-do stays open, with the remark and
    Submit documents, however early the REJECT arrived."""
    harness.send(
        "tradeReplenishResultNotify",
        {"userId": "U10001", "replenishId": "RP9", "tradeId": "T1", "status": "REJECT", "remark": "invoice unreadable"},
    )
    await harness.relay()
    harness.send(
        "tradeReplenishNotify", {**REPLENISH, "replenishId": "RP9", "tradeType": "COLLECTION", "tradeId": "T1"}
    )
    await harness.relay()
    card = posts(harness, "C0COMPLIANCE")[-1]
    assert "replenish_submit" in card["blocks"] and "invoice unreadable" in card["blocks"]
    assert harness.rows("SELECT state, docs FROM replenish_todos") == [{"state": "OPEN", "docs": "REJECTED"}]


async def test_a_changed_documents_request_updates_its_card_and_says_so_in_the_thread(harness: Harness) -> None:
    harness.send("eddReplenishNotify", REPLENISH)
    await harness.relay()
    changed = {**REPLENISH, "requiredMaterials": ["Business licence", "Bank statement <!channel>"]}
    assert harness.send("eddReplenishNotify", changed).status_code == 200
    assert harness.send("eddReplenishNotify", changed).status_code == 200  # new requestNo, same content
    assert await harness.relay() == 1
    assert len(posts(harness, "C0COMPLIANCE")) == 2  # the card, then one thread reply
    card = shown(harness, "replenish:RP0001")
    assert "Bank statement &lt;!channel&gt;" in card and "Proof of address" not in card and "<!channel>" not in card
    reply = posts(harness, "C0COMPLIANCE")[-1]
    assert reply["thread_ref"] == "replenish:RP0001" and "the documents it asks for" in reply["text"]
    assert harness.rows("SELECT state FROM replenish_todos") == [{"state": "OPEN"}]


async def test_a_changed_result_replaces_the_decision_on_the_card(harness: Harness) -> None:
    harness.send("eddReplenishNotify", REPLENISH)
    harness.send("eddReplenishResultNotify", {"userId": "U10001", "replenishId": "RP0001", "status": "REJECT"})
    await harness.relay()
    harness.send(
        "eddReplenishResultNotify",
        {"userId": "U10001", "replenishId": "RP0001", "status": "PASS", "remark": "documents accepted on appeal"},
    )
    await harness.relay()
    assert "Closed, Whalet's decision: *PASS*" in shown(harness, "replenish:RP0001")
    assert "*PASS*" in posts(harness, "C0COMPLIANCE")[-1]["text"]


async def test_a_status_that_returns_is_relayed_again_marked_as_an_update(harness: Harness) -> None:
    account = {
        "userId": "U10001",
        "virtualAccountNo": "700001000184001",
        "status": "ACTIVE",
        "updateTime": "2024-05-01 09:00:00",
    }
    for status, hour in (("ACTIVE", 9), ("FROZEN", 10), ("ACTIVE", 11)):
        harness.send("virtualAccountNotify", {**account, "status": status, "updateTime": f"2024-05-01 {hour}:00:00"})
    await harness.relay()
    sent = posts(harness)
    assert len(sent) == 3 and "Update of an earlier notification" not in sent[0]["blocks"]
    assert "Update of an earlier notification" in sent[2]["blocks"] and "`status`" in sent[2]["blocks"]
    assert "700001000184001" not in sent[2]["blocks"]  # the business id is an account number: masked
