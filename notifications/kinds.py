"""Every kind of Whalet notification the bot knows, declared once where its code lives.

A kind is what the bot does with one notification apiCode: which body fields name the business
object (the inbox's business id, the "update of an earlier notification" note), how it is rendered
and, when it changes our own state, the relay handler with those side effects. Whalet's side of
the same apiCode (the wire name and group in ``whalet.operations``, the typed body in
``whalet.models``) is read from those tables, never copied.

Declared like ``@subcommand``: ``@renders(...)`` on a renderer in ``notifications.render``,
``@relays(...)`` on a handler in ``notifications.relay``; the two add to the same kind. Importing
the ``notifications`` package imports both modules, so the table is complete before the first
notification. Every notification operation of ``whalet.operations`` must have a kind (a test
checks it); one without a renderer is shown with the generic rendering, one without a handler is
simply posted where it is routed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from core.i18n import Translator
from notifications.job import Job
from notifications.rendered import Rendered
from whalet.models import NOTIFICATION_MODELS, Inbound
from whalet.operations import NOTIFICATION_GROUPS

# (kind, typed body, user names, the reader's translator: the channel's language)
Renderer = Callable[["NotificationKind", Any, Mapping[str, str], Translator], Rendered]
Handler = Callable[[Job], str]  # returns the inbox row's outcome
R = TypeVar("R", bound=Renderer)
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class NotificationKind:
    operation: str  # the spec's name (the default apiCode; a config file may rename it)
    business_id_fields: tuple[str, ...] = ()  # first one present names the object
    title: str = ""  # for renderers shared by several kinds (marked with N_, translated where shown)
    render: Renderer | None = None
    relay: Handler | None = None

    @property
    def model(self) -> type[Inbound] | None:
        return NOTIFICATION_MODELS.get(self.operation)

    @property
    def group(self) -> str | None:
        """The routing group (``[[routes]] events = [...]``) this kind belongs to."""
        return next((name for name, members in NOTIFICATION_GROUPS.items() if self.operation in members), None)

    def business_id(self, body: Any) -> str | None:
        if not isinstance(body, Mapping):
            return None
        for name in self.business_id_fields:
            value = body.get(name)
            if value not in (None, ""):
                return str(value)
        return None


_KINDS: dict[str, NotificationKind] = {}


def _declare(operation: str, business_id: tuple[str, ...], **parts: Any) -> None:
    known = _KINDS.get(operation) or NotificationKind(operation)
    for part, value in parts.items():
        if value is not None and getattr(known, part) not in (None, "", value):
            raise ValueError(f"{operation}: a second {part} declared")
    if business_id and known.business_id_fields not in ((), business_id):
        raise ValueError(f"{operation}: business id fields declared twice, differently")
    _KINDS[operation] = replace(
        known,
        business_id_fields=business_id or known.business_id_fields,
        **{k: v for k, v in parts.items() if v is not None},
    )


def renders(operation: str, *, business_id: tuple[str, ...] = (), title: str = "") -> Callable[[R], R]:
    """Declare ``operation`` (or add to its kind) with this renderer: ``renderer(kind, typed, users, t)``."""

    def register(renderer: R) -> R:
        _declare(operation, business_id, render=renderer, title=title or None)
        return renderer

    return register


def relays(*operations: str, business_id: tuple[str, ...] = ()) -> Callable[[H], H]:
    """Declare these operations (or add to their kinds) with the relay handler that applies their
    side effects and posts them (instead of the plain route-and-post)."""

    def register(handler: H) -> H:
        for operation in operations:
            _declare(operation, business_id, relay=handler)
        return handler

    return register


def kind_of(operation: str | None) -> NotificationKind | None:
    return _KINDS.get(operation or "")


def all_kinds() -> list[NotificationKind]:
    return list(_KINDS.values())


def business_id(operation: str | None, body: Any) -> str | None:
    """The id of the business object a notification is about, if its kind says where it is."""
    found = kind_of(operation)
    return None if found is None else found.business_id(body)


def looks_like_another(operation: str | None, body: Any) -> str | None:
    """When a notification's type is not signed (v1 as Whalet documents it), whether its body is
    plainly another kind: it names the object of other kinds (their first business id field) and
    not of its own. Returns one such kind. A body that names no object at all (a review result
    is just a user and a status) proves nothing either way."""
    if not isinstance(body, Mapping):
        return None
    candidates = [k.operation for k in _KINDS.values() if k.business_id_fields and body.get(k.business_id_fields[0])]
    if not candidates or operation in candidates:
        return None
    return candidates[0]
