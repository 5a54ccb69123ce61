"""Slack's requests delivered over the stand-in's Socket Mode WebSocket instead of signed HTTP.

``SocketRequests`` reuses ``SlackRequests``' payload builders (commands, clicks, modal
submissions): Slack sends the same payload either way, only the transport differs, so there is
one definition of what a click looks like.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import httpx

from devkit.slack_standin.signing import SlackRequests
from devkit.slack_standin.workspace import Workspace


class SocketRequests(SlackRequests):
    """``SlackRequests`` whose requests travel as Socket Mode envelopes instead of signed HTTP.

    Each call waits for the client's ack and returns it as an HTTP-like response (status 200,
    the ack's payload as JSON body, empty for a bare ack), so helpers written against the HTTP
    path read the answer the same way. ``last_envelope_id`` names the envelope just sent.
    """

    def __init__(self, fake: Workspace, ack_timeout: float = 10.0) -> None:
        super().__init__(
            "unused: Socket Mode is not signed",
            "http://127.0.0.1:9",
            fake.new_response_url,
            trigger_id_factory=fake.new_trigger_id,
            team_id=fake.team_id,
            api_app_id=fake.socket.app_id,
        )
        super().close()  # the HTTP client the base class opened is never used here
        self.fake = fake
        self.ack_timeout = ack_timeout
        self.last_envelope_id: str | None = None

    def post(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        tamper: bool = False,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        if tamper or signature is not None or timestamp is not None or headers:
            raise TypeError("Socket Mode requests are not signed: nothing to tamper with")
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        if "payload" in form:  # interactions: the JSON object, as the envelope carries it
            kind, payload = "interactive", json.loads(form["payload"])
        else:  # slash commands: the form fields, as a JSON object of strings
            kind, payload = "slash_commands", form
        envelope_id = self.fake.socket.send(kind, payload)
        self.last_envelope_id = envelope_id
        ack = self.fake.wait_for(lambda: self.fake.socket.ack_for(envelope_id), timeout=self.ack_timeout)
        assert ack is not None  # wait_for returns only a truthy value
        content = json.dumps(ack.payload).encode() if ack.payload else b""
        return httpx.Response(
            200,
            content=content,
            headers={"X-Envelope-Id": envelope_id},
            request=httpx.Request("POST", f"ws://socket-mode/{envelope_id}"),
        )
