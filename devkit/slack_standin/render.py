"""Show Block Kit messages in a terminal, for ``whalet-bot demo`` and ``console``.

Without Slack's client the demo would print JSON nobody reads; this draws roughly what a person
sees in Slack (headers, fields side by side, numbered buttons to type) with rich, and degrades to
plain text when stdout is not a terminal. Unknown block types are named, never fatal: a renderer
that crashes would hide the very message the demo is about.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from devkit.slack_standin.blocks import button_label
from devkit.slack_standin.records import Ephemeral, Event, Message, ResponsePost, View

_TOKEN = re.compile(
    r"```(?P<pre>.+?)```|`(?P<code>[^`\n]+)`|<(?P<link>[^>\n]+)>"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<ital>[^_\n]+)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]+)~(?![\w~])",
    re.S,
)
Names = Mapping[str, str] | None  # Slack user id -> display name
_BUTTON_STYLE = {"primary": "bold white on green", "danger": "bold white on red"}


def mrkdwn(text: str, style: str = "", names: Names = None) -> Text:
    """Slack mrkdwn to rich Text: *bold*, _italic_, ~strike~, `code`, mentions and links.

    ``names`` maps user ids to display names: ``<@U0REQ>`` shows as ``@Rita`` instead of ``@U0REQ``.
    """
    out = Text(style=style)
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(html.unescape(text[pos : match.start()]))
        pos = match.end()
        kind = match.lastgroup or ""
        inner = match.group(kind)
        if kind in ("pre", "code"):
            out.append(html.unescape(inner), style="cyan")
        elif kind == "link":
            out.append(_link(inner, names), style="underline" if inner[:1] not in "@#!" else "bold blue")
        else:
            nested = {"bold": "bold", "ital": "italic", "strike": "strike"}[kind]
            out.append_text(mrkdwn(inner, nested, names))
    out.append(html.unescape(text[pos:]))
    return out


def _link(inner: str, names: Names = None) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # <@U123> / <@U123|alice>
        return "@" + (label or (names or {}).get(target[1:], target[1:]))
    if target.startswith("#"):  # <#C1|finance>
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@approvers>
        return label or "@" + target[1:].split("^")[-1]
    return html.unescape(label or target)  # <https://x|text>


def _text(obj: Any, names: Names = None) -> Text:
    if isinstance(obj, str):
        return mrkdwn(obj, names=names)
    if not isinstance(obj, dict):
        return Text("")
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), names=names)
    return Text(str(obj.get("text", "")))


class _Blocks:
    """Renders a block list; numbers buttons in the same order as ``blocks.buttons``."""

    def __init__(self, names: Names = None) -> None:
        self.number = 0
        self.names = names

    def render(self, blocks: list[dict[str, Any]]) -> list[RenderableType]:
        out: list[RenderableType] = []
        for block in blocks:
            try:
                out.append(self.block(block))
            except Exception:  # a malformed block is shown, not fatal
                out.append(Text(f"[unreadable {block.get('type', 'block')}]", style="dim"))
        return out

    def block(self, block: dict[str, Any]) -> RenderableType:
        kind = block.get("type")
        if kind == "header":
            return Text(str((block.get("text") or {}).get("text", "")), style="bold")
        if kind == "section":
            return self.section(block)
        if kind == "context":
            parts = [
                Text(f"[image: {e.get('alt_text', '')}]") if e.get("type") == "image" else _text(e, self.names)
                for e in block.get("elements") or []
            ]
            joined = Text("  ·  ").join(parts)
            joined.stylize("dim")
            return joined
        if kind == "divider":
            return Rule(style="dim")
        if kind == "actions":
            return Text(" ").join(self.element(e) for e in block.get("elements") or [])
        if kind == "image":
            return Text(f"[image: {block.get('alt_text', '')}]", style="italic")
        if kind == "input":
            label = _text(block.get("label")).plain
            optional = " (optional)" if block.get("optional") else ""
            return Text(f"{label}{optional}: ____")
        if kind in ("markdown", "rich_text"):
            return mrkdwn(str(block.get("text") or _rich_text_plain(block)), names=self.names)
        return Text(f"[{kind} block]", style="dim")

    def section(self, block: dict[str, Any]) -> RenderableType:
        parts: list[RenderableType] = []
        if block.get("text"):
            parts.append(_text(block["text"], self.names))
        fields = block.get("fields") or []
        if fields:
            grid = Table.grid(padding=(0, 3), expand=False)
            grid.add_column()
            grid.add_column()
            for i in range(0, len(fields), 2):
                grid.add_row(*(_text(f, self.names) for f in fields[i : i + 2]))
            parts.append(grid)
        if isinstance(block.get("accessory"), dict):
            parts.append(self.element(block["accessory"]))
        return Group(*parts)

    def element(self, element: dict[str, Any]) -> Text:
        kind = element.get("type")
        if kind == "button":
            self.number += 1
            style = _BUTTON_STYLE.get(str(element.get("style")), "bold reverse")
            label = Text(f"[{self.number}] {button_label(element)}", style=style)
            if element.get("confirm"):
                label.append(" (asks to confirm)", style="dim")
            return label
        if kind == "image":
            return Text(f"[image: {element.get('alt_text', '')}]")
        placeholder = _text(element.get("placeholder")).plain
        return Text(f"[{kind}{': ' + placeholder if placeholder else ''}]", style="dim")


def _rich_text_plain(block: dict[str, Any]) -> str:
    def walk(node: Any) -> str:
        if isinstance(node, dict):
            return str(node.get("text", "")) + "".join(walk(e) for e in node.get("elements") or [])
        return ""

    return walk(block)


def _when(ts: str | None) -> str:
    try:
        return datetime.fromtimestamp(float(ts or "")).strftime("%H:%M:%S")
    except ValueError:
        return ""


def _body(text: str, blocks: list[dict[str, Any]], names: Names) -> list[RenderableType]:
    return _Blocks(names).render(blocks) if blocks else [mrkdwn(text, names=names)]


def _print(console: Console, parts: list[RenderableType], caption: str, indent: int, border: str = "blue") -> None:
    panel = Panel(
        Group(*parts),
        title=Text(caption, style="dim"),
        title_align="left",
        border_style=border,
        width=max(20, min(100, console.width - indent)),
    )
    console.print(Padding(panel, (0, 0, 0, indent)))


def render_message(
    message: Any, console: Console, *, indent: int = 0, caption: str | None = None, names: Names = None
) -> None:
    """A channel message (stand-in ``Message`` or a Slack message dict)."""
    msg = message.to_dict() if hasattr(message, "to_dict") else dict(message)
    if caption is None:
        user = msg.get("user")
        who = "whalet (bot)" if user in (None, "UBOT") else f"@{(names or {}).get(user, user)}"
        caption = f"#{msg.get('channel', '?')} · {who} · {_when(msg.get('ts'))}"
        if msg.get("edited") or getattr(message, "updated_count", 0):
            caption += " · edited"
        if msg.get("thread_ts") and msg.get("thread_ts") != msg.get("ts"):
            caption = "↳ reply · " + caption
    files = msg.get("files") or []
    parts = (
        _body(str(msg.get("text") or ""), msg.get("blocks") or [], names)
        if msg.get("text") or msg.get("blocks") or not files
        else []
    )
    parts += [
        Text(f"📎 {f.get('title') or f.get('name')} ({f.get('name')}, {f.get('size', 0):,} bytes)") for f in files
    ]  # a shared file (files.completeUploadExternal)
    _print(console, parts, caption, indent)


def render_thread(messages: list[Message], console: Console, *, names: Names = None) -> None:
    """Top-level messages in order, each followed by its replies indented under it."""
    replies = [m for m in messages if m.is_reply]
    for parent in (m for m in messages if not m.is_reply):
        render_message(parent, console, names=names)
        for reply in (r for r in replies if r.thread_ts == parent.ts):
            render_message(reply, console, indent=4, names=names)


def render_ephemeral(
    ephemeral: Ephemeral | ResponsePost | dict[str, Any],
    console: Console,
    *,
    indent: int = 0,
    caption: str | None = None,
    names: Names = None,
) -> None:
    """A message only one person sees (``chat.postEphemeral`` or a ``response_url`` answer)."""
    if isinstance(ephemeral, ResponsePost):
        text, blocks, user, channel = ephemeral.text, ephemeral.blocks, None, None
    elif isinstance(ephemeral, Ephemeral):
        text, blocks = ephemeral.text, ephemeral.blocks
        user, channel = ephemeral.user, ephemeral.channel
    else:
        text, blocks = str(ephemeral.get("text") or ""), ephemeral.get("blocks") or []
        user, channel = ephemeral.get("user"), ephemeral.get("channel")
    if caption is None:
        who = (names or {}).get(user or "", user or "you")
        caption = f"only visible to @{who}" + (f" in #{channel}" if channel else "")
    _print(console, _body(text, blocks, names), caption, indent, border="grey50")


def render_view(view: View | dict[str, Any], console: Console, *, indent: int = 0, names: Names = None) -> None:
    """A modal: title, its blocks (inputs as ``Label: ____``), submit and close buttons; or a
    person's App Home tab (``views.publish``): its blocks under "App Home of @name"."""
    spec = view.view if isinstance(view, View) else view
    parts = _Blocks(names).render(spec.get("blocks") or [])
    if spec.get("type") == "home":
        user = view.user if isinstance(view, View) else None
        _print(console, parts, f"App Home of @{(names or {}).get(user or '', user or 'you')}", indent, border="green")
        return
    footer = Text("  ").join(
        Text(f"[{_text(spec.get(key)).plain or default}]", style="bold")
        for key, default in (("close", "Cancel"), ("submit", "Submit"))
        if spec.get(key) or key == "close"
    )
    parts.append(footer)
    caption = f"modal · {_text(spec.get('title')).plain}"
    _print(console, parts, caption, indent, border="magenta")


def render_event(event: Event, console: Console, *, names: Names = None) -> None:
    """What the demo prints for each ``FakeSlack.on_event`` notification (raw ``response``
    posts are skipped: their effect arrives as its own message/ephemeral/update event)."""
    record = event.record
    if event.kind in ("message", "update") and isinstance(record, Message):
        render_message(record, console, indent=4 if record.is_reply else 0, names=names)
    elif event.kind in ("ephemeral", "update") and isinstance(record, Ephemeral):
        render_ephemeral(record, console, names=names)
    elif event.kind == "view" and isinstance(record, View):
        render_view(record, console, names=names)
    elif event.kind == "delete":
        console.print(Text("(a message was deleted)", style="dim"))
