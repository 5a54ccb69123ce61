"""A stateful fault test of the approval flow over the real Bolt app and the real Whalet sandbox.

Everything runs in this process: Slack requests are signed exactly like Slack signs them and
handed to Bolt's ``async_dispatch``; the bot's Whalet client talks to the sandbox's ASGI app
through ``httpx.ASGITransport`` (``build_runtime(whalet_transport=...)``); the Slack stand-in
serves ``respond()``, ``views.open`` and user groups on loopback. Hypothesis drives requests,
approvals by anyone, rejects, freeze / unfreeze, role changes (policy reload, group membership,
an unreadable group), any sandbox fault kind on any money apiCode, clock jumps, sweeps and
restarts (a new app on the same database), and checks after every step:

1. no confirm call while frozen;
2. none without the quorum of distinct current approvers other than the requester;
3. never two confirm calls for one order in flight at once;
4. every confirm after the first follows a lookup that found the order unconfirmed, and there
   are at most ``max_confirm_attempts`` confirms per order;
5. no exception escapes a listener;
6. Whalet calls per request within the bound;
7. once settled, the request's state agrees with the sandbox's order status;
8. no two confirm calls of one order ever run at the same time at Whalet (the sandbox records each
   handler's start and end, and its handlers run on after the bot's client gave up);
9. approvers' limits hold (an approval above the giver's limit never counts), and a request of a
   layered tier is confirmed only with one current member of each layer, different people, whose
   approvals were given in layer order;
10. a request whose quote ran out is confirmed under its current order only (never a superseded
   one), and on terms within ``max_rate_drift_bps`` of the terms each counting approval was given
   on (the model records what each approver clicked on; the market moves between quotes);
11. batches (``/whalet payout batch``, a CSV read from the stand-in): each line's payout meets
   1-10 at its confirm (the batch's approvals, held against current roles), and no line ever has
   more than one of its orders confirmed at Whalet, whatever restarts, faults and freezes.

``HYPOTHESIS_PROFILE=long`` runs many more examples (README, "Approval safety").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from slack_bolt.request.async_request import AsyncBoltRequest

from core.clock import FrozenClock
from core.config import BotConfig, load_config
from devkit.localstack import DEMO_BOT_TOKEN, DEMO_CONFIG, DEMO_PARTNER_ID
from devkit.inprocess import AppTransport
from devkit.serving import ThreadedServer
from core.settings import load_settings
from core.storage.store import Store
from devkit.slack_standin.server import FakeSlack
from devkit.slack_standin.signing import SlackRequests
from bot.wiring import Runtime, build_runtime
from services.approvals import repo
from services.approvals.cards import headline
from services.approvals.confirm import FREEZE_FLAG
from services.approvals.policy import resolver as policy_resolver
from services.approvals.policy import within_approver_limit
from services.approvals.reconcile import MAX_LOOKUPS, sweep
from services.approvals.request import Terms
from services.approvals.requote import MAX_RENEWALS, drift
from services.approvals.states import State
from commands.modals import reject_modal, stash
from whalet.envelope import EnvelopeCodec
from devkit.whalet_sandbox import Sandbox, SandboxConfig, SandboxKeys, create_sandbox, ensure_keys
from devkit.whalet_sandbox.faults import KINDS as FAULT_KINDS

settings.register_profile(
    "approvals", max_examples=200, stateful_step_count=10, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "long", max_examples=2000, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "quick",
    max_examples=int(os.environ.get("APPROVAL_EXAMPLES", "20")),
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
PROFILE = (
    os.environ.get("HYPOTHESIS_PROFILE") if os.environ.get("HYPOTHESIS_PROFILE") in ("long", "quick") else "approvals"
)

REQUESTER, ADMIN = "U0REQ", "U0ADM"
APPROVERS = ("U0APP1", "U0APP2", "U0APP3")
GROUP_MEMBER = "U0GRP"
EVERYONE = (REQUESTER, ADMIN, *APPROVERS, GROUP_MEMBER, "U0VIEW")
GROUP = "S0APPROVERS"
MONEY_CODES = ("payoutApply", "payoutConfirm", "payApply", "payConfirm", "queryWithdrawRecords", "queryPayRecords")
CONFIRM_CODES = {"payoutConfirm": "payout", "payConfirm": "pay"}
LOOKUP_CODES = ("queryWithdrawRecords", "queryPayRecords")
MAX_CONFIRMS = 3
# What the ``refuse`` / ``refuse_after_apply`` faults answer, and what ``rewrite_answer`` lays over an
# answer: duplicates, rate limits, Whalet not knowing, a status the bot does not know, a changed amount.
ANSWER_CODES = ("IDEMPOTENT_ERROR", "REQUEST_NO_NOT_UNIQUE", "TOO_MANY_REQUESTS", "INTERNAL_ERROR")
REWRITES = ({"status": "ON_HOLD"}, {"amount": "1.00"})
STALENESS_MINUTES = 10
# 60,000 USD falls in a layered tier (150,000 USD is more than the sandbox holds): a member of layer 1 (U0APP1 or the group), then one of
# layer 2 (the admin or U0APP3); U0APP2 may approve at most 10,000 USD.
LAYERS = (("U0APP1", GROUP), ("U0ADM", "U0APP3"))
# mostly in the right order, sometimes not
FIRST_LAYER_CLICKS = ("U0APP1", GROUP_MEMBER, "U0APP1", GROUP_MEMBER, "U0ADM", "U0APP2")
SECOND_LAYER_CLICKS = ("U0ADM", "U0APP3", "U0ADM", "U0APP3", "U0APP1", GROUP_MEMBER)
CONFIG = (
    DEMO_CONFIG.replace(
        'approvers = ["U0APP1", "U0APP2"]',
        f'approvers = ["U0APP1", "U0APP2", "U0APP3"]\napprover_groups = ["{GROUP}"]\n'
        f"max_staleness_minutes = {STALENESS_MINUTES}",
    )
    .replace(
        '{ currency = "USD", up_to = "100000", approvals = 2 },',
        '{ currency = "USD", up_to = "30000", approvals = 2 },\n'
        f'{{ currency = "USD", up_to = "100000", layers = {json.dumps([list(layer) for layer in LAYERS])} }},',
    )
    .replace(
        'flag_above = { USD = "20000" }',
        'flag_above = { USD = "20000" }\napprover_limits = { U0APP2 = { USD = "10000" } }',
    )
)


class Watch(httpx.AsyncBaseTransport):
    """The bot's Whalet traffic as the sandbox sees it: opens each request and answer with the
    sandbox's keys to learn the operation and order, and checks invariants 1-4 at send time."""

    def __init__(self, inner: httpx.AsyncBaseTransport, whalet: EnvelopeCodec, machine: ApprovalFlow):
        self.inner, self.machine = inner, machine
        self.whalet = whalet
        self.in_flight: Counter[str] = Counter()
        self.confirms: Counter[str] = Counter()
        self.checked: dict[str, bool] = defaultdict(bool)  # a lookup saw WAIT_CONFIRM since the last confirm
        self.calls: Counter[str] = Counter()
        self.order_of_whalet_id: dict[str, str] = {}

    def check_confirm(self, order: str | None, body: dict[str, Any]) -> None:
        assert order, body
        self.machine.check_confirm_allowed(order)
        assert self.in_flight[order] == 0, f"two confirms in flight for {order}"
        if self.confirms[order]:
            assert self.checked[order], f"re-confirm of {order} without a lookup that found it unconfirmed"
        self.confirms[order] += 1
        self.checked[order] = False
        assert self.confirms[order] <= MAX_CONFIRMS, f"{self.confirms[order]} confirms for {order}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        opened = self.whalet.decode_request(await request.aread())
        code, body = opened.head["apiCode"], opened.body or {}
        order = body.get("merOrderNo") or self.order_of_whalet_id.get(body.get("payoutId") or body.get("payId") or "")
        if order:
            self.calls[order] += 1
        if code in CONFIRM_CODES:
            try:
                self.check_confirm(order, body)
            except AssertionError as exc:
                # raised inside the bot's Whalet call, where the bot may take it for a transport
                # error and carry on: kept, so the machine's invariant fails the example anyway
                self.machine.violations.append(str(exc) or repr(exc))
                raise
            self.in_flight[order] += 1
        try:
            response = await self.inner.handle_async_request(request)
        finally:
            if code in CONFIRM_CODES and order:
                self.in_flight[order] -= 1
        content = await response.aread()
        if code in LOOKUP_CODES or code.endswith("Apply"):
            self._learn(code, order, content)
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def _learn(self, code: str, order: str | None, content: bytes) -> None:
        try:
            answer = self.machine.partner_codec.decode_response(content)
        except Exception:  # noqa: BLE001 - a fault's corrupted or empty answer: the bot learned nothing either
            return
        body = answer.body or {}
        if code.endswith("Apply") and answer.head.get("code") == "SUCCESS":
            self.order_of_whalet_id[body.get("payoutId") or body.get("payId")] = body.get("merOrderNo")
        for record in body.get("records", []) if isinstance(body, dict) else []:
            if record.get("merOrderNo") == order and record.get("status") == "WAIT_CONFIRM":
                self.checked[order] = True


