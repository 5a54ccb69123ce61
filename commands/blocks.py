"""Block Kit helpers that keep every message inside Slack's limits instead of failing at Slack.

slack_sdk's model classes validate most per-element limits when ``to_dict()`` runs, but not the
50-blocks-per-message limit, the 2000-character section field limit, or anything given as plain
dicts (research note §6). So we build with the model classes, shorten text before it reaches
them, and ``finish()`` every message: cap the block count with a note saying how much was left
out, and serialise (which runs the SDK's validation) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

MAX_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
OPTION_TEXT = 75
OPTION_VALUE = 150
ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, marked with an ellipsis when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def section(text: str, *, block_id: str | None = None, fields: Sequence[str] = ()) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=cut(text, SECTION_TEXT)) if text else None,
        fields=[MarkdownTextObject(text=cut(f, FIELD_TEXT)) for f in list(fields)[:MAX_FIELDS]] or None,
        block_id=block_id,
    )


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=cut(text, HEADER_TEXT)))


def context(*texts: str) -> ContextBlock:
    items = [t for t in texts if t][:CONTEXT_ELEMENTS]
    return ContextBlock(elements=[MarkdownTextObject(text=cut(t, SECTION_TEXT)) for t in items])


def divider() -> DividerBlock:
    return DividerBlock()


def cap(blocks: list[Block], limit: int = MAX_BLOCKS, *, what: str = "items") -> list[Block]:
    """At most ``limit`` blocks; the last one says how many were left out."""
    if len(blocks) <= limit:
        return blocks
    hidden = len(blocks) - (limit - 1)
    return blocks[: limit - 1] + [context(f"…and {hidden} more {what} not shown.")]


def finish(blocks: Iterable[Block | dict[str, Any]], limit: int = MAX_BLOCKS, *, what: str = "items") -> list[dict[str, Any]]:
    """Cap, validate through slack_sdk (raises SlackObjectFormationError) and serialise."""
    parsed = [b if isinstance(b, Block) else Block.parse(b) for b in blocks]
    return [b.to_dict() for b in cap([b for b in parsed if b is not None], limit, what=what)]


def paged(lines: list[str], *, per_block: int = 20, max_blocks: int = 40) -> tuple[list[Block], int]:
    """Lines grouped into sections within the text limit; returns (blocks, lines left out)."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        line = cut(line, SECTION_TEXT // 4)
        if chunk and (len(chunk) >= per_block or size + len(line) + 1 > SECTION_TEXT):
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
            if len(blocks) >= max_blocks:
                return blocks, len(lines) - index
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks, 0
