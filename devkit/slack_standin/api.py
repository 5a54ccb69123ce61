"""The Web API methods the stand-in implements, one small function each.

Each takes the fake and the decoded parameters and returns Slack's JSON answer. Errors use
Slack's own error codes (``channel_not_found``, ``message_not_found``, ...) so our error
translation is exercised against the real vocabulary, not an invented one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from devkit.slack_standin import files, rules, user_files
from devkit.slack_standin.records import Ephemeral, Message, View
from devkit.slack_standin.workspace import Workspace

Answer = dict[str, Any]
Handler = Callable[[Workspace, dict[str, Any]], Answer]
BOT_USER, BOT_ID = "UBOT", "BBOT"


def _fail(error: str, why: str | None = None) -> Answer:
    answer: Answer = {"ok": False, "error": error}
    if why:  # Slack explains payload errors in response_metadata.messages
        answer["response_metadata"] = {"messages": [f"[ERROR] {why}"]}
    return answer


def _payload_error(p: dict[str, Any]) -> Answer | None:
    """invalid_blocks / msg_too_long for a message payload Slack would refuse."""
    if why := rules.blocks_error(p.get("blocks")):
        return _fail("invalid_blocks", why)
    if (size := rules.blocks_text(p.get("blocks"))) > rules.MAX_BLOCKS_TEXT:
        return _fail(
            "msg_blocks_too_long",
            f"the blocks hold {size} characters of text; Slack takes about {rules.MAX_BLOCKS_TEXT}",
        )
    if len(str(p.get("text") or "")) > rules.MAX_MESSAGE_TEXT:
        return _fail("msg_too_long")
    return None


def auth_test(fake: Workspace, p: dict[str, Any]) -> Answer:
    return {
        "ok": True,
        "url": f"https://{fake.team_id.lower()}.slack.com/",
        "team": "Demo Team",
        "user": "whalet",
        "team_id": fake.team_id,
        "user_id": BOT_USER,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def apps_connections_open(fake: Workspace, p: dict[str, Any]) -> Answer:
    """Socket Mode: the app-level token (checked by the server) gets a WebSocket URL."""
    return {"ok": True, "url": fake.socket.issue_url(fake.api_url.removesuffix("/api/"))}


def _channel_error(fake: Workspace, p: dict[str, Any], method: str) -> str | None:
    """A forced denial first, then Slack's membership rules (rules.access_error)."""
    channel = p.get("channel")
    if not channel:
        return "channel_not_found"
    if denied := fake.denied_channels.get(str(channel)):
        return denied
    return rules.access_error(method, fake.channel(str(channel)), frozenset(fake.scopes), rules.kind_of(str(channel)))


def chat_post_message(fake: Workspace, p: dict[str, Any]) -> Answer:
    if error := _channel_error(fake, p, "chat.postMessage"):
        return _fail(error)
    if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
        return _fail("no_text")
    if refused := _payload_error(p):
        return refused
    thread_ts = p.get("thread_ts") or None
    message = fake.store.add_message(
        Message(
            str(p["channel"]),
            fake.store.next_ts(),
            str(p.get("text") or ""),
            p.get("blocks") or [],
            thread_ts=thread_ts,
            metadata=p.get("metadata"),
            attachments=p.get("attachments") or [],
            reply_broadcast=bool(p.get("reply_broadcast")),
        )
    )
    return {"ok": True, "channel": message.channel, "ts": message.ts, "message": _public(message)}


def chat_update(fake: Workspace, p: dict[str, Any]) -> Answer:
    if not p.get("channel") or not p.get("ts"):
        return _fail("invalid_arguments")
    if refused := _payload_error(p):
        return refused
    changes: dict[str, Any] = {}
    for key in ("text", "blocks", "attachments", "metadata"):
        if key in p:
            changes[key] = p[key] if p[key] is not None else ([] if key != "text" else "")
    if "blocks" in changes and "text" not in changes:
        changes["text"] = ""  # new blocks fully replace the old message, fallback included
    message = fake.store.update_message(str(p["channel"]), str(p["ts"]), changes)
    if message is None:
        return _fail("message_not_found")
    return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text, "message": _public(message)}


def chat_delete(fake: Workspace, p: dict[str, Any]) -> Answer:
    message = fake.store.update_message(str(p.get("channel")), str(p.get("ts")), {"deleted": True}, kind="delete")
    if message is None:
        return _fail("message_not_found")
    return {"ok": True, "channel": message.channel, "ts": message.ts}


