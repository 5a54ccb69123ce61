"""The bot scopes an app manifest asks for, read without a YAML library.

The stand-in grants exactly what ``app_manifest.yml`` lists under ``oauth_config.scopes.bot``.
That one list is all it needs from the file, so it is read here with the standard library rather
than making PyYAML a runtime dependency of every install (the production bot never reads YAML).
The reader knows the block style Slack's manifests are written in: nested keys by indentation,
the scopes as a ``- item`` list, ``#`` comments; ``tests/bot/test_slack_standin_rules.py`` checks
it against PyYAML on the shipped manifest.
"""

from __future__ import annotations

import functools

PATH = ("oauth_config", "scopes", "bot")


@functools.lru_cache(maxsize=8)
def scopes_in(text: str) -> frozenset[str]:
    """Parsed once per manifest text (the stand-in starts many times in a test run)."""
    depth, key_indent, scopes = 0, -1, []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if depth == len(PATH):
            if body.startswith("- ") and indent >= key_indent:
                scopes.append(body[2:].strip().strip("'\""))
                continue
            if indent <= key_indent:
                break
            continue
        if indent <= key_indent:
            break  # the parent block ended before the path was complete
        if body == PATH[depth] + ":":
            depth, key_indent = depth + 1, indent
        elif body.startswith(PATH[depth] + ":") and body.endswith("]"):  # flow style: bot: [a, b]
            if depth == len(PATH) - 1:
                inner = body.split("[", 1)[1].rstrip("]")
                return frozenset(item.strip().strip("'\"") for item in inner.split(",") if item.strip())
    return frozenset(scopes)
