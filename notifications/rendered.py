"""A rendered Slack message: fallback text, Block Kit, and a one-line form for folded bursts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from notifications.formatting import mention_text
from services.slack.blocks import Block, context


@dataclass(frozen=True)
class Rendered:
    text: str  # notification / fallback text; also what screen readers announce
    blocks: list[Block] = field(default_factory=list)
    fold_line: str | None = None  # one line for a folded burst summary (collections)


def with_mention(rendered: Rendered, group_id: str | None) -> Rendered:
    """Prefix a user-group mention so the group is notified (routes may ask for one)."""
    if not group_id:
        return rendered
    tag = mention_text(group_id)
    return replace(rendered, text=f"{tag} {rendered.text}", blocks=[context(tag), *rendered.blocks])