class ApprovalFlow(RuleBasedStateMachine):
    """One example: a fresh bot database and clock against the module's sandbox (orders are
    unique per example, so examples do not see each other's), faults cleared in between."""

    keys: SandboxKeys
    sandbox: Sandbox
    partner_codec: EnvelopeCodec
    whalet_codec: EnvelopeCodec
    fake: FakeSlack
    fake_url: str
    workdir: Path
    migrated_db: Path  # an empty database with every migration applied, copied for each example
    hkd_value: Decimal  # the sandbox's HKD in USD before any example moved the market

    def __init__(self, whalet_timeout: float = 0.05) -> None:
        """``whalet_timeout``: the bot's read timeout, short so that "Whalet answered after the
        bot gave up" is cheap to reach; tests that need every answer in time pass a longer one
        (0.05 s on the wall clock is not much on a loaded CI machine)."""
        super().__init__()
        self.whalet_timeout = whalet_timeout
        self.loop = asyncio.new_event_loop()
        self.clock = FrozenClock(self.sandbox.clock.now())  # the two clocks move together from here
        # Whalet's handlers run on after the bot's client gave up, as a real server's do.
        self.background: set[asyncio.Task[Any]] = set()
        self.watch = Watch(AppTransport(self.sandbox.app, self.background), self.whalet_codec, self)
        self.operator = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sandbox.app), base_url="http://sandbox"
        )
        self.db_path = self.workdir / f"bot-{secrets.token_hex(6)}.db"
        shutil.copyfile(self.migrated_db, self.db_path)
        self.config_path = self.workdir / "whalet-bot.toml"
        self.signing_secret = secrets.token_hex(16)
        self.fake.usergroups[GROUP] = [GROUP_MEMBER]
        # (since, members or None while unreadable): what the group held and when, for the
        # staleness rule (an unreadable group keeps members read within the last 10 minutes)
        self.group_history: list[tuple[datetime, frozenset[str] | None]] = [
            (self.clock.now(), frozenset([GROUP_MEMBER]))
        ]
        self.errors: list[logging.LogRecord] = []
        self.violations: list[str] = []  # invariants 1-4, 9 and 10, broken at the moment of a confirm
        self.terms_seen: dict[tuple[str, str], Terms] = {}  # (request, approver) -> the terms clicked on
        self.steps_since_restart = 0
        # Examples share the module's sandbox, whose quotes freeze money until they are confirmed
        # or expire: without a top-up the larger (layered) requests would soon all be refused.
        usd = self.sandbox.state.ledger.balance("U10001", "B2C", "USD")
        usd.available = max(usd.available, Decimal("600000"))
        self.sandbox.state.ledger.usd_value["HKD"] = self.hkd_value  # the market, as each example starts
        self.runtime = self._build()

    # --- plumbing ------------------------------------------------------------------------------

    def _build(self, config: BotConfig | None = None) -> Runtime:
        self.config_path.write_text(CONFIG, encoding="utf-8")
        settings_ = load_settings(
            slack_bot_token=DEMO_BOT_TOKEN,
            slack_signing_secret=self.signing_secret,
            slack_api_base_url=self.fake_url + "/api/",
            whalet_base_url="http://sandbox.localhost/api",
            whalet_partner_id=DEMO_PARTNER_ID,
            whalet_partner_private_key=str(self.keys.partner_private),
            whalet_public_key_source=str(self.keys.whalet_public),
            whalet_bot_config=self.config_path,
            whalet_bot_db=self.db_path,
            whalet_timeout_seconds=self.whalet_timeout,
            whalet_retry_backoff_seconds=0.001,
            whalet_bot_ack_flush_seconds=0,  # requests go to async_dispatch: no HTTP ack to let out
        )
        runtime = build_runtime(
            settings_,
            config or load_config(self.config_path),
            clock=self.clock,
            whalet_transport=self.watch,
            codec=self.partner_codec,
        )
        self.slack = SlackRequests(
            self.signing_secret,
            "http://bot",
            self.fake.new_response_url,
            trigger_id_factory=self.fake.new_trigger_id,
            team_id=self.fake.team_id,
            send=lambda body, headers: (body, headers),
        )
        return runtime

    @property
    def services(self) -> Any:
        return self.runtime.services

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def dispatch(self, signed: tuple[bytes, dict[str, str]]) -> None:
        body, headers = signed

        async def go() -> None:
            response = await self.runtime.bolt.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))
            assert response.status == 200, (response.status, response.body)
            await self.settle_tasks()

        self.run(go())

    async def settle_tasks(self) -> None:
        """Bolt runs listeners after the ack in tasks: wait for all of them (they are bounded)."""
        while True:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
            if not tasks:
                return
            await asyncio.wait(tasks, timeout=30)

    def requests(self) -> list[Any]:
        with self.services.store.read() as db:
            return repo.in_states(db, tuple(State))

    def card_of(self, request_id: str) -> dict[str, Any] | None:
        with self.services.store.read() as db:
            found = db.execute(
                "SELECT blocks FROM outbox WHERE ref LIKE ? AND op IN ('post', 'update') ORDER BY id DESC LIMIT 1",
                [f"%{request_id}"],
            ).fetchone()
        return {"channel": "C0APPROVALS", "ts": "1.000001", "blocks": json.loads(found[0])} if found else None

    def approvers_now(self) -> set[str]:
        roles = self.services.config.roles
        return (
            set(roles.approvers)
            | set(roles.admins)
            | (self.group_members_now() if GROUP in roles.approver_groups else set())
        )

    def group_members_now(self) -> set[str]:
        """The group's members as the policy allows the bot to see them: the current members when the
        group is readable; while it is unreadable, anyone it held at some moment of the last
        ``max_staleness_minutes`` (the bot may have read it then), and nobody after that."""
        if GROUP in self.fake.usergroups:
            return set(self.fake.usergroups[GROUP])
        window_start = self.clock.now() - timedelta(minutes=STALENESS_MINUTES)
        allowed: set[str] = set()
        for index, (_since, members) in enumerate(self.group_history):
            until = self.group_history[index + 1][0] if index + 1 < len(self.group_history) else self.clock.now()
            if members is not None and until >= window_start:
                allowed |= members
        return allowed

    def _record_group(self) -> None:
        members = self.fake.usergroups.get(GROUP)
        self.group_history.append((self.clock.now(), None if members is None else frozenset(members)))

    def check_confirm_allowed(self, order: str) -> None:
        """Invariants 1, 2 and 9, at the moment a confirm is sent."""
        assert self.services.store.get_flag(FREEZE_FLAG) is None, f"confirm of {order} while frozen"
        with self.services.store.read() as db:
            request = repo.load_by_order(db, order)
            assert request is not None
            given = [a for a in repo.approvals(db, request.id) if a.counts]
        config = self.services.config
        eligible = {
            a.approver
            for a in given
            if a.approver in self.approvers_now()
            and a.approver != request.requester
            and within_approver_limit(config, a.approver, request.money)
        }
        assert len(eligible) >= request.required_approvals, (order, given, self.approvers_now())
        superseded = {no for r in self.requests() for no in r.superseded_orders}
        assert order == request.mer_order_no and order not in superseded, f"confirm of superseded order {order}"
        tolerance = config.approvals.max_rate_drift_bps if config.approvals else 50
        # never renewed: the terms never changed; a batch line's approvals carry its first quote's
        # terms (held to the batch's approved rate when it was applied), not terms a person clicked
        for giver in eligible if request.superseded_orders and request.batch_id is None else ():
            seen = self.terms_seen.get((request.id, giver))
            assert seen is not None, (order, giver, "approval on terms the model never saw")
            assert not drift(seen, Terms.of(request), tolerance), (order, giver, seen, Terms.of(request))
        if request.layers:
            assert request.layers == LAYERS, request.layers
            members = self.group_members_now()
            by_layer = {}
            for a in given:
                layer = request.layers[a.layer] if a.layer is not None else ()
                if a.approver in eligible and (a.approver in layer or (GROUP in layer and a.approver in members)):
                    by_layer.setdefault(a.layer, a)
            assert sorted(by_layer) == list(range(len(LAYERS))), (order, given)
            times = [by_layer[index].at for index in range(len(LAYERS))]
            assert times == sorted(times) and len({a.approver for a in by_layer.values()}) == len(LAYERS), given

    # --- rules ---------------------------------------------------------------------------------

    @initialize()
    def capture_listener_errors(self) -> None:
        machine = self

        class Catch(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.levelno >= logging.ERROR and record.name.startswith("slack_bolt"):
                    machine.errors.append(record)

        self.catcher = Catch()
        logging.getLogger("slack_bolt").addHandler(self.catcher)

    @initialize(kind=st.sampled_from(["payout", "pay"]), amount=st.sampled_from(["100", "20000", "60000", "60000"]))
    def first_request(self, kind: str, amount: str) -> None:
        """Every example starts with a request, so the other rules have something to act on."""
        self.request(kind, amount, to_hk=amount == "100")

    @rule(
        kind=st.sampled_from(["payout", "payout", "pay"]),
        amount=st.sampled_from(["100", "100", "20000", "60000", "150000"]),
        to_hk=st.booleans(),
    )
    def request(self, kind: str, amount: str, to_hk: bool = False) -> None:
        target = ("acme-hk" if to_hk else "acme-us") if kind == "payout" else "U10002"
        self.dispatch(self.slack.command(REQUESTER, f"{kind} {amount} USD to {target}", channel_id="C0DEMO"))

    @rule(
        amounts=st.lists(st.sampled_from(["100", "2500", "9000"]), min_size=1, max_size=3),
        to_hk=st.booleans(),
    )
    def request_batch(self, amounts: list[str], to_hk: bool) -> None:
        """A batch of one to three USD lines (a line to acme-hk converts), through the modal."""
        rows = "".join(f"{'acme-hk' if to_hk and i == 0 else 'acme-us'},{a},USD,L{i}\n" for i, a in enumerate(amounts))
        before = len(self.fake.views(REQUESTER))
        self.dispatch(self.slack.command(REQUESTER, "payout batch", channel_id="C0DEMO"))
        opened = self.fake.views(REQUESTER)[before:]
        if not opened:
            return  # refused (frozen, say): no modal
        picked = self.fake.add_user_file(
            REQUESTER, "batch.csv", f"beneficiary,amount,currency,reference\n{rows}".encode()
        )
        self.dispatch(self.slack.view_submission(REQUESTER, opened[-1], {"file": [picked]}))

    @rule(
        user=st.sampled_from(EVERYONE),
        pick=st.integers(0, 7),
        double=st.booleans(),
        confirm_fault=st.none() | st.sampled_from(FAULT_KINDS),
    )
    def approve(self, user: str, pick: int, double: bool, confirm_fault: str | None = None) -> None:
        """A click by anyone (twice at once with ``double``); ``confirm_fault``: Whalet misbehaves
        on the confirm this click may send (the same as the ``fault`` rule just before it)."""
        rows = self.requests()
        if not rows:
            return
        card = self.card_of(rows[pick % len(rows)].id)
        buttons = card and any(b.get("block_id", "").startswith("apr|") for b in card["blocks"])
        if not buttons:
            return
        if confirm_fault:
            # twice: the click's own re-confirm after the lookup meets it too, so a later sweep must retry
            self.fault(
                confirm_fault,
                "payConfirm" if rows[pick % len(rows)].kind == "pay" else "payoutConfirm",
                2,
                ANSWER_CODES[pick % len(ANSWER_CODES)],
                REWRITES[0],
            )
        request = rows[pick % len(rows)]
        with self.services.store.read() as db:
            if user not in {a.approver for a in repo.approvals(db, request.id)}:
                self.terms_seen[(request.id, user)] = Terms.of(request)  # what this approval is given on
        signed = [self.slack.block_action(user, card, "approval_approve") for _ in range(2 if double else 1)]
        if double:  # a double click, dispatched at once

            async def both() -> None:
                await asyncio.gather(
                    *(self.runtime.bolt.async_dispatch(AsyncBoltRequest(body=b.decode(), headers=h)) for b, h in signed)
                )
                await self.settle_tasks()

            self.run(both())
        else:
            self.dispatch(signed[0])

    @rule(
        first=st.sampled_from(FIRST_LAYER_CLICKS),
        second=st.sampled_from(SECOND_LAYER_CLICKS),
        pick=st.integers(0, 7),
        confirm_fault=st.none() | st.sampled_from(FAULT_KINDS),
    )
    def approve_in_layers(self, first: str, second: str, pick: int, confirm_fault: str | None) -> None:
        """Two clicks on a request of the layered tier by people of its layers, in either order
        (random clicks by anyone rarely complete one)."""
        layered = [i for i, r in enumerate(self.requests()) if r.layers]
        if layered:
            index = layered[pick % len(layered)]
            self.approve(first, index, False)
            self.approve(second, index, False, confirm_fault)

    @rule(
        user=st.sampled_from((*APPROVERS, ADMIN)),
        pick=st.integers(0, 7),
        factor=st.sampled_from([None, "1.001", "1.004", "0.98"]),
    )
    def approve_after_the_quote_ran_out(self, user: str, pick: int, factor: str | None) -> None:
        """An approver back from a meeting: Whalet's quote (10 min) is over, the request (30 min) is
        not, and the market may have moved meanwhile."""
        self.move_clock(12)
        if factor:
            self.move_market(factor)
        self.approve(user, pick, False)

    @rule(factor=st.sampled_from(["1.001", "1.004", "0.996", "1.01", "0.98"]))
    def move_market(self, factor: str) -> None:
        """HKD moves against USD: quotes made from now on differ (by 10 bp up to 200 bp)."""
        self.run(self.operator.post("/sandbox/rates", json={"currency": "HKD", "factor": factor})).raise_for_status()

    @rule(user=st.sampled_from(EVERYONE), pick=st.integers(0, 7), reason=st.sampled_from(["", "<!channel> no"]))
    def reject(self, user: str, pick: int, reason: str) -> None:
        rows = self.requests()
        if not rows:
            return
        request = rows[pick % len(rows)]
        form = stash(
            self.services.store, {"fp": request.fingerprint, "channel": "C0APPROVALS", "request_id": request.id}
        )
        view = reject_modal(headline(request), form)
        self.dispatch(self.slack.view_submission(user, view, {"reason": reason}))

    @rule(frozen=st.booleans())
    def freeze(self, frozen: bool) -> None:
        self.dispatch(self.slack.command(ADMIN, "freeze" if frozen else "unfreeze", channel_id="C0DEMO"))

    @rule(
        approvers=st.sets(st.sampled_from(APPROVERS)), group=st.sampled_from(["keep", "member", "empty", "unreadable"])
    )
    def change_roles(self, approvers: set[str], group: str) -> None:
        roles = self.services.config.roles.model_copy(update={"approvers": sorted(approvers)})
        self.services.config = self.services.config.model_copy(update={"roles": roles})  # a policy reload
        if group == "member":
            self.fake.usergroups[GROUP] = [GROUP_MEMBER]
        elif group == "empty":
            self.fake.usergroups[GROUP] = []
        elif group == "unreadable":
            self.fake.usergroups.pop(GROUP, None)
        self._record_group()

    # Confirm faults are where the danger is, so they are drawn most often.
    @rule(
        kind=st.sampled_from(FAULT_KINDS),
        code=st.sampled_from(MONEY_CODES + ("payoutConfirm",) * 6),
        times=st.integers(1, 4),
        answer=st.sampled_from(ANSWER_CODES),
        fields=st.sampled_from(REWRITES),
    )
    def fault(self, kind: str, code: str, times: int, answer: str, fields: dict[str, str]) -> None:
        # past the confirm's 0.15 s deadline: Whalet still working on a call the bot gave up on
        seconds = 0.2 if kind.startswith("timeout") or kind == "latency" else 0.01
        if kind == "refuse_after_apply" and answer == "TOO_MANY_REQUESTS":
            # Whalet's word for "nothing was done": after doing it, that answer would break Whalet's own
            # contract, which invariant 7 takes as true (tests/commands/test_approval_edges.py shows the
            # bot still ends right when Whalet breaks it).
            answer = "IDEMPOTENT_ERROR"
        self.run(
            self.operator.post(
                "/sandbox/faults",
                json={
                    "rules": [
                        {
                            "apiCode": code,
                            "kind": kind,
                            "seconds": seconds,
                            "times": times,
                            "code": answer,
                            "fields": fields,
                        }
                    ]
                },
            )
        ).raise_for_status()

    def let_whalet_finish(self) -> None:
        """Time passes: calls Whalet is still working on (the bot gave up on them) end first,
        as they would within the seconds that the frozen clocks are about to skip."""
        while self.background:
            self.run(asyncio.wait(list(self.background)))

    @rule(minutes=st.sampled_from([1, 5, 12, 40]))
    def move_clock(self, minutes: int) -> None:
        self.let_whalet_finish()
        self.clock.advance(timedelta(minutes=minutes))
        self.sandbox.clock.advance(minutes * 60)
        self.sandbox.tick()

    @rule(minutes=st.sampled_from([0, 1, 1, 5]))
    def sweep(self, minutes: int) -> None:
        """``minutes`` pass with the periodic sweep running every 30 s (expiry, lease take-over,
        lookups, retries); 0: one sweep right now."""
        for _ in range(max(1, minutes * 2)):
            if minutes:
                self.let_whalet_finish()
                self.clock.advance(timedelta(seconds=30))
                self.sandbox.clock.advance(30)
            self.sandbox.tick()
            self.run(sweep(self.services))
            self.run(self.settle_tasks())

    @precondition(lambda self: self.steps_since_restart >= 3)  # restarts are slow; not every other step
    @rule()
    def restart(self) -> None:
        config = self.services.config
        self.close()
        self.runtime = self._build(config)
        self.steps_since_restart = 0

    def close(self) -> None:
        self.run(self.services.whalet.aclose())
        self.run(self.services.responder.close())
        self.services.store.close()

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def count_steps(self) -> None:
        self.steps_since_restart += 1

    @invariant()
    def no_confirm_broke_an_invariant(self) -> None:
        assert not self.violations, self.violations

    @invariant()
    def no_listener_error(self) -> None:
        assert not self.errors, [r.getMessage() for r in self.errors]

    @invariant()
    def no_two_confirms_of_one_order_overlap_at_whalet(self) -> None:
        for order in self.sandbox.state.orders.orders.values():
            assert order.overlapping_confirms() == 0, (order.mer_order_no, order.confirm_spans)

    @invariant()
    def no_superseded_or_expired_order_confirmed_at_whalet(self) -> None:
        superseded = {no for r in self.requests() for no in r.superseded_orders}
        for order in self.sandbox.state.orders.orders.values():
            if order.mer_order_no in superseded:
                assert order.confirm_count == 0, (order.mer_order_no, "a superseded order got a confirm")
            if order.confirm_time is not None:
                assert order.confirm_time <= order.expire_time, (order.mer_order_no, "confirmed after its quote")

    @invariant()
    def no_batch_line_confirmed_twice(self) -> None:
        """Invariant 11: a line's orders are WBB<batch><line><attempt>; at most one ever confirmed."""
        confirmed: Counter[str] = Counter()
        for order in self.sandbox.state.orders.orders.values():
            if order.mer_order_no.startswith("WBB") and order.confirm_count:
                confirmed[order.mer_order_no[:-1]] += 1
        assert all(count == 1 for count in confirmed.values()), confirmed

    @invariant()
    def whalet_calls_within_bound(self) -> None:
        bound = 1 + MAX_RENEWALS + MAX_CONFIRMS + MAX_LOOKUPS
        for request in self.requests():
            assert request.whalet_calls <= bound, request
            assert self.watch.calls[request.mer_order_no] <= bound, request

    @invariant()
    def settled_agrees_with_whalet(self) -> None:
        orders = {o.mer_order_no: o.status for o in self.sandbox.state.orders.orders.values()}
        for request in self.requests():
            status = orders.get(request.mer_order_no)
            if request.is_batch:
                continue  # never an order itself: its lines' payouts are checked here one by one
            if request.state is State.SUCCEEDED:
                assert status == "SUCCESS", (request, status)
            elif request.state is State.CONFIRMED:
                assert status in ("PROCESSING", "SUCCESS", "FAIL"), (request, status)
            elif request.state in (State.PENDING, State.APPROVED, State.REJECTED, State.EXPIRED):
                assert status in (None, "WAIT_CONFIRM", "EXPIRED"), (request, status)
            elif request.state is State.FAILED and request.result_status == "FAIL":
                assert status == "FAIL", (request, status)

    def teardown(self) -> None:
        try:
            self.let_whalet_finish()
            self.run(self.operator.delete("/sandbox/faults"))
            self.run(self.operator.aclose())
            self.close()
        finally:
            logging.getLogger("slack_bolt").removeHandler(getattr(self, "catcher", logging.Handler()))
            self.loop.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    keys = ensure_keys(tmp_path_factory.mktemp("machine-keys"))
    fake = FakeSlack(bot_token=DEMO_BOT_TOKEN)
    with ThreadedServer(fake.app) as server:
        fake.bind(server.url)
        ApprovalFlow.keys, ApprovalFlow.fake, ApprovalFlow.fake_url = keys, fake, server.url
        ApprovalFlow.sandbox = create_sandbox(
            SandboxConfig(keys_dir=keys.dir, partner_id=DEMO_PARTNER_ID, payout_result_delay_s=30.0)
        )
        ApprovalFlow.partner_codec, ApprovalFlow.whalet_codec = keys.partner_codec(), keys.whalet_codec()
        ApprovalFlow.hkd_value = ApprovalFlow.sandbox.state.ledger.usd_value["HKD"]
        ApprovalFlow.workdir = tmp_path_factory.mktemp("machine")
        # Migrating a database costs more than most examples' steps; the migrations have their
        # own tests, so every example starts from a copy of one freshly migrated database.
        ApprovalFlow.migrated_db = ApprovalFlow.workdir / "migrated.db"
        Store(ApprovalFlow.migrated_db).close()
        yield


@pytest.mark.long_running(seconds=80)
def test_approval_flow_keeps_its_invariants_under_faults(world: None) -> None:
    run_state_machine_as_test(ApprovalFlow, settings=settings.get_profile(PROFILE))


# --- one regression test per failure of issue 9 (1-5, 8), on the same in-process harness -----------


def flow(config_toml: str | None = None, *, whalet_timeout: float = 5) -> ApprovalFlow:
    """One hand-written scenario on the machine's harness. Its Whalet timeout is generous: a
    0.05 s one (the random examples') times out on a loaded CI machine where no fault was meant;
    a scenario about timeouts asks for a short one."""
    machine = ApprovalFlow(whalet_timeout)
    if config_toml is not None:
        machine.config_path.write_text(config_toml, encoding="utf-8")
        machine.services.config = load_config(machine.config_path)
    machine.capture_listener_errors()
    return machine


def only(machine: ApprovalFlow) -> Any:
    rows = machine.requests()
    assert len(rows) >= 1
    return rows[-1]


def faults(machine: ApprovalFlow, *rules: dict[str, Any]) -> None:
    machine.run(machine.operator.post("/sandbox/faults", json={"rules": list(rules)})).raise_for_status()


def sandbox_confirms(machine: ApprovalFlow, order: str) -> int:
    return next(o.confirm_count for o in machine.sandbox.state.orders.orders.values() if o.mer_order_no == order)


def card_text_of(machine: ApprovalFlow, request_id: str) -> str:
    return json.dumps(machine.card_of(request_id), ensure_ascii=False)


def test_failure_1_freeze_holds_a_re_confirm_until_unfreeze(world: None) -> None:
    m = flow()
    try:
        m.request("payout", "100")
        faults(
            m,
            {"apiCode": "payoutConfirm", "kind": "http_500", "times": 1},
            {"apiCode": "queryWithdrawRecords", "kind": "http_500", "times": None},
        )
        m.approve("U0APP1", 0, False)
        assert only(m).state is State.CONFIRM_UNKNOWN
        m.freeze(True)
        m.run(m.operator.delete("/sandbox/faults"))
        m.sweep(1)  # the lookup finds WAIT_CONFIRM, but frozen: no confirm
        r = only(m)
        assert r.state is State.CONFIRM_UNKNOWN and m.watch.confirms[r.mer_order_no] == 1
        assert "frozen" in card_text_of(m, r.id)
        m.freeze(False)
        m.sweep(1)
        r = only(m)
        assert r.state is State.CONFIRMED and sandbox_confirms(m, r.mer_order_no) == 1
    finally:
        m.teardown()


def test_failure_2_a_failing_confirm_is_tried_at_most_max_attempts(world: None) -> None:
    m = flow()  # every failure here is a 500, never a timeout
    try:
        m.request("payout", "100")
        assert only(m).state is State.PENDING, only(m)
        faults(m, {"apiCode": "payoutConfirm", "kind": "http_500", "times": None})
        m.approve("U0APP1", 0, False)
        assert m.watch.confirms[only(m).mer_order_no] >= 1, "the click sent no confirm"
        for _ in range(12):
            m.sweep(5)
        r = only(m)
        assert 2 <= m.watch.confirms[r.mer_order_no] == r.confirm_attempts <= MAX_CONFIRMS
        assert r.state in (State.CONFIRM_UNKNOWN, State.EXPIRED) and not m.errors
    finally:
        m.teardown()


def test_failure_3_no_take_over_while_the_lease_is_held(world: None) -> None:
    m = flow()
    try:
        m.request("payout", "100")
        # answered within the client's read timeout, slowly enough to sweep meanwhile
        faults(m, {"apiCode": "payoutConfirm", "kind": "latency", "seconds": 0.3})
        card = m.card_of(only(m).id)

        async def click_and_sweep() -> None:
            body, headers = m.slack.block_action("U0APP1", card, "approval_approve")
            await m.runtime.bolt.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))
            while only(m).state is not State.CONFIRMING:  # the confirm is in flight now
                await asyncio.sleep(0.002)
            await sweep(m.services)  # must not take over: the lease is held
            await m.settle_tasks()

        m.run(click_and_sweep())
        r = only(m)
        assert r.state is State.CONFIRMED and sandbox_confirms(m, r.mer_order_no) == 1
        assert r.lease_owner is None
    finally:
        m.teardown()


