"""Who holds a piece of work: one name per process and part, so a lease names its holder."""

from __future__ import annotations

import os
import secrets
import socket


def new_holder(part: str) -> str:
    """``part@host:pid:random``: unique per process start (a restarted process is a new holder,
    so it never mistakes its predecessor's lease for its own) and readable in the database."""
    return f"{part}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
