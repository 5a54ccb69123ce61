"""Reading a request body from the internet without trusting its size.

Both doors (`/whalet/webhook` and `/slack/events`) read the body before they can check who sent
it, so the read itself is bounded: a Content-Length above the limit is refused before a byte is
read, and the stream is counted while it arrives (a sender may lie about its length or send
none, with chunked encoding). 1 MiB is hundreds of times the largest notification or Slack
payload (a modal submission is a few KiB).
"""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY_BYTES = 1 << 20


class TooLarge(Exception):
    """The body is over the limit; nothing more of it is read."""


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refusing more than ``limit`` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