def test_failure_4_unknown_outcome_never_expires_and_rate_limit_stays_approved(world: None) -> None:
    m = flow()
    try:
        m.request("payout", "100")
        faults(m, {"apiCode": "payoutConfirm", "kind": "too_many_requests", "times": 1})
        m.approve("U0APP1", 0, False)
        r = only(m)
        assert r.state is State.APPROVED and "tried again" in card_text_of(m, r.id)
        m.sweep(1)
        assert only(m).state is State.CONFIRMED
        # applied but unanswered, and every lookup failing, past the expiry: still "outcome unknown"
        m.request("payout", "100")
        faults(
            m,
            {"apiCode": "payoutConfirm", "kind": "http_500_after_apply", "times": 1},
            {"apiCode": "queryWithdrawRecords", "kind": "http_500", "times": None},
        )
        m.approve("U0APP2", 1, False)
        r = only(m)
        m.move_clock(40)
        m.sweep(1)
        r = next(x for x in m.requests() if x.id == r.id)
        assert r.state is State.CONFIRM_UNKNOWN
        with m.services.store.read() as db:
            assert repo.spent_today(db, REQUESTER, "USD", r.created_at.replace(hour=0, minute=0, second=0)) >= 200
        m.run(m.operator.delete("/sandbox/faults"))
        m.sweep(1)
        r = next(x for x in m.requests() if x.id == r.id)
        assert r.state in (State.CONFIRMED, State.SUCCEEDED) and sandbox_confirms(m, r.mer_order_no) == 1
    finally:
        m.teardown()


