"""Send our app what Slack sends it: signed slash commands, button clicks, modal submissions.

The bodies are built field for field like Slack's (form-encoded commands, ``payload=<JSON>``
interactions) and signed with slack_sdk's own ``SignatureVerifier``, so the app's real Bolt
request verification and parsing run in tests and in the demo console. Options let a test send a
tampered or stale signature to prove those are refused.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from devkit.slack_standin.blocks import button_label, buttons, find_button
from devkit.slack_standin.workspace import Workspace
from whalet.tls import shared_tls

__all__ = ["SlackRequests", "buttons", "find_button"]

FORM = "application/x-www-form-urlencoded"
ResponseUrlFactory = Callable[..., str]  # (channel_id=, user_id=, message_ts=, is_ephemeral=)


class SlackRequests:
    """``SlackRequests(secret, app_url, fake.new_response_url).command("U0REQ", "balance USD")``."""

    def __init__(
        self,
        signing_secret: Any,
        base_url_of_app: str,
        response_url_factory: ResponseUrlFactory | None = None,
        *,
        trigger_id_factory: Callable[[str], str] | None = None,
        path: str = "/slack/events",
        team_id: str = "TDEMO",
        api_app_id: str = "A0WHALET",
        timeout: float = 10.0,
        send: Callable[[bytes, dict[str, str]], Any] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``send(body, headers)`` replaces the HTTP POST (in-process tests hand the signed request
        to Bolt's ``async_dispatch``); the methods then return whatever ``send`` returns.
        ``transport``: how the POST travels (the in-process stack's reaches the app's ASGI app)."""
        secret = getattr(signing_secret, "get_secret_value", lambda: signing_secret)()
        self._verifier = SignatureVerifier(str(secret))
        self.url = base_url_of_app.rstrip("/") + path
        self.team_id, self.api_app_id = team_id, api_app_id
        self._response_url_factory = response_url_factory or self._unreachable_response_url
        self._trigger_id_factory = trigger_id_factory or (lambda user: secrets.token_hex(10))
        self._ids = itertools.count(1)
        self._client = httpx.Client(timeout=timeout, verify=shared_tls(), transport=transport) if send is None else None
        self._send = send
        self.last_payload: dict[str, Any] = {}  # what was sent last (its response_url, trigger_id)

    @classmethod
    def for_fake(cls, fake: Workspace, signing_secret: Any, base_url_of_app: str, **options: Any) -> SlackRequests:
        """Response URLs and trigger ids handed out by ``fake``, so respond()/views.open land there."""
        return cls(
            signing_secret,
            base_url_of_app,
            fake.new_response_url,
            trigger_id_factory=fake.new_trigger_id,
            team_id=fake.team_id,
            **options,
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> SlackRequests:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- signing and sending -----------------------------------------------------------------
    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Slack's v0 signature headers for ``body`` (``timestamp`` defaults to now)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature), "Content-Type": FORM}

    def post(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        tamper: bool = False,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a raw body; ``tamper`` flips the signature, ``timestamp`` can make it stale."""
        sent = self.sign(body, timestamp)
        if tamper:
            last = sent["X-Slack-Signature"][-1]
            sent["X-Slack-Signature"] = sent["X-Slack-Signature"][:-1] + ("0" if last != "0" else "1")
        if signature is not None:
            sent["X-Slack-Signature"] = signature
        sent.update(headers or {})
        if self._send is not None or self._client is None:
            assert self._send is not None
            return self._send(body, sent)
        return self._client.post(self.url, content=body, headers=sent)

    def _send_payload(self, payload: dict[str, Any], **send: Any) -> httpx.Response:
        self.last_payload = payload
        return self.post(urlencode({"payload": json.dumps(payload)}).encode(), **send)

    # -- what Slack sends --------------------------------------------------------------------
    def command(
        self,
        user_id: str,
        text: str,
        channel_id: str = "C0DEMO",
        command: str = "/whalet",
        *,
        channel_name: str | None = None,
        **send: Any,
    ) -> httpx.Response:
        """A slash command invocation, form-encoded exactly like Slack's."""
        fields = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_id.lower(),
            "channel_id": channel_id,
            "channel_name": channel_name or channel_id.lower(),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url_factory(
                channel_id=channel_id, user_id=user_id, message_ts=None, is_ephemeral=False
            ),
            "trigger_id": self._trigger_id_factory(user_id),
        }
        self.last_payload = fields
        return self.post(urlencode(fields).encode(), **send)

    def block_action(
        self,
        user_id: str,
        message: Any,
        action_id: str | None = None,
        value: str | None = None,
        block_id: str | None = None,
        channel_id: str | None = None,
        *,
        text: str | None = None,
        **send: Any,
    ) -> httpx.Response:
        """A button click on ``message`` (a dict, or a stand-in ``Message``/``Ephemeral``).

        The button is looked up in the message's blocks by ``action_id`` and/or label ``text``;
        its value and block_id are used unless given explicitly (to forge a click).
        """
        msg = message.to_dict() if hasattr(message, "to_dict") else dict(message)
        channel_id = channel_id or msg.get("channel") or "C0DEMO"
        is_ephemeral = bool(msg.get("is_ephemeral"))
        action = _action(msg.get("blocks") or [], action_id, text, value, block_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            **self._who(user_id),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": msg.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": is_ephemeral,
            },
            "trigger_id": self._trigger_id_factory(user_id),
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "state": {"values": {}},
            "response_url": self._response_url_factory(
                channel_id=channel_id, user_id=user_id, message_ts=msg.get("ts"), is_ephemeral=is_ephemeral
            ),
            "actions": [action],
        }
        if not is_ephemeral:  # Slack leaves the message out for ephemeral sources
            payload["message"] = {k: v for k, v in msg.items() if k not in ("channel",)}
        return self._send_payload(payload, **send)

    def view_action(
        self,
        user_id: str,
        view: Any,
        action_id: str | None = None,
        value: str | None = None,
        block_id: str | None = None,
        *,
        text: str | None = None,
        **send: Any,
    ) -> httpx.Response:
        """A button click in a view the app published (the App Home) or opened: Slack sends the
        view and a ``view`` container, and no ``response_url`` and no channel (there is none)."""
        shown = _as_sent(view)
        action = _action(shown.get("blocks") or [], action_id, text, value, block_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            **self._who(user_id),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": shown["id"]},
            "trigger_id": self._trigger_id_factory(user_id),
            "view": shown,
            "actions": [action],
        }
        return self._send_payload(payload, **send)

    def view_submission(self, user_id: str, view: Any, values: dict[str, Any], **send: Any) -> httpx.Response:
        """Submit a modal. ``values``: ``{block_id: {action_id: state}}`` or ``{block_id: "text"}``;
        a plain string is turned into the element's state shape (text, number, select, ...)."""
        shown = _as_sent(view)
        shown.setdefault("type", "modal")
        shown.setdefault("private_metadata", "")
        shown["state"] = {"values": _state_values(shown.get("blocks") or [], values)}
        payload = {
            "type": "view_submission",
            **self._who(user_id),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "trigger_id": self._trigger_id_factory(user_id),
            "view": shown,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._send_payload(payload, **send)

    def block_suggestion(self, user_id: str, view: Any, block_id: str, value: str, **send: Any) -> httpx.Response:
        """What Slack sends while someone types into an external select of an open modal: the
        element's block and action id and the text so far; the answer carries the options."""
        shown = _as_sent(view)
        element = next((b.get("element") or {} for b in shown.get("blocks") or [] if b.get("block_id") == block_id), {})
        payload = {
            "type": "block_suggestion",
            **self._who(user_id),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": shown["id"]},
            "view": shown,
            "block_id": block_id,
            "action_id": element.get("action_id", ""),
            "value": value,
        }
        return self._send_payload(payload, **send)

    def event(self, event: dict[str, Any], **send: Any) -> httpx.Response:
        """An Events API ``event_callback`` (JSON body, signed like every Slack request)."""
        body = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(6).upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": "UBOT", "is_bot": True}],
        }
        self.last_payload = body
        return self.post(json.dumps(body).encode(), headers={"Content-Type": "application/json"}, **send)

    def _who(self, user_id: str) -> dict[str, Any]:
        return {
            "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": self.team_id},
            "team": {"id": self.team_id, "domain": self.team_id.lower()},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _unreachable_response_url(self, **_: Any) -> str:
        # Without a fake, respond() must fail locally rather than reach the real Slack.
        return f"http://127.0.0.1:9/response/{next(self._ids)}"


