"""Queue a Slack message: Slack's limits applied to exactly what will be sent, at enqueue.

Renderers cap their own blocks, but a later transform can undo it (a route's user-group mention
prepended to a 50-block message made 51, and Slack refused the lot). So every feature queues
through these two functions, which apply the block cap, the blocks' total text limit
(``message_size``) and the fallback-text limit to the final blocks and text before the row is
stored: what lies in the outbox is what Slack accepts. Same
signatures as the storage functions they wrap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from core.storage import outbox
from core.storage.outbox import Ref
from services.slack.blocks import MAX_MESSAGE_TEXT, cap, cut
from services.slack.message_size import within_budget


def _blocks(blocks: Iterable[Any] | None) -> list[Any] | None:
    if blocks is None:
        return None
    return within_budget(cap([b.to_dict() if hasattr(b, "to_dict") else b for b in blocks]))  # BLOCK_TEXT_BUDGET


def enqueue_post(
    db: Database,
    *,
    channel: str,
    text: str,
    blocks: Iterable[Any] | None = None,
    thread_ref: Ref | None = None,
    ref: Ref | None = None,
    kind: str = "message",
    fold_line: str | None = None,
    correlation_id: str | None = None,
) -> int:
    """``core.storage.outbox.enqueue_post`` after the last transform: capped, text within limits."""
    return outbox.enqueue_post(
        db,
        channel=channel,
        text=cut(text, MAX_MESSAGE_TEXT),
        blocks=_blocks(blocks),
        thread_ref=thread_ref,
        ref=ref,
        kind=kind,
        fold_line=fold_line,
        correlation_id=correlation_id,
    )


def enqueue_update(
    db: Database, *, ref: Ref, text: str, blocks: Iterable[Any] | None = None, correlation_id: str | None = None
) -> int:
    """``core.storage.outbox.enqueue_update`` with the same limits as a post."""
    return outbox.enqueue_update(
        db, ref=ref, text=cut(text, MAX_MESSAGE_TEXT), blocks=_blocks(blocks), correlation_id=correlation_id
    )
