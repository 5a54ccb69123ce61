"""What people see of documents sent from Slack: the Submit documents modal and its replies.

The modal lists what Whalet asked for (from the request's ``requiredMaterials``), takes up to
``MAX_FILES`` files through Slack's ``file_input`` and a note. Replies go in the to-do's thread:
who sent which files (names, sizes, SHA-256 prefix: enough to tell two versions apart), then
Whalet's answer. Modals are plain dicts through ``finish`` (slack_sdk has no file input model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.i18n import Later, translator
from notifications.formatting import status_word
from notifications.rendered import Rendered
from services.documents import MAX_FILE_BYTES, MAX_FILES
from services.slack.blocks import MAX_MODAL_BLOCKS, Block, context, cut, esc, finish, plain, section
from services.slack.files import megabytes
from whalet.masking import mask_digit_runs

SUBMIT_ACTION = "replenish_submit"
SUBMIT_VIEW = "replenish_submit_modal"
FILES_BLOCK, NOTE_BLOCK = "files", "note"


def material_line(item: Any, locale: str | None = None) -> str:
    if isinstance(item, Mapping):
        name = item.get("name") or item.get("label") or item.get("type") or translator(locale).gettext("document")
        extra = item.get("description") or item.get("remark")
        return esc(f"{name} ({extra})" if extra else name)
    return esc(item)


def file_input(block_id: str, label: str, max_files: int, *, optional: bool = False, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label, 2000),
        "element": {"type": "file_input", "action_id": "value", "max_files": max_files},
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def note_input(block_id: str, label: str, *, optional: bool = True, max_length: int = 500) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label, 2000),
        "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": max_length},
    }


def modal(
    callback_id: str, title: str, blocks: Sequence[Block], form_id: str, submit: str | None, locale: str | None = None
) -> dict[str, Any]:
    """``title`` and ``submit`` as given (already in the reader's language); Close / Cancel in ``locale``."""
    _ = translator(locale).gettext
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "close": plain(_("Close") if submit is None else _("Cancel"), 24),
        "private_metadata": form_id,
        "blocks": finish(blocks, MAX_MODAL_BLOCKS, what="fields"),
    }
    if submit:
        view["submit"] = plain(submit, 24)
    return view


def submit_modal(todo: Mapping[str, Any], form_id: str, locale: str | None = None) -> dict[str, Any]:
    """The Submit documents form, in the language of the person who clicked (``locale``)."""
    _ = translator(locale).gettext
    materials = todo.get("materials") or []
    asked = "\n".join(f"• {material_line(m, locale)}" for m in materials[:40]) or _("• (Whalet named no documents)")
    if todo["kind"] == "trade":
        intro = _("Whalet asks for trade documents (`%(id)s`):", id=esc(todo["replenish_id"]))
    else:
        intro = _("Whalet asks for due-diligence documents (`%(id)s`):", id=esc(todo["replenish_id"]))
    blocks: list[Block] = [section(f"{intro}\n{cut(asked, 2800)}")]
    if todo.get("docs") == "REJECTED" and todo.get("remark"):
        blocks.append(section(_("❌ Last time Whalet said: %(remark)s", remark=esc(mask_digit_runs(todo["remark"])))))
    blocks += [
        file_input(
            FILES_BLOCK,
            _("Documents"),
            MAX_FILES,
            hint=_("Up to %(files)s files, each at most %(mb)s MB.", files=MAX_FILES, mb=MAX_FILE_BYTES // 1_000_000),
        ),
        note_input(NOTE_BLOCK, _("Note for Whalet (optional)")),
    ]
    return modal(SUBMIT_VIEW, _("Submit documents"), blocks, form_id, _("Send to Whalet"), locale=locale)


def message_view(title: str, text: str, locale: str | None = None) -> dict[str, Any]:
    """A closed-for-input modal: 'Sending…', or how it ended (``title``, ``text``: in the reader's language)."""
    return modal("documents_message", title, [section(text)], "", None, locale=locale)


def _file_line(file: Mapping[str, Any]) -> str:
    sha = str(file.get("sha256") or "")[:12]
    return f"• {esc(file.get('name'))} ({megabytes(int(file.get('size') or 0))}" + (f", sha256 {sha}…)" if sha else ")")


def sending_reply(user_id: str, files: Sequence[Mapping[str, Any]], note: str, locale: str | None = None) -> Rendered:
    t = translator(locale)
    text = t.ngettext(
        "📤 <@%(user)s> is sending %(n)s file to Whalet.",
        "📤 <@%(user)s> is sending %(n)s files to Whalet.",
        len(files),
        user=user_id,
    )
    blocks = [section(f"{text}\n" + "\n".join(_file_line(f) for f in files[:MAX_FILES]))]
    if note:
        blocks.append(context(t.gettext("Note: %(note)s", note=esc(cut(note, 500)))))
    return Rendered(text, blocks)


def answer_reply(files: Sequence[Mapping[str, Any]], status: str | None, locale: str | None = None) -> Rendered:
    t = translator(locale)
    text = t.gettext(
        "📨 Whalet received the documents (%(status)s); its decision will follow here.",
        status=status_word(status, t) if status else t.gettext("accepted"),
    )
    return Rendered(text, [section(text + "\n" + "\n".join(_file_line(f) for f in files[:MAX_FILES]))])


def not_sent_reply(user_id: str, reason: Later | str, locale: str | None = None) -> Rendered:
    t = translator(locale)
    text = t.gettext(
        "⚠️ The documents from <@%(user)s> were not sent: %(reason)s Submit documents is on the card again.",
        user=user_id,
        reason=esc(t.text(reason)),
    )
    return Rendered(text, [section(text)])


def unknown_reply(user_id: str, locale: str | None = None) -> Rendered:
    text = translator(locale).gettext(
        "⚠️ Whalet did not answer the sending from <@%(user)s>, so it may or may not have the documents. "
        "If no decision follows here, submit them again.",
        user=user_id,
    )
    return Rendered(text, [section(text)])
