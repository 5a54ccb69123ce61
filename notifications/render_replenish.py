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
from core.i18n import N_, Translator, translator
from services.slack.blocks import Block, actions, button, context, esc, fields, finish, header, section
from whalet.masking import mask_digit_runs
from notifications.formatting import status_icon, status_word, when_text
from notifications.render import user_label
from notifications.render_documents import SUBMIT_ACTION, material_line
from notifications.rendered import Rendered

TAKE_ACTION = "replenish_take"
REF_KIND = "replenish"


def ref(replenish_id: str) -> tuple[str, str]:
    return (REF_KIND, replenish_id)


def _title(todo: Mapping[str, Any], t: Translator) -> str:
    if todo["kind"] == "trade":
        return t.gettext("Trade documents requested")
    return t.gettext("Due-diligence documents requested")


def _deadline(todo: Mapping[str, Any], t: Translator) -> str:
    return when_text(parse_iso(todo["deadline"])) if todo.get("deadline") else t.gettext("not given")


def _result(todo: Mapping[str, Any], t: Translator) -> str:
    """Whalet's decision (PASS, REJECT…) in the reader's words; '?' before there is one."""
    return status_word(todo.get("result"), t) if todo.get("result") else "?"


def card(todo: Mapping[str, Any], users: Mapping[str, str], locale: str | None = None) -> Rendered:
    """The to-do card, in the language of the channel it is posted in (``locale``)."""
    t = translator(locale)
    _ = t.gettext
    state = todo["state"]
    icon = {"OPEN": "📄", "TAKEN": "📝"}.get(state, status_icon(todo.get("result")))
    pairs = [
        (_("Whalet user"), user_label(users, todo["user_id"]) if todo.get("user_id") else "—"),
        (_("Deadline"), _deadline(todo, t)),
    ]
    if todo["kind"] == "trade":
        pairs.append((_("Trade"), f"{esc(todo.get('trade_type') or '')} `{esc(todo.get('trade_id') or '—')}`"))
    blocks: list[Block] = [header(f"{icon} {_title(todo, t)}")]
    if todo.get("reason"):
        blocks.append(section(_("*Why:* %(reason)s", reason=esc(mask_digit_runs(todo["reason"])))))
    blocks += fields(pairs)
    materials = todo.get("materials") or []
    if materials:
        asked = "\n".join(f"• {material_line(m, locale)}" for m in materials)
        blocks.append(section(_("*Whalet asks for:*\n%(items)s", items=asked)))
    if state in ("OPEN", "TAKEN"):
        status = _open_blocks(todo, blocks, t)
    else:
        blocks.append(section(_closed_line(todo, t)))
        status = _(
            "closed (%(result)s)", result=esc(todo.get("result")) if not todo.get("result") else _result(todo, t)
        )
    blocks.append(context(_("Replenish request `%(id)s`", id=esc(todo["replenish_id"]))))
    deadline = todo.get("deadline") or _("not given")
    text = _("%(title)s (deadline %(deadline)s): %(status)s", title=_title(todo, t), deadline=deadline, status=status)
    return Rendered(text, finish(blocks))


def _closed_line(todo: Mapping[str, Any], t: Translator) -> str:
    _ = t.gettext
    values = {
        "icon": status_icon(todo.get("result")),
        "result": _result(todo, t),
        "remark": esc(mask_digit_runs(todo["remark"])) if todo.get("remark") else "",
        "owner": todo.get("owner") or "",
    }
    if todo.get("remark") and todo.get("owner"):
        return _("%(icon)s Closed, Whalet's decision: *%(result)s*: %(remark)s (handled by <@%(owner)s>)", **values)
    if todo.get("remark"):
        return _("%(icon)s Closed, Whalet's decision: *%(result)s*: %(remark)s", **values)
    if todo.get("owner"):
        return _("%(icon)s Closed, Whalet's decision: *%(result)s* (handled by <@%(owner)s>)", **values)
    return _("%(icon)s Closed, Whalet's decision: *%(result)s*", **values)


