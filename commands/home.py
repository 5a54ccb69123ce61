"""The App Home tab: what waits for this person (with Approve and Reject), their own requests,
a balance snapshot, the freeze banner and the digest schedules.

Published on ``app_home_opened`` (``views.publish`` needs no scope) and again for the people
concerned whenever a request changes: ``repo.update_card`` marks them in ``home_dirty`` in the
change's own transaction (one row per person, so ten changes in a second make one publish), and
``republish`` publishes them paced under Slack's Tier 4 (~100 ``views.publish`` a minute), for
all replicas together.

"Waiting for you" applies the card's approver rule (``policy.approver_refusal``), and its buttons
are the card's own (``cards.buttons``: same action ids, same fingerprinted block_id), answered by
the same handlers in ``approval_actions``, so a click here meets exactly the card's guards. A
view has no ``response_url``, so the handler's answer appears as a notice at the top of the
Home (``tell``) instead of an ephemeral message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from commands.home_balances import balance_blocks, refresh
from commands.pending import pending_line
from core.clock import SYSTEM_CLOCK, iso, parse_iso
from core.i18n import Translator, translator
from core.storage.claims import open_window
from core.storage import digests
from core.storage import home as home_rows
from services.approvals import repo
from services.approvals.cards import buttons, detail_blocks, headline, slack_time, status_line
from services.approvals.confirm import FREEZE_FLAG
from services.approvals.policy import approver_refusal, resolver, within_approver_limit
from services.approvals.roles import Role, no_access, role_name
from services.approvals.states import State
from services.slack.blocks import MAX_MODAL_BLOCKS, Block, context, divider, finish, header, paged, section

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.home")

WITH_BUTTONS = 8  # waiting requests shown in full with their buttons (up to 6 blocks each; a Home holds 100)
OWN_REQUESTS = 10
NOTICE_SECONDS = 120.0
# Slack's Tier 4 allows ~100 views.publish a minute per workspace. One republish pass per window,
# for every replica together (a quiet window in the database), publishing at most PER_PASS Homes:
# 3 every 2 s is 90 a minute, whatever the number of replicas.
REPUBLISH_EVERY = 2.0  # seconds: changes within this window coalesce into one publish per person
PER_PASS = 3


class Home:
    """One per process: builds and publishes Homes, paced for every replica together."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def view(self, user_id: str) -> dict[str, Any]:
        """The Home as ``user_id`` reads it: their Slack language and time zone."""
        services = self.services
        person = await services.locales.person(user_id)
        locale = person.locale
        t = translator(locale, person.tz)
        _ = t.gettext
        role = await resolver(services).role_of(user_id)
        if role is Role.NONE:  # nothing of the money, not even who waits for what
            return {
                "type": "home",
                "blocks": [header(_("Whalet payouts")), section(no_access(services.config.roles, locale))],
            }
        with services.store.read() as db:
            opened = repo.open_requests(db)
            given = {r.id: repo.approvals(db, r.id) for r in opened}
            rows = [(r, [a.approver for a in given[r.id] if a.counts]) for r in opened]
            mine = [(r, [a for a, _a in repo.approvers(db, r.id)]) for r in repo.requests_of(db, user_id, OWN_REQUESTS)]
            schedules = digests.schedules(db)
        waiting = [
            (r, approved)
            for r, approved in rows
            if r.state is State.PENDING
            and user_id not in approved
            and approver_refusal(role, requester=r.requester, clicker=user_id) is None
            and within_approver_limit(services.config, user_id, r.money)
        ]
        blocks: list[Block] = [header(_("Whalet payouts"))]
        blocks += self._banners(user_id, t)
        blocks.append(context(_("Your role: %(role)s.", role=role_name(role, locale))))
        blocks += [divider(), section(_("*Waiting for you* (%(count)s)", count=len(waiting)))]
        for r, approved in waiting[:WITH_BUTTONS]:
            blocks += [
                *detail_blocks(r, given[r.id], locale),
                context(pending_line(r, approved, locale)),
                buttons(r, locale),
            ]
        if len(waiting) > WITH_BUTTONS:
            blocks.append(
                context(_("…and %(count)s more: `/whalet pending` lists them all.", count=len(waiting) - WITH_BUTTONS))
            )
        if not waiting:
            blocks.append(section(_("Nothing waits for your approval.")))
        own = _("*Your requests* (latest %(count)s)", count=OWN_REQUESTS) if mine else _("*Your requests*")
        blocks += [divider(), section(own)]
        lines = [f"• `{r.id}` {headline(r, locale=locale)}\n{status_line(r, approved, locale)}" for r, approved in mine]
        listed, _hidden = paged(lines, per_block=5, max_blocks=4)
        blocks += listed or [section(_("You have no requests."))]
        blocks += [divider(), *balance_blocks(services, t), divider(), *self._schedules(schedules, t)]
        return {"type": "home", "blocks": finish(blocks, MAX_MODAL_BLOCKS)}

    def _banners(self, user_id: str, t: Translator) -> list[Block]:
        found: list[Block] = []
        frozen = self.services.store.get_flag(FREEZE_FLAG)
        if frozen is not None:
            who, _sep, since = frozen.partition(" ")
            if since:
                said = t.gettext(
                    ":octagonal_sign: *Payouts are frozen* by <@%(who)s> since %(since)s: no new requests and no "
                    "approvals until an admin runs `/whalet unfreeze`.",
                    who=who,
                    since=slack_time(parse_iso(since), "{date_short_pretty} {time}"),
                )
            else:
                said = t.gettext(
                    ":octagonal_sign: *Payouts are frozen* by <@%(who)s>: no new requests and no "
                    "approvals until an admin runs `/whalet unfreeze`.",
                    who=who,
                )
            found.append(section(said))
        with self.services.store.read() as db:
            notice = home_rows.notice(db, user_id, iso(self.services.clock.now()))
        if notice is not None:
            found.append(section(f":speech_balloon: {notice}"))
        return found

    def _schedules(self, persisted: list[tuple[str, str, str, str]], t: Translator) -> list[Block]:
        seen = [(s.channel, s.time, s.timezone) for s in self.services.config.digest.schedules]
        seen += [(c, tm, z) for c, tm, z, _x in persisted if (c, tm, z) not in seen]
        lines = [
            t.gettext("• <#%(channel)s> every day at %(time)s (%(zone)s)", channel=c, time=tm, zone=z)
            for c, tm, z in seen
        ]
        listed = "\n".join(lines[:20]) if lines else t.gettext("No digest is scheduled.")
        return [section(t.gettext("*Balance digests*") + "\n" + listed)]

    async def publish(self, client: AsyncWebClient, user_id: str) -> None:
        await client.views_publish(user_id=user_id, view=await self.view(user_id))

    async def tell(self, client: AsyncWebClient, user_id: str, text: str) -> None:
        """The answer to a click made in the Home: shown at its top for a couple of minutes. Kept
        in the database, so the other replicas' publishes (and a restart) show it too."""
        until = self.services.clock.now() + timedelta(seconds=NOTICE_SECONDS)
        with self.services.store.transaction() as db:
            home_rows.set_notice(db, user_id, text, iso(until))
        await self.publish(client, user_id)

    async def on_refresh(self, client: AsyncWebClient, user_id: str) -> None:
        """The Refresh button asks Whalet, so only for someone in the policy: a Home published
        while they still held a role keeps its button until it is published again."""
        if await resolver(self.services).role_of(user_id) is Role.NONE:
            await self.publish(client, user_id)
            return
        problem = await refresh(self.services)
        if problem is None:
            await self.publish(client, user_id)
            return
        t = translator(await self.services.locales.locale_of(user_id))
        await self.tell(client, user_id, t.text(problem))

    async def on_opened(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return  # the Messages tab needs nothing from us
        await self.publish(client, str(event["user"]))

    # --- republishing after a change ---------------------------------------------------------

    async def republish(self) -> int:
        """One pass: publish the Home of up to ``PER_PASS`` people marked since, if no replica
        made a pass in this window. A mark is taken by compare-and-delete, so a mark is never
        published twice. Wall time, not the business clock: this is pacing against Slack."""
        now = SYSTEM_CLOCK.now()
        with self.services.store.read() as db:
            marked = home_rows.waiting(db, PER_PASS)
        if not marked:
            return 0
        with self.services.store.transaction() as db:
            if not open_window(db, "home:republish", _ms(now), _ms(now + timedelta(seconds=REPUBLISH_EVERY))):
                return 0
        done = 0
        for user, since in marked:
            with self.services.store.transaction() as db:
                if not home_rows.take(db, user, since):
                    continue
            try:
                await self.publish(self.services.slack, user)
                done += 1
            except Exception as exc:  # SlackApiError, network: the next change or open publishes again
                log.warning("could not publish the App Home of %s: %s", user, exc)
        return done

    async def run(self) -> None:
        while True:
            await self.republish()
            await asyncio.sleep(REPUBLISH_EVERY)


def _ms(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
