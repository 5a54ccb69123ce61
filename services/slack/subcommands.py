"""The table of `/whalet` sub-commands: one decorator per handler, one dispatcher for all.

Each sub-command module declares itself with ``@subcommand(...)``; ``commands/__init__.py``
imports every module so the table is complete before Bolt sees the first request. Keeping the
usage text next to the handler means `help`, the "bad arguments" message and the handler can
never disagree about the syntax.

Handlers are two-phase because of Slack's 3-second rule and because bad input must never
reach Whalet: ``parse(args)`` is pure and synchronous and runs BEFORE the ack (a ``UsageError``
becomes the ack's ephemeral text, with the usage line); the async handler runs after the ack
and may call Whalet, answering through ``ctx.respond`` or the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.i18n import Later, Translator, later, translator
from core.storage import replays
from services.approvals.roles import Role, named, role_name, roles_name

if TYPE_CHECKING:
    from slack_bolt.context.respond.async_respond import AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from services.container import Services

__all__ = [
    "CommandContext",
    "Role",
    "SubCommand",
    "UsageError",
    "all_subcommands",
    "find",
    "subcommand",
]


class UsageError(ValueError):
    """Input that is wrong before anything is sent; the message says what, in plain words.

    Raised where the reader is not known (a parser runs before the ack), so the sentence is a
    catalog message kept with its values: ``UsageError("give at most one currency, got
    '%(words)s'", words=…)``, or a ``Later`` made elsewhere. ``str(exc)`` is the English;
    ``exc.text(translator)`` the reader's language."""

    def __init__(self, message: str | Later, **values: object) -> None:
        self.later = message if isinstance(message, Later) else later(message, **values)
        super().__init__(str(self.later))

    def text(self, t: Translator) -> str:
        return t.text(self.later)


@dataclass
class CommandContext:
    """What a sub-command handler gets: who typed what, where, and how to answer."""

    services: Services
    user_id: str
    channel_id: str
    args: list[str]
    trigger_id: str | None
    respond: AsyncRespond
    client: AsyncWebClient
    role: Role
    team_id: str | None = None
    response_url: str | None = None
    subcommand: str = ""
    _locale: str | None = field(default=None, repr=False)

    async def language(self) -> str:
        """The person's Slack language (``en`` or ``zh-Hans``), asked only by the replies that
        are translated, and once per command."""
        if self._locale is None:
            self._locale = await self.services.locales.locale_of(self.user_id)
        return self._locale

    async def translator(self) -> Translator:
        """The person's language and Slack time zone, for a reply that shows times or amounts."""
        person = await self.services.locales.person(self.user_id)
        self._locale = person.locale
        return translator(person.locale, person.tz)

    def made_request(self, request_id: str) -> None:
        """Remember which request this invocation made, for a replayed copy's answer."""
        if self.trigger_id:
            with self.services.store.transaction() as db:
                replays.link(db, self.trigger_id, request_id)

    async def allowed(self, needed: Role, what: str) -> bool:
        """True if this person's role reaches ``needed``; otherwise says so and returns False.
        For the parts of a command that a policy setting guards (``--share``, ``--csv``)."""
        if self.role >= needed:
            return True
        locale = await self.language()
        await self.reply(
            translator(locale).gettext(
                "%(what)s is for %(roles)s and above; your role is %(role)s.",
                what=what,
                roles=roles_name(needed, locale),
                role=role_name(self.role, locale),
            )
        )
        return False

    async def may_share(self, what: str) -> bool:
        """Posting money into a channel: ``[roles] share_min_role``."""
        return await self.allowed(named(self.services.config.roles.share_min_role), what)

    async def may_export(self, what: str) -> bool:
        """Exporting records to a file: ``[roles] export_min_role``."""
        return await self.allowed(named(self.services.config.roles.export_min_role), what)

    async def reply(self, text: str, blocks: list[dict[str, Any]] | None = None, *, share: bool = False) -> None:
        """Answer the person who typed the command: ephemeral unless ``share``."""
        await self.respond(
            text=text, blocks=blocks, response_type="in_channel" if share else "ephemeral", replace_original=False
        )


Handler = Callable[[CommandContext, Any], Awaitable[None]]
Parser = Callable[[list[str]], Any]


def _no_arguments(args: list[str]) -> None:
    if args:
        raise UsageError("this command takes no arguments, but got '%(words)s'", words=" ".join(args))
    return None


@dataclass(frozen=True)
class SubCommand:
    name: str
    usage: str
    summary: str
    role: Role
    handler: Handler
    parse: Parser = field(default=_no_arguments)
    aliases: tuple[str, ...] = ()
    fresh_role: bool = False
    creates_request: bool = False  # a replayed copy (same trigger_id) is answered, not run again

    @property
    def reads_role_fresh(self) -> bool:
        """Admin commands (freeze, a digest schedule...) decide on the role as it is NOW, user
        groups read again, as approvals do: someone just removed from the admins' group must not
        keep their powers for the cache's five minutes."""
        return self.fresh_role or self.role >= Role.ADMIN


_TABLE: dict[str, SubCommand] = {}


def subcommand(
    name: str,
    *,
    usage: str,
    summary: str,
    role: Role = Role.VIEWER,
    parse: Parser | None = None,
    aliases: tuple[str, ...] = (),
    fresh_role: bool = False,
    creates_request: bool = False,
) -> Callable[[Handler], Handler]:
    """Register ``async def handler(ctx: CommandContext, parsed) -> None`` as `/whalet NAME`.

    ``usage`` is the syntax after `/whalet` (e.g. ``"rate FROM TO [--source S]"``); ``parse``
    turns the argument tokens into whatever the handler wants and raises UsageError on bad
    input (default: no arguments allowed, ``parsed`` is None). ``role`` is the lowest role
    allowed to run it; ``fresh_role`` reads the role afresh for a command below admin that has
    admin actions (every admin command does anyway). ``creates_request``: the command makes an
    approval request, so a copy with the same ``trigger_id`` is answered with that request and
    does nothing (``CommandContext.made_request`` links them).
    """

    def register(handler: Handler) -> Handler:
        entry = SubCommand(
            name, usage, summary, role, handler, parse or _no_arguments, aliases, fresh_role, creates_request
        )
        for key in (name, *aliases):
            if key in _TABLE and _TABLE[key].handler is not handler:
                raise ValueError(f"/whalet {key} is registered twice")
            _TABLE[key] = entry
        return handler

    return register


def find(name: str) -> SubCommand | None:
    return _TABLE.get(name.lower())


def all_subcommands() -> list[SubCommand]:
    """Each sub-command once, in registration order."""
    seen: dict[str, SubCommand] = {}
    for entry in _TABLE.values():
        seen.setdefault(entry.name, entry)
    return list(seen.values())
