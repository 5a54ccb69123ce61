"""``FakeSlack``: a local stand-in for the Slack Web API and for ``response_url``.

Tests, benchmarks and ``whalet-bot demo`` point the REAL slack_sdk clients (``base_url`` =
``fake.api_url``) and the real Bolt app at it, so everything between our code and the wire is
the production path. It answers like Slack (same methods, error codes, 429 + ``Retry-After``),
remembers what was posted, and can be told to misbehave (``script``, ``enforce_rate``,
``deny_channel``). It is as strict as Slack (rules.py): payloads parsed with slack_sdk's models
and held to Slack's limits, scopes from ``app_manifest.yml``, channel membership (``add_channel``,
``remove_bot``; a channel never declared is one the bot was invited to). File uploads follow
Slack's three steps (files.py; ``uploaded_files()`` shows what was shared). Observation methods
are thread-safe: the server runs in its own thread.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from devkit.serving import ThreadedServer
from devkit.slack_standin import api, rules, user_files
from devkit.slack_standin.files import receive_upload
from devkit.slack_standin.faults import RateLimiter, Scripted, Scripts, abort_connection
from devkit.slack_standin.observe import Observation
from devkit.slack_standin.records import Call, Event, Files, UploadedFile
from devkit.slack_standin.socket_mode import PATH as SOCKET_PATH
from devkit.slack_standin.socket_mode import SocketAck, SocketMode
from devkit.slack_standin.store import Store

_JSON_FIELDS = ("blocks", "attachments", "metadata", "view")  # sent as JSON strings in forms
_RAW_RECEIVE = "slack_standin.raw_receive"


class FakeSlack(Observation):
    """``with FakeSlack().serve() as fake: AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)``."""

    def __init__(
        self, bot_token: str = "xoxb-standin", team_id: str = "TDEMO", app_token: str = "xapp-1-standin"
    ) -> None:
        self.bot_token = bot_token
        self.socket = SocketMode(app_token)  # Socket Mode: apps.connections.open + WebSocket
        self.team_id = team_id
        self.usergroups: dict[str, list[str]] = {}  # "S0APPROVERS" -> ["U0APP3"]
        self.users: dict[str, dict[str, Any]] = {}  # extra users.info fields per user id
        self.channel_names: dict[str, str] = {}  # "C0DEMO" -> "finance"
        self.ims: dict[str, str] = {}  # user -> the bot's DM with them (conversations.open)
        self.denied_channels: dict[str, str] = {}  # channel -> error for posts there
        self.scopes: set[str] = set(rules.manifest_scopes())  # granted: what app_manifest.yml asks
        self.channels: dict[str, rules.Channel] = {}  # membership; unknown channels: bot invited
        self.store = Store()
        self.files = Files()  # files.getUploadURLExternal / upload / files.completeUploadExternal
        self._scripts = Scripts()
        self._limiter: RateLimiter | None = None
        self._server: ThreadedServer | None = None
        self.url: str | None = None
        self._starlette = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response/{response_id}", self._response_url, methods=["POST"]),
                Route("/upload/v1/{token}", self._upload, methods=["POST"]),
                Route("/files-pri/{team_file}/download/{name}", self._download, methods=["GET"]),
                WebSocketRoute(SOCKET_PATH, self.socket.endpoint),
            ]
        )

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            # Keeps uvicorn's own ``receive`` so a scripted reset can hang up. A plain function,
            # not a bound method, because uvicorn would take a method for an ASGI2 app.
            if scope["type"] == "http":
                scope[_RAW_RECEIVE] = receive
                if self.url is None and scope.get("server"):
                    host, port = scope["server"]
                    self.bind(f"http://{host}:{port}")
            await self._starlette(scope, receive, send)

        self.app = app  # the ASGI app

    # -- serving -----------------------------------------------------------------------------

    def serve(self) -> FakeSlack:
        """Start on a loopback port in a background thread; also usable as a context manager."""
        self._server = ThreadedServer(self.app).start()
        return self.bind(self._server.url)

    def bind(self, url: str) -> FakeSlack:
        """Tell the fake its own address when you serve ``.app`` yourself (for response URLs)."""
        self.url = url.rstrip("/")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self if self._server is not None else self.serve()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The slack_sdk ``base_url``: ``<url>/api/``."""
        return f"{self._require_url()}/api/"

    def _require_url(self) -> str:
        if self.url is None:
            self._discover_url()
        if self.url is None:
            raise RuntimeError("FakeSlack has no address yet: call serve() or bind(url) first")
        return self.url

    def _discover_url(self) -> None:
        """Find the uvicorn server running ``self.app`` when someone else started it.

        ``ThreadedServer(fake.app)`` never tells the app its port, and a response URL may be
        needed before the fake has seen a single request; the started server object knows.
        """
        for obj in gc.get_objects():
            if isinstance(obj, uvicorn.Server) and obj.config.app is self.app and obj.started:
                sockets = [s for server in obj.servers for s in server.sockets]
                if sockets:
                    host, port = sockets[0].getsockname()[:2]
                    self.bind(f"http://{host}:{port}")
                    return

    # -- configuration -----------------------------------------------------------------------
    def deny_channel(self, channel: str, error: str = "not_in_channel") -> None:
        """Posts to ``channel`` fail with ``error`` (e.g. ``not_in_channel``, ``channel_not_found``)."""
        self.denied_channels[channel] = error

    def allow_channel(self, channel: str) -> None:
        self.denied_channels.pop(channel, None)

    def channel(self, channel_id: str) -> rules.Channel:
        """The bot's view of a conversation; one never declared is one the bot was invited to."""
        return self.channels.get(channel_id) or rules.Channel(private=channel_id.startswith("G"))

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        private: bool | None = None,
        member: bool = True,
        archived: bool = False,
    ) -> None:
        """Declare a conversation: public or private, whether the bot is in it, archived."""
        self.channels[channel_id] = rules.Channel(
            private=channel_id.startswith("G") if private is None else private, member=member, archived=archived
        )
        if name:
            self.channel_names[channel_id] = name

    def dm_channel(self, user_id: str) -> str | None:
        """The bot's DM with ``user_id``, once the app opened it (``conversations.open``)."""
        with self.store.lock:
            return self.ims.get(user_id)

    def remove_bot(self, channel_id: str) -> None:
        """The bot is not (or no longer) a member: Slack's membership rules apply."""
        current = self.channel(channel_id)
        self.channels[channel_id] = rules.Channel(current.private, False, current.archived)

    def invite_bot(self, channel_id: str) -> None:
        current = self.channel(channel_id)
        self.channels[channel_id] = rules.Channel(current.private, True, current.archived)

    def script(self, method: str, answers: list[Scripted]) -> None:
        """Queue faults for ``method``, one per call: ``("ratelimited", s)``, ``("status", 503)``,
        ``("reset",)``, ``("sleep", s)`` (then answer normally), ``("error", "code")``."""
        self._scripts.add(method, answers)

    def clear_scripts(self) -> None:
        """Drop the faults still queued (an outage ends); recorded traffic is kept."""
        self._scripts.clear()

    def scripted_pending(self, method: str | None = None) -> int:
        return self._scripts.pending(method)

    def enforce_rate(self, per_second: float | None = 1.0, burst: int = 3) -> None:
        """Token bucket per channel on chat.postMessage (429 + Retry-After); None turns it off."""
        self._limiter = None if per_second is None else RateLimiter(per_second, burst)

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """A fresh ``response_url``; bound to a message (``message_ts``) for replace/delete_original."""
        response_id = self.store.new_response_id(channel_id, user_id, message_ts, is_ephemeral)
        return f"{self._require_url()}/response/{response_id}"

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A ``trigger_id`` that, like Slack's, is single-use and expires after ~3 s."""
        return self.store.new_trigger(user_id)

    def socket_send(self, payload_type: str, payload: dict[str, Any], **options: Any) -> str:
        """Push a Socket Mode envelope (``slash_commands``/``interactive``); returns its id."""
        return self.socket.send(payload_type, payload, **options)

    def socket_acks(self) -> list[SocketAck]:
        """The connected client's acknowledgements, oldest first."""
        return self.socket.acks()

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """``callback(Event)`` from the server thread for message, update, delete, ephemeral,
        view, and response (the raw response_url post; its effect comes as its own event)."""
        self.store.subscribe(callback)

    def reset(self) -> None:
        """Forget recorded traffic and pending scripts; keeps users, groups, denials, rate rule."""
        self.store.clear()
        self.socket.clear()
        self._scripts.clear()
        if self._limiter is not None:
            self._limiter = RateLimiter(self._limiter.per_second, self._limiter.burst)

    # -- HTTP handlers -----------------------------------------------------------------------
    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _read_params(request)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.pop("token", None)
        params.pop("token", None)
        peer = request.scope.get("client")
        call = Call(method, params, token, time.time(), connection=f"{peer[0]}:{peer[1]}" if peer else None)
        with self.store.lock:
            self.store.calls.append(call)
        response = await self._answer(request, method, params, token, call)
        call.status = response.status_code
        return response

    async def _answer(
        self, request: Request, method: str, params: dict[str, Any], token: str | None, call: Call
    ) -> Response:
        scripted = self._scripts.pop(method)
        if scripted is not None:
            kind = scripted[0]
            if kind == "ratelimited":
                return self._ratelimited(call, int(scripted[1]))
            if kind == "status":
                call.error = f"http_{scripted[1]}"
                return JSONResponse({"ok": False, "error": call.error}, status_code=int(scripted[1]))
            if kind == "error":
                call.error = str(scripted[1])
                return JSONResponse({"ok": False, "error": call.error})
            if kind == "reset":
                call.error = "connection_reset"
                raw_receive = request.scope.get(_RAW_RECEIVE)
                if abort_connection(raw_receive):
                    return _NoAnswer(raw_receive)
                raise ConnectionResetError("scripted reset (server could not drop the connection)")
            if kind == "sleep":
                await asyncio.sleep(float(scripted[1]))
        expected = self.socket.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            call.error = "not_authed"
        elif token != expected:  # Slack: a known token of the wrong kind is not invalid_auth
            known = token in (self.bot_token, self.socket.app_token)
            call.error = "not_allowed_token_type" if known else "invalid_auth"
        if call.error:
            return JSONResponse({"ok": False, "error": call.error})
        needed = rules.needed_scope(method, str(params.get("channel") or params.get("user") or ""))
        if needed is not None and needed not in self.scopes:
            call.error = "missing_scope"
            return JSONResponse(
                {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(sorted(self.scopes))}
            )
        if method == "chat.postMessage" and self._limiter is not None:
            wait = self._limiter.acquire(str(params.get("channel")), time.monotonic())
            if wait:
                return self._ratelimited(call, wait)
        handler = api.HANDLERS.get(method)
        answer = handler(self, params) if handler else {"ok": True}
        call.error = None if answer.get("ok") else str(answer.get("error"))
        return JSONResponse(answer)

    @staticmethod
    def _ratelimited(call: Call, retry_after: int) -> Response:
        call.error = "ratelimited"
        return JSONResponse(
            {"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": str(retry_after)}
        )

    def uploaded_files(self, channel: str | None = None) -> list[UploadedFile]:
        """Files uploaded and shared (``files_upload_v2``), oldest first; ``channel``: shared there."""
        with self.files.lock:
            return [
                copy.deepcopy(f)
                for f in self.files.by_id.values()
                if f.channel is not None and channel in (None, f.channel)
            ]

    def add_user_file(self, user_id: str, name: str, data: bytes, mimetype: str | None = None) -> dict[str, Any]:
        """A file ``user_id`` picked in a modal's file input: its Slack file object, to put in a
        ``view_submission`` (``SlackRequests.view_submission(values={block: [file]})``)."""
        return user_files.add_user_file(self, user_id, name, data, mimetype)

    async def _download(self, request: Request) -> Response:
        status, content_type, body = user_files.download(
            self, request.path_params["team_file"], request.headers.get("authorization", "")
        )
        return Response(body, status_code=status, media_type=content_type)

    async def _upload(self, request: Request) -> Response:
        """Step 2 of an upload: the raw bytes to the URL files.getUploadURLExternal issued."""
        scripted = self._scripts.pop("upload")
        if scripted is not None and scripted[0] == "status":
            return PlainTextResponse("upload failed", status_code=int(scripted[1]))
        status, text = receive_upload(self, request.path_params["token"], await request.body())
        return PlainTextResponse(text, status_code=status)

    async def _response_url(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(body, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        if rules.blocks_error(body.get("blocks")):  # Slack refuses a bad response_url post too
            return PlainTextResponse("invalid_blocks", status_code=400)
        status, text = self.store.apply_response(request.path_params["response_id"], body)
        return PlainTextResponse(text, status_code=status)


class _NoAnswer(Response):
    """After a scripted reset the connection is gone: send nothing at all."""

    def __init__(self, raw_receive: Any) -> None:
        super().__init__(status_code=599)
        self._raw_receive = raw_receive

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Wait until the server has noticed the hang-up, so it does not log a missing answer.
        try:
            await asyncio.wait_for(self._raw_receive(), timeout=1.0)
        except Exception:
            pass


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string + form or JSON body, with JSON-in-a-form-field values decoded."""
    params: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if raw and "application/json" in content_type:
        body = json.loads(raw)
        if isinstance(body, dict):
            params.update(body)
    elif raw and "multipart/" not in content_type:
        params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass  # leave it as sent; the handler treats it as opaque
    return params