def test_failure_5_a_revoked_approver_stops_counting(world: None) -> None:
    m = flow()
    try:
        m.request("payout", "20000")  # two approvals
        m.approve("U0APP1", 0, False)
        m.change_roles({"U0APP2", "U0APP3"}, "keep")  # U0APP1 loses the role (policy reload)
        m.approve(GROUP_MEMBER, 0, False)
        r = only(m)
        assert r.state is State.PENDING and m.watch.confirms[r.mer_order_no] == 0
        assert "<@U0APP1>'s approval no longer counts: not an approver" in card_text_of(m, r.id)
        m.approve("U0APP3", 0, False)
        assert only(m).state is State.CONFIRMED
    finally:
        m.teardown()


def test_an_unreadable_group_keeps_its_members_within_the_staleness_bound(world: None) -> None:
    """Found by the stateful test: a group member's approval, given while the group has just become
    unreadable, counts (the policy keeps members read in the last 10 minutes); the invariant's model
    of "current approvers" must follow the same rule, not treat the group as empty at once."""
    m = flow()
    try:
        m.capture_listener_errors()
        m.first_request("payout", "100")
        m.change_roles(set(), "keep")
        m.change_roles(set(), "unreadable")
        m.approve(GROUP_MEMBER, 0, False)
        m.no_listener_error()
        assert only(m).state is State.CONFIRMED
        assert GROUP_MEMBER in m.approvers_now()
        m.move_clock(11)
        assert GROUP_MEMBER not in m.approvers_now()
    finally:
        m.fake.usergroups[GROUP] = [GROUP_MEMBER]
        m.teardown()


