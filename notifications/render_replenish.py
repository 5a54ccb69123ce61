"""The replenish to-do card and its thread replies (reminder, result).

The card is re-rendered from the ``replenish_todos`` row after every transition and sent as an
update of the message recorded under ``("replenish", replenish_id)``, so the card always shows
the current owner and state; "I'll handle it" disappears once someone owns it, "Submit documents"
while documents are on their way or with Whalet, and both once Whalet passed them. A REJECT
shows Whalet's remark and offers "Submit documents" again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.clock import parse_iso
from services.slack.blocks import Block, actions, button, context, esc, fields, finish, header, section
from whalet.masking import mask_digit_runs
from notifications.formatting import status_icon, when_text
from notifications.render import user_label
from notifications.render_documents import SUBMIT_ACTION, material_line
from notifications.rendered import Rendered

TAKE_ACTION = "replenish_take"
REF_KIND = "replenish"


def ref(replenish_id: str) -> tuple[str, str]:
    return (REF_KIND, replenish_id)


def _title(todo: Mapping[str, Any]) -> str:
    return "Trade documents requested" if todo["kind"] == "trade" else "Due-diligence documents requested"


def _deadline(todo: Mapping[str, Any]) -> str:
    return when_text(parse_iso(todo["deadline"])) if todo.get("deadline") else "not given"


def card(todo: Mapping[str, Any], users: Mapping[str, str]) -> Rendered:
    state = todo["state"]
    icon = {"OPEN": "📄", "TAKEN": "📝"}.get(state, status_icon(todo.get("result")))
    pairs = [
        ("Whalet user", user_label(users, todo["user_id"]) if todo.get("user_id") else "—"),
        ("Deadline", _deadline(todo)),
    ]
    if todo["kind"] == "trade":
        pairs.append(("Trade", f"{esc(todo.get('trade_type') or '')} `{esc(todo.get('trade_id') or '—')}`"))
    blocks: list[Block] = [header(f"{icon} {_title(todo)}")]
    if todo.get("reason"):
        blocks.append(section(f"*Why:* {esc(mask_digit_runs(todo['reason']))}"))
    blocks += fields(pairs)
    materials = todo.get("materials") or []
    if materials:
        blocks.append(section("*Whalet asks for:*\n" + "\n".join(f"• {material_line(m)}" for m in materials)))
    if state in ("OPEN", "TAKEN"):
        status = _open_blocks(todo, blocks)
    else:
        remark = f": {esc(mask_digit_runs(todo['remark']))}" if todo.get("remark") else ""
        owner = f" (handled by <@{todo['owner']}>)" if todo.get("owner") else ""
        blocks.append(
            section(
                f"{status_icon(todo.get('result'))} Closed, Whalet's decision: "
                f"*{esc(todo.get('result') or '?')}*{remark}{owner}"
            )
        )
        status = f"closed ({esc(todo.get('result'))})"
    blocks.append(context(f"Replenish request `{esc(todo['replenish_id'])}`"))
    return Rendered(f"{_title(todo)} (deadline {todo.get('deadline') or 'not given'}): {status}", finish(blocks))


def _open_blocks(todo: Mapping[str, Any], blocks: list[Block]) -> str:
    """Who has it, where the documents are, and the buttons that still make sense."""
    replenish_id, docs = str(todo["replenish_id"]), todo.get("docs")
    if todo["state"] == "OPEN":
        blocks.append(section("Nobody has taken this yet."))
        status = "open, nobody has taken it"
    else:
        blocks.append(section(f"👤 <@{todo['owner']}> is handling this."))
        status = f"taken by <@{todo['owner']}>"
    if docs == "SENDING":
        blocks.append(section(f"📤 <@{todo['docs_by']}> is sending documents to Whalet…"))
    elif docs == "SUBMITTED":
        blocks.append(section(f"📨 Documents sent by <@{todo['docs_by']}>; waiting for Whalet's decision."))
        status += ", documents with Whalet"
    elif docs == "REJECTED":
        remark = f": {esc(mask_digit_runs(todo['remark']))}" if todo.get("remark") else "."
        blocks.append(section(f"❌ Whalet rejected the documents{remark} Please send them again."))
        status += ", documents rejected"
    buttons = []
    if todo["state"] == "OPEN":
        buttons.append(button("I'll handle it", TAKE_ACTION, replenish_id, style="primary"))
    if docs not in ("SENDING", "SUBMITTED"):
        buttons.append(button("Submit documents", SUBMIT_ACTION, replenish_id))
    if buttons:
        blocks.append(actions(*buttons))
    return status


def reminder(todo: Mapping[str, Any]) -> Rendered:
    who = f"<@{todo['owner']}> is handling it" if todo.get("owner") else "nobody has taken it yet"
    text = f"⏰ Reminder: the documents for `{esc(todo['replenish_id'])}` are due {_deadline(todo)}; {who}."
    return Rendered(text, [section(text)])


_CHANGED = {"requiredMaterials": "the documents it asks for", "deadline": "the deadline", "reason": "the reason"}


def changed_reply(todo: Mapping[str, Any], changed: list[str]) -> Rendered:
    """Thread reply when Whalet re-sends a documents request with other content."""
    names = [_CHANGED.get(name, f"`{esc(name)}`") for name in changed[:6]]
    what = f" ({', '.join(names)})" if names else ""
    text = (
        f"🔄 Whalet changed the documents request `{esc(todo['replenish_id'])}`{what}; "
        f"the card above shows what it asks for now, due {_deadline(todo)}."
    )
    return Rendered(text, [section(text)])


def result_reply(todo: Mapping[str, Any]) -> Rendered:
    remark = f" Remark: {esc(mask_digit_runs(todo['remark']))}" if todo.get("remark") else ""
    again = " Submit documents is on the card again." if todo["state"] != "CLOSED" else ""
    text = (
        f"{status_icon(todo.get('result'))} Whalet's decision on `{esc(todo['replenish_id'])}`: "
        f"*{esc(todo.get('result') or '?')}*.{remark}{again}"
    )
    return Rendered(text, [section(text)])