def _open_blocks(todo: Mapping[str, Any], blocks: list[Block], t: Translator) -> str:
    """Who has it, where the documents are, and the buttons that still make sense."""
    _ = t.gettext
    replenish_id, docs = str(todo["replenish_id"]), todo.get("docs")
    owner, sender = todo.get("owner"), todo.get("docs_by")
    if todo["state"] == "OPEN":
        blocks.append(section(_("Nobody has taken this yet.")))
        status = _("open, nobody has taken it")
    else:
        blocks.append(section(_("👤 <@%(user)s> is handling this.", user=owner)))
        status = _("taken by <@%(user)s>", user=owner)
    if docs == "SENDING":
        blocks.append(section(_("📤 <@%(user)s> is sending documents to Whalet…", user=sender)))
    elif docs == "SUBMITTED":
        blocks.append(section(_("📨 Documents sent by <@%(user)s>; waiting for Whalet's decision.", user=sender)))
        status = _("%(status)s, documents with Whalet", status=status)
    elif docs == "REJECTED":
        if todo.get("remark"):
            remark = esc(mask_digit_runs(todo["remark"]))
            blocks.append(
                section(_("❌ Whalet rejected the documents: %(remark)s Please send them again.", remark=remark))
            )
        else:
            blocks.append(section(_("❌ Whalet rejected the documents. Please send them again.")))
        status = _("%(status)s, documents rejected", status=status)
    buttons = []
    if todo["state"] == "OPEN":
        buttons.append(button(_("I'll handle it"), TAKE_ACTION, replenish_id, style="primary"))
    if docs not in ("SENDING", "SUBMITTED"):
        buttons.append(button(_("Submit documents"), SUBMIT_ACTION, replenish_id))
    if buttons:
        blocks.append(actions(*buttons))
    return status


def reminder(todo: Mapping[str, Any], locale: str | None = None) -> Rendered:
    t = translator(locale)
    values = {"id": esc(todo["replenish_id"]), "deadline": _deadline(todo, t), "user": todo.get("owner") or ""}
    if todo.get("owner"):
        text = t.gettext(
            "⏰ Reminder: the documents for `%(id)s` are due %(deadline)s; <@%(user)s> is handling it.", **values
        )
    else:
        text = t.gettext(
            "⏰ Reminder: the documents for `%(id)s` are due %(deadline)s; nobody has taken it yet.", **values
        )
    return Rendered(text, [section(text)])


_CHANGED = {
    "requiredMaterials": N_("the documents it asks for"),
    "deadline": N_("the deadline"),
    "reason": N_("the reason"),
}


def changed_reply(todo: Mapping[str, Any], changed: list[str], locale: str | None = None) -> Rendered:
    """Thread reply when Whalet re-sends a documents request with other content."""
    t = translator(locale)
    names = [t.gettext(_CHANGED[name]) if name in _CHANGED else f"`{esc(name)}`" for name in changed[:6]]
    values = {"id": esc(todo["replenish_id"]), "deadline": _deadline(todo, t), "what": t.gettext(", ").join(names)}
    if names:
        text = t.gettext(
            "🔄 Whalet changed the documents request `%(id)s` (%(what)s); "
            "the card above shows what it asks for now, due %(deadline)s.",
            **values,
        )
    else:
        text = t.gettext(
            "🔄 Whalet changed the documents request `%(id)s`; "
            "the card above shows what it asks for now, due %(deadline)s.",
            **values,
        )
    return Rendered(text, [section(text)])


def result_reply(todo: Mapping[str, Any], locale: str | None = None) -> Rendered:
    t = translator(locale)
    _ = t.gettext
    values = {
        "icon": status_icon(todo.get("result")),
        "id": esc(todo["replenish_id"]),
        "result": _result(todo, t),
        "remark": esc(mask_digit_runs(todo["remark"])) if todo.get("remark") else "",
    }
    text = _("%(icon)s Whalet's decision on `%(id)s`: *%(result)s*.", **values)
    if todo.get("remark"):
        text = _("%(icon)s Whalet's decision on `%(id)s`: *%(result)s*. Remark: %(remark)s", **values)
    if todo["state"] != "CLOSED":
        text = _("%(decision)s Submit documents is on the card again.", decision=text)
    return Rendered(text, [section(text)])