def test_failure_5_an_unreadable_group_counts_as_empty_after_the_staleness_bound(world: None) -> None:
    m = flow()
    try:
        m.request("payout", "100")
        roles = policy_resolver(m.services)
        assert m.run(roles.role_of(GROUP_MEMBER, fresh=True)).name == "APPROVER"
        m.change_roles(set(APPROVERS), "unreadable")
        m.move_clock(5)
        assert m.run(roles.role_of(GROUP_MEMBER, fresh=True)).name == "APPROVER"  # within 10 min
        m.move_clock(12)
        assert m.run(roles.role_of(GROUP_MEMBER, fresh=True)).name == "NONE"
        m.approve(GROUP_MEMBER, 0, False)
        assert only(m).state is State.PENDING
        with m.services.store.read() as db:
            alerts = [r[0] for r in db.execute("SELECT text FROM outbox WHERE kind = 'alert'")]
        assert len([a for a in alerts if GROUP in a]) == 1
    finally:
        m.fake.usergroups[GROUP] = [GROUP_MEMBER]
        m.teardown()


def test_a_wall_clock_stepped_back_does_not_revive_a_stale_approver(world: None) -> None:
    """The staleness bound is measured on the monotonic clock: an hour's step back of the wall
    clock (NTP, an operator) once the bound has passed leaves the unreadable group empty, and the
    member's click does not release the payout."""
    m = flow()
    try:
        m.request("payout", "100")
        roles = policy_resolver(m.services)
        assert m.run(roles.role_of(GROUP_MEMBER, fresh=True)).name == "APPROVER"
        m.change_roles(set(APPROVERS), "unreadable")
        m.clock.advance(timedelta(minutes=STALENESS_MINUTES + 1))
        assert m.run(roles.role_of(GROUP_MEMBER, fresh=True)).name == "NONE"
        m.clock.set(m.clock.now() - timedelta(hours=1))
        assert m.run(roles.role_of(GROUP_MEMBER, fresh=True)).name == "NONE"
        m.approve(GROUP_MEMBER, 0, False)
        assert only(m).state is State.PENDING and m.watch.confirms[only(m).mer_order_no] == 0
    finally:
        m.fake.usergroups[GROUP] = [GROUP_MEMBER]
        m.teardown()


def test_failure_8_reject_reason_is_escaped_and_splitting_is_flagged(world: None) -> None:
    m = flow(CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\naggregate_window_hours = 24"))
    try:
        m.request("payout", "9000")
        m.request("payout", "9000")  # 18,000 to the same beneficiary within the window: tier 2
        first, second = m.requests()[-2:]
        assert first.required_approvals == 1 and second.required_approvals == 2
        assert "possible split" in second.flags and "possible split" in card_text_of(m, second.id)
        m.reject("U0APP1", 0, "<!channel> <http://evil|x>")
        with m.services.store.read() as db:  # the reason reaches the requester's DM, escaped
            told = [
                r[0]
                for r in db.execute("SELECT text FROM outbox WHERE channel = ? AND text LIKE '%rejected%'", [REQUESTER])
            ]
        assert told and all("<!channel>" not in t and "<http://evil" not in t for t in told), told
    finally:
        m.teardown()
