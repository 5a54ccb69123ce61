"""The one Block Kit toolkit: builders, Slack's limits, and the step that checks a message.

Every surface (command answers, approval cards, modals, notifications, digests, to-do cards)
builds its blocks here, so Slack's size rules live in one place and are enforced by cutting: a
message Slack refuses is a message lost. Blocks are plain dicts in exactly the shape
``slack_sdk.models.blocks`` produces; building SDK objects for every notification cost more than
half of the relay's time on the path that competes with the webhook for the CPU.

``finish()`` is the validation step: it caps the block count with a note saying how much was
left out, parses every block through slack_sdk's models (whose ``to_dict`` runs the SDK's own
checks, raising ``SlackObjectFormationError``) and serialises. Command answers, cards, modals,
digests and to-do cards go through it. The relay's per-notification renderings only ``cap()``:
validating costs about 2.5 times the rendering (227 µs against 86 µs per collection notice,
measured), and the renderers' test parses every kind through the same SDK models instead.
"""

from __future__ import annotations

import unicodedata

from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import Block as SdkBlock

from core.i18n import translator

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000  # a message's fallback text; Slack answers msg_too_long beyond it
MAX_BLOCK_TEXT = 12_000  # the text of all a message's blocks; Slack answers msg_blocks_too_long beyond about this
BLOCK_TEXT_BUDGET = 11_000  # what the bot puts in one message at most (message_size splits and guards to it)
PAGED_TEXT = 9_000  # a paged list's share of one answer, leaving room for its title and notes
MAX_MODAL_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
OPTION_TEXT = 75
OPTION_VALUE = 150
ELLIPSIS = "…"


# Characters that move or hide text without showing themselves: bidirectional embeddings,
# overrides and isolates (U+202E makes "Invoice \u202e0001 DSU" read "Invoice USD 1000"), marks,
# zero-width characters and the byte-order mark.
_HIDDEN = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, *range(0x200B, 0x200E), 0x2060, 0xFEFF]
)
# Everything that starts a new line somewhere: a purpose must not draw a fake "*Amount*" line.
_LINE_BREAKS = dict.fromkeys([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029], " ")


def visible_line(text: Any) -> str:
    """Text from a person or Whalet as ONE honest line: line breaks folded to spaces, characters
    that reorder or hide text removed, other control characters dropped. None shows as nothing."""
    folded = ("" if text is None else str(text)).translate(_LINE_BREAKS).translate(_HIDDEN)
    return "".join(c for c in folded if c == " " or c.isprintable() or unicodedata.category(c) not in ("Cc", "Cf"))


def esc(text: Any) -> str:
    """Text from Whalet or a person shown in mrkdwn, as one honest line (``visible_line``): &, <
    and > would otherwise become links or mentions (an accidental @channel)."""
    return visible_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, marked with an ellipsis when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _mrkdwn(text: str, limit: int) -> Block:
    return {"type": "mrkdwn", "text": cut(text, limit)}


def plain(text: str, limit: int) -> Block:
    return {"type": "plain_text", "text": cut(visible_line(text), limit), "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT)}


def section(text: str, *, block_id: str | None = None, fields: Sequence[str] = ()) -> Block:
    """A section with mrkdwn text and/or up to ten mrkdwn fields."""
    block: Block = {"type": "section"}
    if text:
        block["text"] = _mrkdwn(text, SECTION_TEXT)
    if fields:
        block["fields"] = [_mrkdwn(f, FIELD_TEXT) for f in list(fields)[:MAX_FIELDS]]
    if block_id:
        block["block_id"] = block_id
    return block


def fields(pairs: Sequence[tuple[str, str]]) -> list[Block]:
    """Label/value pairs as sections of at most ten fields each (the label is escaped, the value
    is mrkdwn the caller prepared)."""
    items = [_mrkdwn(f"*{esc(label)}*\n{value}", FIELD_TEXT) for label, value in pairs]
    return [{"type": "section", "fields": items[i : i + MAX_FIELDS]} for i in range(0, len(items), MAX_FIELDS)]


def context(*texts: str) -> Block:
    items = [t for t in texts if t][:CONTEXT_ELEMENTS]
    return {"type": "context", "elements": [_mrkdwn(t, SECTION_TEXT) for t in items]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None, confirm: Block | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT),
        "action_id": action_id,
        "value": value[:BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: str, yes: str, no: str = "Not yet") -> Block:
    """The dialog Slack shows before a button's click is sent."""
    return {"title": plain(title, 100), "text": plain(text, 300), "confirm": plain(yes, 30), "deny": plain(no, 30)}


def actions(*buttons: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(buttons)}
    if block_id:
        block["block_id"] = block_id
    return block


def left_out(hidden: int, what: str, locale: str | None = None) -> str:
    """ "…and 3 more fields not shown." in the reader's language (``what``: items, blocks, fields or records)."""
    t = translator(locale)
    if what == "blocks":
        return t.ngettext("…and %(n)s more block not shown.", "…and %(n)s more blocks not shown.", hidden)
    if what == "fields":
        return t.ngettext("…and %(n)s more field not shown.", "…and %(n)s more fields not shown.", hidden)
    if what == "records":
        return t.ngettext("…and %(n)s more record not shown.", "…and %(n)s more records not shown.", hidden)
    return t.ngettext("…and %(n)s more item not shown.", "…and %(n)s more items not shown.", hidden)


def cap(blocks: list[Any], limit: int = MAX_BLOCKS, *, what: str = "items", locale: str | None = None) -> list[Any]:
    """At most ``limit`` blocks; the last one says how many were left out."""
    if len(blocks) <= limit:
        return blocks
    hidden = len(blocks) - (limit - 1)
    return blocks[: limit - 1] + [context(left_out(hidden, what, locale))]


def finish(
    blocks: Iterable[Block | SdkBlock], limit: int = MAX_BLOCKS, *, what: str = "items", locale: str | None = None
) -> list[Block]:
    """Cap, validate through slack_sdk (raises SlackObjectFormationError) and serialise."""
    parsed = [
        b if isinstance(b, SdkBlock) else SdkBlock.parse(b) for b in cap(list(blocks), limit, what=what, locale=locale)
    ]
    return [b.to_dict() for b in parsed if b is not None]


def text_of(value: Any) -> int:
    """Characters of text in a block (or list of blocks), counted as Slack counts them against
    MAX_BLOCK_TEXT: every ``text`` string of every text object, fields and contexts included.
    The one measure: the digest's splitter, ``paged`` and the outbox's guard all use it."""
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


def paged(
    lines: list[str], *, per_block: int = 20, max_blocks: int = 40, max_text: int = PAGED_TEXT
) -> tuple[list[Block], int]:
    """Lines grouped into sections within the text limit; returns (blocks, lines left out).
    Stops at ``max_blocks`` sections or ``max_text`` characters of text in all, whichever comes
    first: forty sections of 3,000 characters would be ten times what Slack takes in a message."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = used = 0  # this section's text; the finished sections' text (``text_of`` of ``blocks``)
    for index, line in enumerate(lines):
        line = cut(line, SECTION_TEXT // 4)
        if chunk and (len(chunk) >= per_block or size + len(line) + 1 > SECTION_TEXT):
            blocks.append(section("\n".join(chunk)))
            used += text_of(blocks[-1])
            chunk, size = [], 0
            if len(blocks) >= max_blocks:
                return blocks, len(lines) - index
        if used + size + len(line) > max_text:
            if chunk:
                blocks.append(section("\n".join(chunk)))
            return blocks, len(lines) - index
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks, 0
