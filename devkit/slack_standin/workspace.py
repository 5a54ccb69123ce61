"""What the stand-in's Web API methods and request builders need from the fake workspace.

``FakeSlack`` (server.py) is the one implementation; the API handlers, the signed-request
builders and the Socket Mode sender are written against this protocol, so none of them has to
import the server that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from devkit.slack_standin.rules import Channel
from devkit.slack_standin.records import Files
from devkit.slack_standin.socket_mode import SocketMode
from devkit.slack_standin.store import Store

T = TypeVar("T")


class Workspace(Protocol):
    bot_token: str
    team_id: str
    socket: SocketMode
    store: Store
    usergroups: dict[str, list[str]]
    users: dict[str, dict[str, Any]]
    channel_names: dict[str, str]
    ims: dict[str, str]
    denied_channels: dict[str, str]
    scopes: set[str]
    files: Files

    def channel(self, channel_id: str) -> Channel: ...

    @property
    def api_url(self) -> str: ...

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str: ...

    def new_trigger_id(self, user_id: str | None = None) -> str: ...

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T: ...