def chat_post_ephemeral(fake: Workspace, p: dict[str, Any]) -> Answer:
    if error := _channel_error(fake, p, "chat.postEphemeral"):
        return _fail(error)
    if not p.get("user"):
        return _fail("user_not_in_channel")
    if refused := _payload_error(p):
        return refused
    ephemeral = fake.store.add_ephemeral(
        Ephemeral(
            str(p["channel"]),
            str(p["user"]),
            fake.store.next_ts(),
            str(p.get("text") or ""),
            p.get("blocks") or [],
            p.get("thread_ts") or None,
        )
    )
    return {"ok": True, "message_ts": ephemeral.message_ts}


def chat_get_permalink(fake: Workspace, p: dict[str, Any]) -> Answer:
    channel, ts = str(p.get("channel") or ""), str(p.get("message_ts") or "")
    if fake.store.messages.get((channel, ts)) is None:
        return _fail("message_not_found")
    return {
        "ok": True,
        "channel": channel,
        "permalink": f"https://{fake.team_id.lower()}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }


def _open_view(fake: Workspace, p: dict[str, Any], action: str) -> Answer:
    if not p.get("trigger_id") or not isinstance(p.get("view"), dict):
        return _fail("invalid_arguments")
    if why := rules.view_error(p["view"]):  # Slack answers a bad view with invalid_arguments
        return _fail("invalid_arguments", why)
    user, error = fake.store.exchange_trigger(str(p["trigger_id"]))
    if error:
        return _fail(error)
    view = View(
        fake.store.next_id("V"), copy.deepcopy(p["view"]), action, str(p["trigger_id"]), user, hash=fake.store.next_ts()
    )
    fake.store.save_view(view)
    return {"ok": True, "view": view.to_dict()}


def views_open(fake: Workspace, p: dict[str, Any]) -> Answer:
    return _open_view(fake, p, "views.open")


def views_push(fake: Workspace, p: dict[str, Any]) -> Answer:
    return _open_view(fake, p, "views.push")


def views_update(fake: Workspace, p: dict[str, Any]) -> Answer:
    if not isinstance(p.get("view"), dict):
        return _fail("invalid_arguments")
    if why := rules.view_error(p["view"]):
        return _fail("invalid_arguments", why)
    with fake.store.lock:
        found = [
            v
            for v in fake.store.views.values()
            if v.id == p.get("view_id") or (p.get("external_id") and v.view.get("external_id") == p["external_id"])
        ]
        if not found:
            return _fail("not_found")
        view = found[0]
        if p.get("hash") and p["hash"] != view.hash:
            return _fail("hash_conflict")
        view.view, view.action = copy.deepcopy(p["view"]), "views.update"
        view.hash, view.updated_count = fake.store.next_ts(), view.updated_count + 1
    fake.store.save_view(view)
    return {"ok": True, "view": view.to_dict()}


def views_publish(fake: Workspace, p: dict[str, Any]) -> Answer:
    """A user's App Home tab: one view per user, replaced by each publish."""
    user = str(p.get("user_id") or "")
    if not user or not isinstance(p.get("view"), dict):
        return _fail("invalid_arguments")
    if p["view"].get("type") != "home":
        return _fail("invalid_arguments", "views.publish takes a view of type home")
    if why := rules.view_error(p["view"]):
        return _fail("invalid_arguments", why)
    with fake.store.lock:
        found = [v for v in fake.store.views.values() if v.action == "views.publish" and v.user == user]
    view = found[0] if found else View(fake.store.next_id("V"), {}, "views.publish", None, user)
    if found and p.get("hash") and p["hash"] != view.hash:
        return _fail("hash_conflict")
    view.view, view.hash = copy.deepcopy(p["view"]), fake.store.next_ts()
    view.updated_count += 1 if found else 0
    fake.store.save_view(view)
    return {"ok": True, "view": view.to_dict()}


def usergroups_users_list(fake: Workspace, p: dict[str, Any]) -> Answer:
    group = str(p.get("usergroup") or "")
    if group not in fake.usergroups:
        return _fail("no_such_subteam")
    return {"ok": True, "users": list(fake.usergroups[group])}


def users_info(fake: Workspace, p: dict[str, Any]) -> Answer:
    user_id = str(p.get("user") or "")
    if user_id[:1] not in ("U", "W"):
        return _fail("user_not_found")
    user = {
        "id": user_id,
        "team_id": fake.team_id,
        "name": user_id.lower(),
        "real_name": user_id,
        "tz": "UTC",
        "is_bot": user_id == BOT_USER,
        "profile": {"display_name": user_id, "real_name": user_id},
    }
    user.update(copy.deepcopy(fake.users.get(user_id, {})))  # a test's locale and tz for this person
    if str(p.get("include_locale") or "").lower() in ("1", "true"):
        user.setdefault("locale", "en-US")  # Slack says the language only when asked
    else:
        user.pop("locale", None)
    return {"ok": True, "user": user}


def conversations_info(fake: Workspace, p: dict[str, Any]) -> Answer:
    channel = str(p.get("channel") or "")
    state = fake.channel(channel)
    if not channel or fake.denied_channels.get(channel) == "channel_not_found" or (state.private and not state.member):
        return _fail("channel_not_found")
    return {
        "ok": True,
        "channel": {
            "id": channel,
            "name": fake.channel_names.get(channel, channel.lower()),
            "is_channel": not state.private and channel.startswith("C"),
            "is_private": state.private,
            "is_im": channel.startswith("D"),
            "is_archived": state.archived,
            "is_member": state.member and channel not in fake.denied_channels,
        },
    }


def conversations_open(fake: Workspace, p: dict[str, Any]) -> Answer:
    """The bot's DM with one person (``users``): the same conversation id every time, like Slack."""
    users = [u for u in str(p.get("users") or "").split(",") if u]
    if p.get("channel") and not users:
        return {"ok": True, "channel": {"id": str(p["channel"])}}
    if not users:
        return _fail("users_list_not_supplied")
    if len(users) > 1:  # a group DM: the app never opens one
        return _fail("invalid_arguments", "the stand-in opens DMs with one person only")
    user = users[0]
    if user[:1] not in ("U", "W") or user == BOT_USER:
        return _fail("user_not_found" if user != BOT_USER else "cannot_dm_bot")
    with fake.store.lock:
        known = fake.ims.get(user)
        channel = known or fake.ims.setdefault(user, fake.store.next_id("D"))
    full = {
        "id": channel,
        "created": 1700000000,
        "is_im": True,
        "is_org_shared": False,
        "user": user,
        "is_user_deleted": False,
        "priority": 0,
    }
    answer: Answer = {
        "ok": True,
        "channel": full if str(p.get("return_im", "")).lower() in ("1", "true") else {"id": channel},
    }
    if known:
        answer.update(no_op=True, already_open=True)
    return answer


def _history(fake: Workspace, p: dict[str, Any], keep: Callable[[Message], bool]) -> Answer:
    oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or "inf")
    inclusive = str(p.get("inclusive", "")).lower() in ("1", "true")
    with fake.store.lock:
        picked = [
            m
            for m in fake.store.messages.values()
            if keep(m)
            and not m.deleted
            and (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)
        ]
        replies: dict[str | None, int] = {}
        for m in fake.store.messages.values():
            if m.is_reply and not m.deleted:
                replies[m.thread_ts] = replies.get(m.thread_ts, 0) + 1
        out = [_public(m, replies.get(m.ts, 0)) for m in picked]
    return {"ok": True, "messages": out, "has_more": False}


