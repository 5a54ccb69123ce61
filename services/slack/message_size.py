"""How much text a message's blocks carry, and messages cut to fit at line boundaries.

Slack refuses a message whose blocks hold more than about 12,000 characters of text in all
(``msg_blocks_too_long``), well before the 50-block cap: 50 sections of 3,000 characters are
150,000. What counts is the text of the blocks as sent: section text and fields, context
elements, headers, button labels. Producers of long messages (the digest's table, a batch's
lines) split their rows across thread replies with ``replies``, each reply within
BLOCK_TEXT_BUDGET; ``within_budget`` is the last guard on every queued message (services/slack/
queue.py): a message still over the limit loses its last blocks to a note saying so, rather than
being refused whole by Slack and parked.
"""

from __future__ import annotations

from typing import Any

from services.slack.blocks import MAX_BLOCKS, SECTION_TEXT, Block, context, cut, section

MAX_BLOCK_TEXT = 12_000  # Slack answers msg_blocks_too_long beyond about this much
BLOCK_TEXT_BUDGET = 11_000  # what the bot puts in one message at most


def text_of(value: Any) -> int:
    """Characters of text in a block (or list of blocks), counted as Slack counts them: every
    ``text`` string of every text object, fields included."""
    if isinstance(value, list):
        return sum(text_of(item) for item in value)
    if not isinstance(value, dict):
        return 0
    total = 0
    for key, item in value.items():
        if key == "text" and isinstance(item, str):
            total += len(item)
        elif isinstance(item, (dict, list)):
            total += text_of(item)
    return total


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


def replies(lines: list[str], budget: int = BLOCK_TEXT_BUDGET, max_blocks: int = MAX_BLOCKS) -> list[list[Block]]:
    """``lines`` as messages of sections, split only between lines: each message within
    ``budget`` characters and ``max_blocks`` blocks, each section within Slack's 3,000."""
    messages: list[list[Block]] = []
    blocks: list[Block] = []
    chunk: list[str] = []
    used = size = 0
    for raw in lines:
        line = cut(raw, SECTION_TEXT // 4)
        if chunk and size + len(line) + 1 > SECTION_TEXT:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        if used + len(line) + 1 > budget or (not chunk and len(blocks) >= max_blocks):
            if chunk:
                blocks.append(section("\n".join(chunk)))
            messages.append(blocks)
            blocks, chunk, used, size = [], [], 0, 0
        chunk.append(line)
        size += len(line) + 1
        used += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if blocks:
        messages.append(blocks)
    return messages
