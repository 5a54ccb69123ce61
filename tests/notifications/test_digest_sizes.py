"""Digests of 60 and 2,400 balances end to end: the sandbox holds the balances, the real app runs
`/whalet digest now`, the outbox sends every message to the strict stand-in, which counts the
blocks' text itself (``devkit/slack_standin/rules.py``) and refuses what Slack refuses.

What a reader gets at both sizes: the grand total first, the balances seen for the first time in
one line, every balance row whole, and every message accepted within the bot's budget (not cut to
fit by the outbox's last guard: the digest splits its own table between rows).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from core.clock import FrozenClock
from devkit.localstack import LocalStack
from devkit.slack_standin import Message
from devkit.slack_standin.rules import blocks_text
from services.slack.message_size import BLOCK_TEXT_BUDGET
from tests.notifications.test_digest_slack import FINANCE, TIMEOUT, run_digest, texts, with_users

SOURCES = ("B2C", "B2B", "Acquiring")
ROW = re.compile(
    r"^• (?P<currency>[A-Z]{3}) (?P<source>B2C|B2B|Acquiring): \*(?P<available>[0-9,.]+)\* available"
    r"(?: · pending (?P<pending>[0-9,.]+))?$"
)
HEADING = re.compile(r"^\*(?P<name>[^*]+)\* \(`(?P<uid>U[0-9]+)`\) · total ≈ \*[0-9,.]+ USD\*(?: \(continued\))?$")

Seeded = dict[tuple[str, str, str], tuple[Decimal, Decimal]]  # (user, source, currency) -> (available, pending)


def seed(stack: LocalStack, users: list[tuple[str, str]], currencies: tuple[str, ...]) -> Seeded:
    """Every user holds every currency in every fund source, amounts all different."""
    seeded: Seeded = {}
    for index, (uid, name) in enumerate(users):
        rows = []
        for position, (source, currency) in enumerate((s, c) for s in SOURCES for c in currencies):
            available = Decimal(1000 + 37 * index + position)
            pending = Decimal(position % 3)
            seeded[(uid, source, currency)] = (available, pending)
            rows.append(
                {"fundSource": source, "currency": currency, "available": str(available), "pending": str(pending)}
            )
        stack.operator.post("/sandbox/users", json={"userId": uid, "name": name, "balances": rows}).raise_for_status()
    return seeded


def wait_until_sent(stack: LocalStack) -> None:
    """Until the outbox has answered for the digest and every table reply; none parked."""

    def settled() -> bool:
        with stack.services.store.read() as db:
            states = [r[0] for r in db.execute("SELECT state FROM outbox WHERE kind IN ('digest', 'digest_table')")]
        return bool(states) and all(state in ("done", "parked") for state in states)

    stack.fake.wait_for(settled, timeout=TIMEOUT * 3)
    with stack.services.store.read() as db:
        parked = list(db.query("SELECT id, last_error FROM outbox WHERE state = 'parked'"))
    assert parked == []


def sent_digest(stack: LocalStack) -> tuple[Message, list[Message]]:
    """The digest message and its table replies once the outbox has answered for every one."""
    parent = run_digest(stack, 1)
    wait_until_sent(stack)
    replies = [m for m in stack.fake.thread(FINANCE, parent.ts) if m.is_reply and m.text.startswith("Whalet digest")]
    return parent, replies


def expected_grand_total(seeded: Seeded, shown: str) -> Decimal:
    """Per user and currency, available summed, converted at the rate the digest printed and
    rounded to cents; then added up: the figure a reader can redo from the digest itself."""
    rates = {cur: Decimal(rate) for cur, rate in re.findall(r"1 ([A-Z]{3}) = ([0-9.]+) USD \(R", shown)}
    sums: dict[tuple[str, str], Decimal] = {}
    for (uid, _, currency), (available, _) in seeded.items():
        sums[(uid, currency)] = sums.get((uid, currency), Decimal(0)) + available
    return sum(
        (
            (amount * rates.get(currency, Decimal(1))).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            for (_, currency), amount in sums.items()
        ),
        Decimal(0),
    )


def within_limits(message: Message) -> None:
    """What Slack takes, measured by the stand-in's own count, with the bot's margin kept."""
    assert len(message.blocks) <= 50
    assert blocks_text(message.blocks) <= BLOCK_TEXT_BUDGET, blocks_text(message.blocks)
    for block in message.blocks:
        assert len(block.get("text", {}).get("text", "")) <= 3000
    assert "not shown" not in texts(message)  # the digest split itself; nothing was cut by the outbox's guard


def rows_in_thread(
    replies: list[Message], heading_of: re.Pattern[str] = HEADING, row_of: re.Pattern[str] = ROW
) -> Seeded:
    """Every balance line of the replies, read under the heading it sits under; each reply must
    open with a heading (a user's, or the same one "(continued)"), so it reads on its own
    (``heading_of`` and ``row_of``: a language's heading and row)."""
    found: Seeded = {}
    for reply in replies:
        lines = [line for block in reply.blocks[1:] for line in block["text"]["text"].split("\n")]
        assert (first := heading_of.match(lines[0])), lines[0]
        uid = first["uid"]
        for line in lines:
            if heading := heading_of.match(line):
                uid = heading["uid"]
                continue
            row = row_of.match(line)
            assert row, f"a line that is not a whole balance row: {line!r}"
            key = (uid, row["source"], row["currency"])
            assert key not in found, f"{key} twice"
            found[key] = (Decimal(row["available"].replace(",", "")), Decimal((row["pending"] or "0").replace(",", "")))
    return found


def rows_in_fields(parent: Message, users: list[tuple[str, str]]) -> Seeded:
    """The balances shown as fields in the message itself (the table fits), per user heading."""
    found: Seeded = {}
    uid = ""
    for block in parent.blocks:
        if block["type"] == "section" and (heading := HEADING.match(block.get("text", {}).get("text", ""))):
            uid = heading["uid"]
        for item in block.get("fields", []):
            label, value = item["text"].split("\n", 1)
            source_currency = re.fullmatch(r"\*([A-Z]{3}) · (B2C|B2B|Acquiring)\*", label)
            amounts = re.fullmatch(r"\*([0-9,.]+) [A-Z]{3}\* available\npending ([0-9,.]+) [A-Z]{3} · frozen .*", value)
            assert source_currency and amounts, item["text"]
            key = (uid, source_currency[2], source_currency[1])
            found[key] = (Decimal(amounts[1].replace(",", "")), Decimal(amounts[2].replace(",", "")))
    assert {uid for uid, _, _ in found} == {uid for uid, _ in users}
    return found


@pytest.mark.parametrize(
    "user_count, currencies, in_thread",
    [(5, ("USD", "EUR", "HKD", "JPY"), False), (100, ("USD", "EUR", "GBP", "HKD", "CNY", "JPY", "SGD", "AUD"), True)],
    ids=["60-balances", "2400-balances"],
)
def test_a_digest_of_60_and_of_2400_balances_is_sent_whole_within_slacks_limits(
    make_stack: Callable[..., LocalStack], user_count: int, currencies: tuple[str, ...], in_thread: bool
) -> None:
    users = [(f"U4{n:04d}", f"Exporter {n:03d} Ltd") for n in range(user_count)]
    stack = make_stack(with_users(users))
    seeded = seed(stack, users, currencies)
    assert len(seeded) == (60 if user_count == 5 else 2400)

    parent, replies = sent_digest(stack)
    for message in [parent, *replies]:
        within_limits(message)
    calls = stack.fake.calls("chat.postMessage")
    assert [c.error for c in calls if c.params.get("channel") == FINANCE] == [None] * (1 + len(replies))

    shown = texts(parent)
    lead = parent.blocks[1]["text"]["text"]  # right under the title
    grand = expected_grand_total(seeded, shown)
    assert lead == f"*Grand total ≈ {grand:,.2f} USD* across {user_count} Whalet users", lead
    first_seen = f"{len(seeded):,} balances had no earlier digest to compare with."
    assert parent.blocks[2]["elements"][0]["text"] == first_seen
    everything = "".join(texts(m) for m in [parent, *replies])
    assert everything.count("no earlier digest") == 1 and "first digest" not in everything

    if in_thread:
        assert f"The full table ({len(seeded):,} balances) is in the thread below." in shown
        assert 1 < len(replies) <= 20
        assert rows_in_thread(replies) == seeded  # every row once, whole, under its own user
        for index, reply in enumerate(replies, start=1):
            assert reply.blocks[0]["elements"][0]["text"].endswith(f"(part {index} of {len(replies)})")
    else:
        assert replies == [] and "in the thread below" not in shown
        assert rows_in_fields(parent, users) == seeded


def test_the_second_digest_counts_only_the_new_balance_as_first_seen_and_the_grand_total_moves(
    make_stack: Callable[..., LocalStack],
) -> None:
    users = [(f"U5{n:04d}", f"Importer {n} Co") for n in range(3)]
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(with_users(users), clock=clock)
    seed(stack, users, ("USD", "EUR"))
    sent_digest(stack)
    clock.advance(timedelta(days=1))
    stack.operator.post(
        "/sandbox/collect", json={"userId": users[0][0], "currency": "GBP", "amount": "250.00"}
    ).raise_for_status()
    shown = texts(run_digest(stack, 2))
    assert "1 balance had no earlier digest to compare with." in shown
    assert shown.count("no earlier digest") == 1 and "first digest" not in shown
    assert "no change since the last digest" in shown
    [gbp] = re.findall(r"1 GBP = ([0-9.]+) USD \(R", shown)
    moved = (Decimal("250.00") * Decimal(gbp)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert f"across 3 Whalet users (▲ +{moved:,.2f} USD since the last digest)" in shown
