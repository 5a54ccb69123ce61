"""Poison at the webhook: numbers no amount needs are refused at the door, and a stored row that
cannot be read is parked on its own, with an alert, without holding up the rows after it."""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal

import pytest

from tests.notifications.conftest import Harness
from tests.notifications.test_webhook import COLLECTION
from whalet.envelope import NumberOutOfBounds, loads_exact


def collection(number: int, amount: Decimal = Decimal("1200.50")) -> dict:  # type: ignore[type-arg]
    body = copy.deepcopy(COLLECTION)
    body["collectionId"] = f"COLP{number:04d}"
    body["amount"]["amount"] = amount
    return body


@pytest.mark.parametrize("amount", [Decimal("1E+5000"), Decimal("1E-60"), Decimal("0." + "1" * 45)])
def test_a_signed_notification_with_a_number_out_of_bounds_is_refused_with_400_and_nothing_is_stored(
    harness: Harness, amount: Decimal
) -> None:
    """Signed by Whalet's key, so only the number is wrong. (The answer does not say which step
    of opening the envelope failed: that would be a decryption oracle; the log says.)"""
    response = harness.send("collectionReceivedNotify", collection(1, amount))
    assert response.status_code == 400, response.text
    assert harness.rows("SELECT * FROM inbox") == []


@pytest.mark.parametrize("number", ["1e5000", "1e100000000", "-1E-41", "1" * 41, "0." + "9" * 41])
def test_numbers_out_of_bounds_do_not_parse(number: str) -> None:
    with pytest.raises(NumberOutOfBounds):
        loads_exact(f'{{"head": {{}}, "amount": {number}}}')


def test_a_plain_json_body_with_a_huge_exponent_is_refused_with_its_reason(harness: Harness) -> None:
    response = harness.post(b'{"head": {"apiCode": "collectionReceivedNotify"}, "amount": 1e100000000}')
    assert response.status_code == 400 and "out of bounds" in response.text
    assert harness.rows("SELECT * FROM inbox") == []


def test_forty_digits_and_an_exponent_of_forty_are_still_accepted(harness: Harness) -> None:
    assert harness.send("collectionReceivedNotify", collection(2, Decimal("1" * 38 + ".25"))).status_code == 200
    assert harness.send("collectionReceivedNotify", collection(3, Decimal("9" * 40))).status_code == 200
    assert len(harness.rows("SELECT * FROM inbox")) == 2


def test_an_unreadable_stored_row_is_parked_alone_and_the_rows_after_it_are_relayed(harness: Harness) -> None:
    for number in range(4):
        assert harness.send("collectionReceivedNotify", collection(10 + number)).status_code == 200
    [first, *rest] = [row["id"] for row in harness.rows("SELECT id FROM inbox ORDER BY id")]
    with harness.services.store.transaction() as db:  # as an older version without the bounds stored it
        db.execute("UPDATE inbox SET body = ? WHERE id = ?", ['{"amount":{"amount":1e5000}}', first])

    assert asyncio.run(harness.relay()) == 4
    outcomes = {row["id"]: row["outcome"] for row in harness.rows("SELECT id, outcome FROM inbox")}
    assert outcomes[first] == "parked" and all(outcomes[i] == "relayed" for i in rest), outcomes
    alerts = [row["text"] for row in harness.outbox() if row["kind"] == "alert"]
    assert len(alerts) == 1 and f"Notification {first}" in alerts[0] and "cannot be read" in alerts[0]
    posted = [row["text"] for row in harness.outbox() if row["kind"] != "alert"]
    assert len(posted) == 3
    assert asyncio.run(harness.relay()) == 0  # nothing left to retry, nothing restarts
