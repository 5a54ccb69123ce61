"""Files people hand the bot through a modal's file input: read with the bot's own token.

A ``file_input`` gives the app file ids, not bytes. Reading one is two steps, both with the bot
token: ``files.info`` (scope ``files:read``) says the file's name, type, size and download URL,
and ``url_private_download`` serves the bytes with ``Authorization: Bearer``. What can go wrong
is told to the person in a sentence (``FileRefused``), never as a traceback:

- the size Slack reports is checked before a byte is downloaded, and the download is counted
  while it streams (a file that grew, or a lying size, is cut off at the limit);
- the token goes only to Slack: to ``files.slack.com`` or to the host of ``SLACK_API_BASE_URL``
  (the local stand-in), over HTTPS unless that base is plain HTTP on purpose;
- without a valid token Slack answers 200 with its sign-in page, not an error: an HTML answer for
  a file that is not HTML is refused as "Slack did not hand over the file".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.i18n import later
from whalet.tls import shared_tls

DOWNLOAD_TIMEOUT_SECONDS = 20.0
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})


class FileRefused(Exception):
    """The file could not be read; ``reason`` is the sentence for the person (``str()``: English),
    translated where it is shown (``Translator.text(exc.reason)``)."""

    def __init__(self, message: str, **values: object) -> None:
        self.reason = later(message, **values)
        super().__init__(str(self.reason))


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    mimetype: str
    content: bytes


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} KB"


def _allowed(url: str, api_base_url: str) -> bool:
    target, api = urlsplit(url), urlsplit(api_base_url)
    if target.hostname in SLACK_FILE_HOSTS:
        return target.scheme == "https"
    return (target.scheme, target.hostname, target.port) == (api.scheme, api.hostname, api.port)


async def fetch_file(client: AsyncWebClient, token: str, api_base_url: str, file_id: str, max_bytes: int) -> SlackFile:
    """The bytes of ``file_id``, at most ``max_bytes`` of them."""
    try:
        info = await client.files_info(file=file_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "an error")
        if error == "missing_scope":
            raise FileRefused(
                "I may not read files in this workspace yet (the app needs the files:read scope)."
            ) from None
        raise FileRefused("Slack would not show me that file (%(error)s).", error=error) from None
    described = info.get("file") or {}
    name = str(described.get("name") or file_id)
    size = int(described.get("size") or 0)
    if size > max_bytes:
        raise FileRefused(
            "%(name)s is %(size)s; the limit is %(limit)s.", name=name, size=megabytes(size), limit=megabytes(max_bytes)
        )
    url = str(described.get("url_private_download") or described.get("url_private") or "")
    if not url or not _allowed(url, api_base_url):
        raise FileRefused("Slack gave no download address for %(name)s that I may send my token to.", name=name)
    mimetype = str(described.get("mimetype") or "application/octet-stream")
    content = await _download(url, token, name, max_bytes)
    return SlackFile(file_id, name, mimetype, content)


async def _download(url: str, token: str, name: str, max_bytes: int) -> bytes:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT_SECONDS, verify=shared_tls()) as http:
            async with http.stream("GET", url, headers=headers, follow_redirects=False) as answer:
                if answer.status_code != 200:
                    raise FileRefused(
                        "Slack did not hand over %(name)s (HTTP %(status)s).", name=name, status=answer.status_code
                    )
                if answer.headers.get("content-type", "").startswith("text/html") and not name.lower().endswith(
                    (".html", ".htm")
                ):
                    raise FileRefused("Slack did not hand over %(name)s: it answered with its sign-in page.", name=name)
                chunks, received = [], 0
                async for chunk in answer.aiter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise FileRefused(
                            "%(name)s is larger than %(limit)s, the limit.", name=name, limit=megabytes(max_bytes)
                        )
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise FileRefused(
            "I could not download %(name)s from Slack (%(error)s); try again.", name=name, error=type(exc).__name__
        ) from None
    return b"".join(chunks)
