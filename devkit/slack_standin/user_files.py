"""Files people upload through a modal's file input, as the bot later reads them.

In Slack a ``file_input`` element hands the app file objects in ``view_submission``; the bytes are
not in the payload. The app asks ``files.info`` (scope ``files:read``) and downloads
``url_private_download`` with its own token in an ``Authorization: Bearer`` header. Two of
Slack's habits are modelled because code that ignores them breaks in production:

- a download without the bot's token is not an error status: Slack answers 200 with its HTML
  sign-in page, so a client that does not check what it got would parse a web page as a CSV;
- a file id the bot cannot see is ``file_not_found`` from ``files.info``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from devkit.slack_standin.records import UploadedFile
from devkit.slack_standin.workspace import Workspace

Answer = dict[str, Any]
SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


def add_user_file(fake: Workspace, user_id: str, name: str, data: bytes, mimetype: str | None = None) -> Answer:
    """A file ``user_id`` picked in a file input; returns Slack's file object for the payload."""
    file_id = fake.store.next_id("F")
    root = fake.api_url.removesuffix("/api/")
    url = f"{root}/files-pri/{fake.team_id}-{file_id}/download/{quote(name)}"
    record = UploadedFile(file_id, name, len(data), data=data, user=user_id, mimetype=mimetype, url=url)
    with fake.files.lock:
        fake.files.by_id[file_id] = record
    return record.to_dict()


def files_info(fake: Workspace, p: dict[str, Any]) -> Answer:
    with fake.files.lock:
        record = fake.files.by_id.get(str(p.get("file") or ""))
        if record is None or record.data is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": record.to_dict()}


def download(fake: Workspace, team_file: str, authorization: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for ``GET /files-pri/{team}-{file}/download/{name}``."""
    if authorization != f"Bearer {fake.bot_token}":
        return 200, "text/html; charset=utf-8", SIGN_IN_PAGE
    file_id = team_file.removeprefix(f"{fake.team_id}-")
    with fake.files.lock:
        record = fake.files.by_id.get(file_id)
    if record is None or record.data is None or record.url is None:
        return 404, "text/plain", b"Not found"
    return 200, record.mimetype or "application/octet-stream", record.data
