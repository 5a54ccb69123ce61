"""How much text a message's blocks carry, and messages cut to fit at line boundaries.

Slack refuses a message whose blocks hold more than about 12,000 characters of text in all
(``msg_blocks_too_long``), well before the 50-block cap: 50 sections of 3,000 characters are
150,000. What counts is the text of the blocks as sent: section text and fields, context
elements, headers, button labels, as ``blocks.text_of`` counts it (the one measure). Producers of long messages (the digest's table, a batch's
lines) split their rows across thread replies with ``replies``, each reply within
BLOCK_TEXT_BUDGET; ``within_budget`` is the last guard on every queued message (services/slack/
queue.py), to the same BLOCK_TEXT_BUDGET, a margin under Slack's "about" 12,000: a message still
over it loses its last blocks to a note saying so, rather than being refused whole by Slack and
parked.
"""

from __future__ import annotations

from collections.abc import Callable

from services.slack.blocks import (
    BLOCK_TEXT_BUDGET,
    MAX_BLOCK_TEXT,
    MAX_BLOCKS,
    SECTION_TEXT,
    Block,
    context,
    cut,
    section,
    text_of,
)

__all__ = ["BLOCK_TEXT_BUDGET", "CONTINUED", "MAX_BLOCK_TEXT", "replies", "text_of", "within_budget"]

CONTINUED = " (continued)"  # after a heading repeated at the top of the next reply


def within_budget(blocks: list[Block], budget: int = BLOCK_TEXT_BUDGET) -> list[Block]:
    """``blocks`` if they fit; else the leading blocks that fit, and a note of how many did not."""
    if text_of(blocks) <= budget:
        return blocks
    kept: list[Block] = []
    used = 200  # room for the note
    for block in blocks:
        size = text_of(block)
        if used + size > budget:
            break
        kept.append(block)
        used += size
    hidden = len(blocks) - len(kept)
    return [*kept, context(f"…and {hidden} more blocks not shown: the message was over Slack's size limit.")]


class _Messages:
    """Lines laid into sections and messages: a section within Slack's 3,000 characters, a message
    within ``budget`` characters of text and ``max_blocks`` blocks."""

    def __init__(self, budget: int, max_blocks: int) -> None:
        self.budget, self.max_blocks = budget, max_blocks
        self.done: list[list[Block]] = []
        self.blocks: list[Block] = []
        self.chunk: list[str] = []
        self.size = self.used = 0

    def _room(self, need: int) -> bool:
        if self.used + need > self.budget:
            return False
        if self.chunk and self.size + need <= SECTION_TEXT:
            return True
        return len(self.blocks) + (1 if self.chunk else 0) < self.max_blocks

    def add(self, line: str, *, need: int = 0, carry: str | None = None) -> None:
        """``line`` in this message if ``need`` (default: the line itself) still fits, else in a
        new one that opens with ``carry`` (the heading the line belongs under)."""
        if not self._room(max(need, len(line) + 1)) and (self.chunk or self.blocks):
            self.close()
            if carry is not None:
                self._put(carry)
        self._put(line)

    def _put(self, line: str) -> None:
        if self.chunk and self.size + len(line) + 1 > SECTION_TEXT:
            self.blocks.append(section("\n".join(self.chunk)))
            self.chunk, self.size = [], 0
        self.chunk.append(line)
        self.size += len(line) + 1
        self.used += len(line) + 1

    def close(self) -> None:
        if self.chunk:
            self.blocks.append(section("\n".join(self.chunk)))
        if self.blocks:
            self.done.append(self.blocks)
        self.blocks, self.chunk, self.size, self.used = [], [], 0, 0


def replies(
    lines: list[str],
    budget: int = BLOCK_TEXT_BUDGET,
    max_blocks: int = MAX_BLOCKS,
    *,
    is_heading: Callable[[str], bool] | None = None,
    continued: str = CONTINUED,
) -> list[list[Block]]:
    """``lines`` as messages of sections, split only between lines: each message within
    ``budget`` characters and ``max_blocks`` blocks, each section within Slack's 3,000.

    With ``is_heading``, a heading is never left alone at the end of a message (it moves on with
    its first row), and a message that starts inside a heading's rows repeats the heading with
    "(continued)" (``continued``: in the reader's language), so every reply reads on its own.
    Lengths are those of the text as written, so a translated table is measured as sent."""
    out = _Messages(budget, max_blocks)
    cut_lines = [cut(raw, SECTION_TEXT // 4) for raw in lines]
    heading: str | None = None
    for index, line in enumerate(cut_lines):
        if is_heading is not None and is_heading(line):
            heading = line
            following = cut_lines[index + 1] if index + 1 < len(cut_lines) else ""
            keep_with = following if following and not is_heading(following) else ""
            out.add(line, need=len(line) + 1 + (len(keep_with) + 1 if keep_with else 0))
        else:
            out.add(line, carry=None if heading is None else cut(heading + continued, SECTION_TEXT // 4))
    out.close()
    return out.done
