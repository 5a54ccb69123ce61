"""Logging: JSON lines for machines, readable lines for people, and never a secret in either.

Every record may carry ``event`` and ``correlation_id`` (passed through ``extra=``), so one
notification can be followed from webhook to Slack post and one payout from request to result.
A filter masks anything that looks like a token, key or long account number, as a last line of
defence behind the rule that secrets are ``SecretStr`` and never formatted into messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_SECRET_PATTERNS = [
    (re.compile(r"xox[abpre]-[A-Za-z0-9-]+"), "xox?-***"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-***"),
    (re.compile(r"-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----"), "[key]"),
    # A response_url can rewrite an approval card for 30 minutes; an upload or private file URL
    # hands out the file: Slack's (hooks.slack.com/commands|actions, files.slack.com/files-pri|
    # upload) and the stand-in's (/response/, /upload/). Host kept, the capability cut.
    (
        re.compile(r"(https?://[^\s\"'<>/]+)/(commands|actions|response|upload|files-pri|files-tmb)/[^\s\"'<>]+"),
        r"\1/\2/[redacted]",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\.[0-9a-f]{16,}\b"), "[trigger_id]"),  # opens a modal as the user
    (re.compile(r"(?<![\d.])(\d{4,})(\d{4})(?![\d.])"), r"••••\2"),  # 8+ digit runs: account/card numbers
]
_EXTRA_FIELDS = (
    "event",
    "correlation_id",
    "request_id",
    "outbox_id",
    "channel",
    "api_code",
    "request_no",
    "operation",
    "outcome",
    "duration_ms",
    "user",
    "subcommand",
    "status",
    "transport",
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """On the handler, so records of every logger (slack_bolt's DEBUG payloads too) pass it; the
    traceback text is redacted here as well, for the plain format."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int | str = logging.INFO, *, json_lines: bool | None = None, stream=None) -> None:  # type: ignore[no-untyped-def]
    """JSON lines when the stream is not a terminal (containers, CI), plain lines otherwise."""
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
