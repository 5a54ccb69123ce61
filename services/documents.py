"""Files for Whalet: the limits of a documents form and the provisional ``materials`` encoding.

The spec leaves the shape of ``materials`` (eddReplenishSubmit, tradeReplenishSubmit) open, so
it is a setting, ``[whalet] replenish_materials``, applied here and nowhere else:

- ``base64`` (default): ``[{"name", "contentType", "size", "sha256", "content"}]``, one object
  per file, ``content`` standard Base64 with padding (spec §2: binary is never hex), ``sha256``
  lowercase hex of the bytes, so Whalet can tell a file cut on its way;
- ``base64_map``: ``{"<file name>": "<Base64 content>"}``, the shape of a form where each
  material is one named field.

A binding's optional contract file travels the same way, as ``contract``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from core.i18n import translator
from services.slack.files import SlackFile

MAX_FILES = 10
MAX_FILE_BYTES = 10_000_000  # 10 MB, as Slack counts a file's size


def summary(file: SlackFile) -> dict[str, Any]:
    """What the bot records of a file it sent: never the bytes."""
    return {
        "name": file.name,
        "contentType": file.mimetype,
        "size": len(file.content),
        "sha256": hashlib.sha256(file.content).hexdigest(),
    }


def encode(files: Sequence[SlackFile], encoding: str) -> list[dict[str, Any]] | dict[str, str]:
    if encoding == "base64_map":
        return {_unique(file.name, index, files): _b64(file.content) for index, file in enumerate(files)}
    return [summary(file) | {"content": _b64(file.content)} for file in files]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unique(name: str, index: int, files: Sequence[SlackFile]) -> str:
    """Two files of one name would overwrite each other in an object: the later ones get a number."""
    earlier = sum(1 for other in files[:index] if other.name == name)
    if not earlier:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem} ({earlier + 1}).{ext}" if dot and stem else f"{name} ({earlier + 1})"


def picked_files(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The file objects of a ``file_input`` element's state, as Slack sends them."""
    return [f for f in (state.get("files") or []) if isinstance(f, dict) and f.get("id")]


def size_refusal(files: Sequence[dict[str, Any]], max_files: int = MAX_FILES, locale: str | None = None) -> str | None:
    """The sentence for a form whose files cannot all be sent, before any is downloaded (in the
    language of the person who filled it in, ``locale``)."""
    t = translator(locale)
    if len(files) > max_files:
        return t.gettext(
            "At most %(most)s files can be sent at once; you picked %(picked)s.", most=max_files, picked=len(files)
        )
    for file in files:
        size = int(file.get("size") or 0)
        if size > MAX_FILE_BYTES:
            return t.gettext(
                "%(file)s is %(size)s MB; each file may be at most %(most)s MB.",
                file=file.get("name") or t.gettext("A file"),
                size=f"{size / 1_000_000:.1f}",
                most=MAX_FILE_BYTES // 1_000_000,
            )
    return None
