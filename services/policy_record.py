"""Which policy the bot ran under, for an auditor: recorded at every start that brings a change.

The policy file decides who may move how much; a change to it (a new approver, a raised tier)
must leave a trace that does not depend on whoever edited it. At start the bot compares the
policy it loaded with the one it last recorded: on a change it appends a ``policy.changed`` row
to the audit log (the file's SHA-256, as ``sha256sum`` prints it, and the settings that changed,
``approvals.tiers`` or ``roles.approvers``) and posts the same once to the alerts channel.
Replicas starting together with the same file record it once (a claim in the database).
"""

from __future__ import annotations

import hashlib
import json
from services.approvals.lease import alerts_language
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core.clock import iso
from core.storage.claims import open_window

if TYPE_CHECKING:
    from services.container import Services

DIGEST_FLAG = "policy_sha256"
POLICY_FLAG = "policy_json"


def record_at_start(services: Services) -> list[str] | None:
    """The settings changed since the last recorded policy (``[]`` for the first), or None when
    nothing changed (or another replica recorded this one)."""
    config = services.config
    current = config.model_dump(mode="json")
    text = json.dumps(current, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if services.store.get_flag(DIGEST_FLAG) == digest:
        return None
    now = services.clock.now()
    with services.store.transaction() as db:
        if not open_window(db, f"policy:{digest}", iso(now), iso(now + timedelta(days=3650))):
            return None
        previous_text = services.store.get_flag(POLICY_FLAG)
        previous = json.loads(previous_text) if previous_text else None
        changed = sorted(changed_settings(previous, current)) if previous is not None else []
        services.store.set_flag(db, DIGEST_FLAG, digest)
        services.store.set_flag(db, POLICY_FLAG, text)
        services.store.audit(
            db,
            "system",
            "policy.changed" if previous is not None else "policy.first",
            "policy",
            digest,
            {"file_sha256": config._source_sha256, "changed": changed},
        )
    if services.alerts is not None and previous is not None:  # the first start is a baseline, not news
        t = alerts_language(services)
        what = ", ".join(f"`{key}`" for key in changed) if changed else t.gettext("its layout only")
        sha = config._source_sha256 or digest
        text = t.gettext(
            ":scroll: The bot started with a changed policy file (SHA-256 `%(sha)s`): %(what)s. "
            "It is recorded in the audit log.",
            sha=sha,
            what=what,
        )
        services.alerts.raise_alert(f"policy:{digest}", text, quiet_seconds=0)
    return changed


def changed_settings(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Dotted names (``section.key``) whose values differ; a section added or removed whole by name."""
    found = set()
    for section in before.keys() | after.keys():
        old, new = before.get(section), after.get(section)
        if isinstance(old, dict) and isinstance(new, dict):
            found |= {f"{section}.{key}" for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        elif old != new:
            found.add(section)
    return found
