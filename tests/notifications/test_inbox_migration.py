"""Dedupe by content: migration 0301 rebuilds the inbox without losing a row; the hash is canonical."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.storage.store import Store
from core.storage.inbox import content_hash
from core.storage.migrations import MIGRATIONS

BEFORE_0301 = [migration for migration in MIGRATIONS if migration[0] < "0301"]


def test_rows_stored_before_0301_survive_and_duplicates_are_then_judged_by_content(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    old = Store(path, migrations=BEFORE_0301)
    with old.transaction() as db:
        for request_no, status in (("WN1", "PENDING"), ("WN2", "SUCCESS")):
            db.execute(
                """INSERT INTO inbox (request_no, api_code, business_id, status, dedupe_key, body, received_at,
                              correlation_id, processed_at) VALUES (?, 'payoutResultNotify', 'PO1', ?, ?, '{}',
                              '2024-05-01T00:00:00+00:00', 'c', '2024-05-01T00:00:01+00:00')""",
                [request_no, status, f"payoutResultNotify:PO1:{status}"],
            )
    old.close()

    store = Store(path)
    with store.read() as db:
        rows = list(db.query("SELECT id, request_no, status, content_hash, processed_at FROM inbox ORDER BY id"))
        indexes = {row[1] for row in db.execute("PRAGMA index_list(inbox)").fetchall()}
    assert [(r["id"], r["request_no"], r["status"], r["content_hash"]) for r in rows] == [
        (1, "WN1", "PENDING", None),
        (2, "WN2", "SUCCESS", None),
    ]
    assert all(r["processed_at"] for r in rows)  # nothing old is relayed again
    assert {"inbox_pending", "inbox_kind_time", "inbox_business"} <= indexes
    with store.transaction() as db:  # the same status again, new content: allowed now; ids keep counting up
        db.execute("""INSERT INTO inbox (request_no, api_code, business_id, status, content_hash, body, received_at,
                          correlation_id) VALUES ('WN3', 'payoutResultNotify', 'PO1', 'PENDING', 'h', '{}', 'x', 'c')""")
        assert db.execute("SELECT id FROM inbox WHERE request_no = 'WN3'").fetchone()[0] == 3
    store.close()


LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
)
BODIES = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
        max_leaves=8,
    ),
    min_size=1,
    max_size=6,
)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


@settings(max_examples=200, deadline=None)
@given(BODIES, st.data())
def test_content_hash_ignores_key_order_and_sees_every_change(body: dict[str, Any], data: st.DataObject) -> None:
    assert content_hash("eddReplenishNotify", body) == content_hash("eddReplenishNotify", _reordered(body))
    assert content_hash("eddReplenishNotify", body) != content_hash("tradeReplenishNotify", body)
    key = data.draw(st.sampled_from(sorted(body)))
    other = data.draw(LEAVES.filter(lambda v: str(v) != str(body[key])))
    assert content_hash("eddReplenishNotify", body) != content_hash("eddReplenishNotify", {**body, key: other})
