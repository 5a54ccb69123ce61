"""What people see of documents sent from Slack: the Submit documents modal and its replies.

The modal lists what Whalet asked for (from the request's ``requiredMaterials``), takes up to
``MAX_FILES`` files through Slack's ``file_input`` and a note. Replies go in the to-do's thread:
who sent which files (names, sizes, SHA-256 prefix: enough to tell two versions apart), then
Whalet's answer. Modals are plain dicts through ``finish`` (slack_sdk has no file input model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from notifications.rendered import Rendered
from services.documents import MAX_FILE_BYTES, MAX_FILES
from services.slack.blocks import MAX_MODAL_BLOCKS, Block, context, cut, esc, finish, plain, section
from services.slack.files import megabytes
from whalet.masking import mask_digit_runs

SUBMIT_ACTION = "replenish_submit"
SUBMIT_VIEW = "replenish_submit_modal"
FILES_BLOCK, NOTE_BLOCK = "files", "note"


def material_line(item: Any) -> str:
    if isinstance(item, Mapping):
        name = item.get("name") or item.get("label") or item.get("type") or "document"
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


def modal(callback_id: str, title: str, blocks: Sequence[Block], form_id: str, submit: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "close": plain("Close" if submit is None else "Cancel", 24),
        "private_metadata": form_id,
        "blocks": finish(blocks, MAX_MODAL_BLOCKS, what="fields"),
    }
    if submit:
        view["submit"] = plain(submit, 24)
    return view


def submit_modal(todo: Mapping[str, Any], form_id: str) -> dict[str, Any]:
    materials = todo.get("materials") or []
    asked = "\n".join(f"• {material_line(m)}" for m in materials[:40]) or "• (Whalet named no documents)"
    what = "trade documents" if todo["kind"] == "trade" else "due-diligence documents"
    blocks: list[Block] = [
        section(f"Whalet asks for {what} (`{esc(todo['replenish_id'])}`):\n{cut(asked, 2800)}"),
    ]
    if todo.get("docs") == "REJECTED" and todo.get("remark"):
        blocks.append(section(f"❌ Last time Whalet said: {esc(mask_digit_runs(todo['remark']))}"))
    blocks += [
        file_input(
            FILES_BLOCK,
            "Documents",
            MAX_FILES,
            hint=f"Up to {MAX_FILES} files, each at most {MAX_FILE_BYTES // 1_000_000} MB.",
        ),
        note_input(NOTE_BLOCK, "Note for Whalet (optional)"),
    ]
    return modal(SUBMIT_VIEW, "Submit documents", blocks, form_id, "Send to Whalet")


def message_view(title: str, text: str) -> dict[str, Any]:
    """A closed-for-input modal: 'Sending…', or how it ended."""
    return modal("documents_message", title, [section(text)], "", None)


def _file_line(file: Mapping[str, Any]) -> str:
    sha = str(file.get("sha256") or "")[:12]
    return f"• {esc(file.get('name'))} ({megabytes(int(file.get('size') or 0))}" + (f", sha256 {sha}…)" if sha else ")")


def sending_reply(user_id: str, files: Sequence[Mapping[str, Any]], note: str) -> Rendered:
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    text = f"📤 <@{user_id}> is sending {count} to Whalet."
    blocks = [section(f"{text}\n" + "\n".join(_file_line(f) for f in files[:MAX_FILES]))]
    if note:
        blocks.append(context(f"Note: {esc(cut(note, 500))}"))
    return Rendered(text, blocks)


def answer_reply(files: Sequence[Mapping[str, Any]], status: str | None) -> Rendered:
    text = f"📨 Whalet received the documents ({esc(status or 'accepted')}); its decision will follow here."
    return Rendered(text, [section(text + "\n" + "\n".join(_file_line(f) for f in files[:MAX_FILES]))])


def not_sent_reply(user_id: str, reason: str) -> Rendered:
    text = f"⚠️ The documents from <@{user_id}> were not sent: {esc(reason)} Submit documents is on the card again."
    return Rendered(text, [section(text)])


def unknown_reply(user_id: str) -> Rendered:
    text = (
        f"⚠️ Whalet did not answer the sending from <@{user_id}>, so it may or may not have the documents. "
        "If no decision follows here, submit them again."
    )
    return Rendered(text, [section(text)])
