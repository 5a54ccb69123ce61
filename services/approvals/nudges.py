"""Keeping long-lived requests moving: escalation to the admins, and a daily summary per approver.

Requests now wait for days, so "someone will see the card" is no longer enough. Both nudges are
decided in the sweep, each claimed once in the database (``claims.open_window``) in the
transaction that queues its messages, so replicas sweeping together send each nudge once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.clock import day_start, iso
from core.i18n import translator
from core.storage.claims import is_quiet, open_window
from services.approvals import copies, policy, repo
from services.approvals.cards import headline, slack_time
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.slack.queue import enqueue_post

if TYPE_CHECKING:
    from services.container import Services


def escalate_due(services: Services) -> list[str]:
    """Requests waiting longer than ``escalate_after_hours``: once each, the admins are told."""
    approvals = services.config.approvals
    if approvals is None or approvals.escalate_after_hours is None:
        return []
    now = services.clock.now()
    after = timedelta(hours=approvals.escalate_after_hours)
    roles = services.config.roles
    tags = [f"<@{u}>" for u in roles.admins] + [f"<!subteam^{g}>" for g in roles.admin_groups]
    raised = []
    with services.store.transaction() as db:
        for r in repo.in_states(db, (State.PENDING,)):
            if now < r.created_at + after or r.expired(now) or r.expires_at is None:
                continue
            if not open_window(db, f"escalate:{r.id}", iso(now), iso(r.expires_at + timedelta(days=1))):
                continue
            waited = int((now - r.created_at).total_seconds() // 3600)
            # the card's thread in its channel's language, each admin's DM in theirs
            thread = _escalation(r, waited, services.locales.channel(approvals.channel))
            t = translator(services.locales.channel(approvals.channel))
            told = " ".join(tags) or t.gettext("Admins:")
            repo.tell_thread(services, db, r, f"{told} {thread}")
            card_channel = f"<#{approvals.channel}>"
            for admin in roles.admins:
                if admin != r.requester:
                    locale = services.locales.cached(admin)
                    text = translator(locale).gettext(
                        "%(line)s Its card is in %(channel)s.",
                        line=_escalation(r, waited, locale),
                        channel=card_channel,
                    )
                    enqueue_post(db, channel=admin, text=text, correlation_id=r.id)
            repo.audit(services, db, r, "system", "escalate", after_hours=approvals.escalate_after_hours)
            raised.append(r.id)
    if raised:
        services.wake_outbox()
    return raised


async def summary_due(services: Services) -> int:
    """At ``summary_time`` each day: one DM per approver with the requests waiting for them.
    Returns how many DMs were queued (0 before the time, or once today's went out)."""
    approvals = services.config.approvals
    if approvals is None or approvals.summary_time is None:
        return 0
    now = services.clock.now()
    zone = approvals.day_zone
    today = day_start(now, zone)
    hour, minute = (int(part) for part in approvals.summary_time.split(":"))
    at = today.astimezone(ZoneInfo(zone)).replace(hour=hour, minute=minute)
    if now < at:
        return 0
    key = f"approval-summary:{today.date().isoformat()}"
    with services.store.read() as db:
        if is_quiet(db, key, iso(now)):  # today's went out: no Slack call on every later sweep
            return 0
    people = await copies.approver_ids(services)  # user groups are a Slack call: before the transaction
    languages = {person: await services.locales.locale_of(person) for person in people}  # each DM in theirs
    sent = 0
    with services.store.transaction() as db:
        if not open_window(db, key, iso(now), iso(today + timedelta(days=1))):
            return 0
        waiting = [(r, {a for a, _ in repo.approvers(db, r.id)}) for r in repo.in_states(db, (State.PENDING,))]
        for person in people:
            mine = [
                r
                for r, given in waiting
                if r.requester != person
                and person not in given
                and not r.expired(now)
                and policy.within_approver_limit(services.config, person, r.money)
            ]
            if mine:
                enqueue_post(db, channel=person, text=_summary(mine, approvals.channel, languages[person]))
                sent += 1
    if sent:
        services.wake_outbox()
    return sent


def _until(r: ApprovalRequest, locale: str | None) -> str:
    """When the request closes, as a Slack date token (each reader's own zone)."""
    if r.expires_at is None:
        return "—"
    return slack_time(
        r.expires_at, "{date_short_pretty} at {time}" if locale in (None, "en") else "{date_short_pretty} {time}"
    )


def _escalation(r: ApprovalRequest, waited: int, locale: str | None) -> str:
    return translator(locale).gettext(
        ":rotating_light: `%(id)s` %(headline)s has waited %(hours)s h for approval (open until %(until)s).",
        id=r.id,
        headline=headline(r, locale=locale),
        hours=waited,
        until=_until(r, locale),
    )


def _summary(requests: list[ApprovalRequest], channel: str, locale: str | None = None) -> str:
    t = translator(locale)
    where = f"<#{channel}>"
    lines = [
        t.ngettext(
            ":clipboard: %(n)s request wait for your approval in %(channel)s:",
            ":clipboard: %(n)s requests wait for your approval in %(channel)s:",
            len(requests),
            channel=where,
        )
    ]
    for r in requests[:20]:
        requester = f"<@{r.requester}>"
        lines.append(
            t.gettext(
                "• `%(id)s` %(headline)s — requested by %(who)s, open until %(until)s",
                id=r.id,
                headline=headline(r, locale=locale),
                who=requester,
                until=_until(r, locale),
            )
        )
    if len(requests) > 20:
        lines.append(t.gettext("…and %(more)s more: `/whalet pending` lists them all.", more=len(requests) - 20))
    return "\n".join(lines)
