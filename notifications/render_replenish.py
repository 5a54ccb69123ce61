"""The replenish to-do card and its thread replies (reminder, result).

The card is re-rendered from the ``replenish_todos`` row after every transition and sent as an
update of the message recorded under ``("replenish", replenish_id)``, so the card always shows
the current owner and state; the button disappears once someone owns it or Whalet decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.clock import parse_iso
from services.slack.blocks import Block, actions, button, context, esc, fields, finish, header, section
from whalet.masking import mask_digit_runs
from notifications.formatting import status_icon, when_text
from notifications.render import user_label
from notifications.rendered import Rendered

TAKE_ACTION = "replenish_take"
REF_KIND = "replenish"


def ref(replenish_id: str) -> tuple[str, str]:
    return (REF_KIND, replenish_id)


def _title(todo: Mapping[str, Any]) -> str:
    return "Trade documents requested" if todo["kind"] == "trade" else "Due-diligence documents requested"


def _material(item: Any) -> str:
    if isinstance(item, Mapping):
        name = item.get("name") or item.get("label") or item.get("type") or "document"
        extra = item.get("description") or item.get("remark")
        return esc(f"{name} ({extra})" if extra else name)
    return esc(item)


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
        blocks.append(section("*Whalet asks for:*\n" + "\n".join(f"• {_material(m)}" for m in materials)))
    if state == "OPEN":
        blocks.append(section("Nobody has taken this yet."))
        blocks.append(actions(button("I'll handle it", TAKE_ACTION, str(todo["replenish_id"]), style="primary")))
        status = "open, nobody has taken it"
    elif state == "TAKEN":
        blocks.append(section(f"👤 <@{todo['owner']}> is handling this."))
        status = f"taken by <@{todo['owner']}>"
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
    text = (
        f"{status_icon(todo.get('result'))} Whalet's decision on `{esc(todo['replenish_id'])}`: "
        f"*{esc(todo.get('result') or '?')}*.{remark}"
    )
    return Rendered(text, [section(text)])
