"""A local stand-in for Slack: fake Web API + response_url, signed requests, terminal rendering.

Used by the tests, the benchmarks and ``whalet-bot demo``/``console`` so the real slack_sdk
clients and the real Bolt app run end to end without a workspace.
"""

from devkit.slack_standin.blocks import buttons, find_button
from devkit.slack_standin.records import Call, Ephemeral, Event, Message, ResponsePost, View
from devkit.slack_standin.render import render_ephemeral, render_event, render_message, render_thread, render_view
from devkit.slack_standin.server import FakeSlack
from devkit.slack_standin.signing import SlackRequests

__all__ = [
    "FakeSlack",
    "SlackRequests",
    "Call",
    "Message",
    "Ephemeral",
    "ResponsePost",
    "View",
    "Event",
    "buttons",
    "find_button",
    "render_message",
    "render_thread",
    "render_ephemeral",
    "render_view",
    "render_event",
]