def _action(
    blocks: list[dict[str, Any]], action_id: str | None, text: str | None, value: str | None, block_id: str | None
) -> dict[str, Any]:
    """The ``actions[0]`` Slack sends for a click on the matching button (value and block_id
    may be forged)."""
    button = find_button(blocks, action_id=action_id, text=text)
    action = {
        "action_id": button.get("action_id"),
        "block_id": block_id if block_id is not None else button.get("block_id", ""),
        "type": "button",
        "value": value if value is not None else button.get("value", ""),
        "text": {"type": "plain_text", "text": button_label(button), "emoji": True},
        "action_ts": f"{time.time():.6f}",
    }
    if button.get("style"):
        action["style"] = button["style"]
    return action


def _as_sent(view: Any) -> dict[str, Any]:
    """A view (a dict, or a stand-in record) as Slack echoes it in a payload: a copy, with an id."""
    shown = view.to_dict() if hasattr(view, "to_dict") else dict(view)
    shown.setdefault("id", "V0STANDIN")
    return shown


_STATE_KEY = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}


def _state_values(blocks: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    elements = {b.get("block_id"): b.get("element") or {} for b in blocks if b.get("type") == "input"}
    out: dict[str, Any] = {}
    for block_id, given in values.items():
        element = elements.get(block_id, {})
        if not isinstance(given, dict):
            given = {element.get("action_id", block_id): given}
        out[block_id] = {
            action_id: state if isinstance(state, dict) else _element_state(element, state)
            for action_id, state in given.items()
        }
    return out


def _element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = element.get("type", "plain_text_input")
    if kind in ("static_select", "external_select", "radio_buttons"):
        return {"type": kind, "selected_option": _option(element, value)}
    if kind in ("checkboxes", "multi_static_select"):
        chosen = value if isinstance(value, list) else [value]
        return {"type": kind, "selected_options": [_option(element, v) for v in chosen]}
    if kind in _STATE_KEY:
        return {"type": kind, _STATE_KEY[kind]: value}
    if kind == "file_input":  # Slack's file objects (FakeSlack.add_user_file), not their bytes
        return {"type": kind, "files": value if isinstance(value, list) else [value]}
    return {"type": kind, "value": value}


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    for option in element.get("options") or []:
        if option.get("value") == value:
            return dict(option)
    return {"text": {"type": "plain_text", "text": str(value)}, "value": value}