def conversations_history(fake: Workspace, p: dict[str, Any]) -> Answer:
    channel = str(p.get("channel") or "")
    if error := _channel_error(fake, p, "conversations.history"):
        return _fail(error)
    answer = _history(fake, p, lambda m: m.channel == channel and (not m.is_reply or m.reply_broadcast))
    answer["messages"] = answer["messages"][::-1][: int(p.get("limit") or 100)]  # newest first
    return answer


def conversations_replies(fake: Workspace, p: dict[str, Any]) -> Answer:
    channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
    if error := _channel_error(fake, p, "conversations.replies"):
        return _fail(error)
    if fake.store.messages.get((channel, ts)) is None:
        return _fail("thread_not_found")
    return _history(fake, p, lambda m: m.channel == channel and (m.ts == ts or m.thread_ts == ts))


def _public(message: Message, reply_count: int = 0) -> dict[str, Any]:
    out = message.to_dict()
    out.pop("channel", None)
    if reply_count:
        out["reply_count"] = reply_count
        out["thread_ts"] = message.ts
    return out


HANDLERS: dict[str, Handler] = {
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "usergroups.users.list": usergroups_users_list,
    "users.info": users_info,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "files.getUploadURLExternal": files.get_upload_url_external,
    "files.completeUploadExternal": files.complete_upload_external,
    "files.info": user_files.files_info,
}
