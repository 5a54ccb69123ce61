"""Finding the interactive parts of a Block Kit message.

The console numbers buttons ``[1] Approve [2] Reject`` when it renders a message, and the user
types the number to click; both sides must agree on the order, so the walk lives here once and
``render`` and ``signing`` both use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for block in blocks or []:
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                yield block, element
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button, in reading order, each with the ``block_id`` of the block holding it."""
    found = []
    for block, element in _elements(blocks):
        if element.get("type") == "button":
            button = dict(element)
            button["block_id"] = block.get("block_id", "")
            found.append(button)
    return found


def button_label(button: dict[str, Any]) -> str:
    text = button.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else str(text or "")


def find_button(blocks: list[dict[str, Any]], action_id: str | None = None, text: str | None = None) -> dict[str, Any]:
    """The first button matching ``action_id`` and/or its label (case-insensitive); KeyError if none."""
    for button in buttons(blocks):
        if action_id is not None and button.get("action_id") != action_id:
            continue
        if text is not None and button_label(button).strip().lower() != text.strip().lower():
            continue
        return button
    labels = [(b.get("action_id"), button_label(b)) for b in buttons(blocks)]
    raise KeyError(f"no button with action_id={action_id!r} text={text!r}; buttons: {labels}")
