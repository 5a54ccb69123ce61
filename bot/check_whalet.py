"""The Whalet half of ``whalet-bot check``: one line per step of a round trip, each with its fix.

One read-only ``connectivity`` call (after a token, for v1) is taken apart into the steps a
deployer can act on: the gateway answered, it knows our partner id, it issued a token, it accepted
our signature, its answer verified with the key we hold (legacy) or read as v1's shape, and the
message came back. Each failure names the setting to change, and a step whose outcome cannot be
told after an earlier failure is SKIPped rather than guessed. ``--probe`` (bot/probe.py) then
finds the recipe that works when a provisional detail is the culprit.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.config import BotConfig
from core.settings import Settings
from whalet.client import WhaletClient
from whalet.envelope import SignatureInvalid
from whalet.errors import (
    AuthenticationFailed,
    BadParameters,
    OutcomeUnknown,
    RequestNotSent,
    WhaletError,
    WhaletRejected,
)
from whalet.gateways import money_needs_switch
from whalet.transport import Transport

PROBE_HINT = "or run `whalet-bot check --probe` to find the recipe your gateway accepts"
ECHO = "whalet-bot check"


@dataclass(frozen=True)
class Step:
    item: str
    ok: bool | None  # None: skipped (cannot be told), as in check.Result
    detail: str = ""
    fix: str = ""


def _sign_fix(transport: Transport) -> str:
    if transport.profile == "v1":
        return (
            "Whalet refused our HMAC signature: check WHALET_HMAC_KEY, then [whalet.v1] sign_header, "
            f"sign_template, sign_hash, sign_encoding and request_signature, {PROBE_HINT}"
        )
    return (
        "Whalet could not verify our signature: check WHALET_PARTNER_PRIVATE_KEY and that Whalet has "
        "partner_public.pem, then [whalet.legacy] sign_hash, sign_encoding and request_sign_fields, "
        f"{PROBE_HINT}"
    )


def _answer_fix(transport: Transport) -> str:
    if transport.profile == "v1":
        return (
            "Whalet's answer is not v1's {code, message, data}: check WHALET_BASE_URL (no /api) and [whalet.v1] paths"
        )
    return (
        "Whalet's answer did not verify: check WHALET_PUBLIC_KEY, then [whalet.legacy] response_sign_fields, "
        f"sign_hash and sign_encoding, {PROBE_HINT}"
    )


async def whalet_round_trip(settings: Settings, config: BotConfig, transport: Transport) -> list[Step]:
    """The steps of one connectivity round trip, in order; stops telling once a step fails."""
    url = transport.base_url
    steps: list[Step] = []

    def skip(item: str, why: str) -> None:
        steps.append(Step(item, None, why))

    names = {
        "reach": f"Whalet gateway reachable ({url})",
        "partner": f"Whalet knows partner id {settings.whalet_partner_id}",
        "token": "v1 token obtained",
        "sign": "our signature accepted",
        "answer": "Whalet's answer verified"
        + (
            " (v1 answers carry no signature: shape checked)"
            if transport.profile == "v1"
            else " with WHALET_PUBLIC_KEY"
        ),
        "echo": f"Whalet connectivity ({transport.profile} protocol, read-only round trip)",
    }
    failed: str | None = None
    step: Step | None = None
    order = ["reach", "partner", *(["token"] if transport.profile == "v1" else []), "sign", "answer", "echo"]
    async with WhaletClient(
        url,
        transport.partner_id,
        transport,
        api_codes=config.whalet.api_codes,
        read_retries=0,
        timeout=15,
        max_connections=2,
    ) as whalet:
        try:
            await whalet.prepare()
            echoed = await whalet.connectivity(ECHO)
        except WhaletError as exc:
            failed, step = _failed_step(exc, settings, transport)
        else:
            if echoed != ECHO:
                failed, step = (
                    "echo",
                    Step(
                        names["echo"],
                        False,
                        f"answered {echoed!r}",
                        "Whalet did not echo our message: contact Whalet support",
                    ),
                )
    for key in order:
        if key == failed:
            assert step is not None
            steps.append(Step(names[key], False, step.detail, step.fix))
            for later in order[order.index(key) + 1 :]:
                skip(names[later], "not reached: a step above failed")
            break
        if failed == "answer" and key in ("partner", "sign", "token"):
            skip(names[key], "cannot be told: Whalet's answer did not verify, so its result code is not trusted")
            continue
        steps.append(Step(names[key], True, "message echoed" if key == "echo" else ""))
    return steps


def _failed_step(exc: WhaletError, settings: Settings, transport: Transport) -> tuple[str, Step]:
    code = getattr(exc, "code", "") or type(exc).__name__
    token_call = exc.api_code == "token"
    if isinstance(exc, RequestNotSent):
        return "reach", Step(
            "",
            False,
            code,
            f"could not reach Whalet at {transport.base_url}: check WHALET_BASE_URL, "
            "DNS, proxies and firewall rules for outgoing HTTPS",
        )
    if isinstance(exc, OutcomeUnknown) and exc.lost_in_transit:
        return "reach", Step(
            "",
            False,
            str(exc)[:120],
            f"Whalet at {transport.base_url} did not answer in time or "
            "answered 5xx: check WHALET_BASE_URL and try again",
        )
    if isinstance(exc, OutcomeUnknown):
        signature = exc.signature_failed or isinstance(exc.__cause__, SignatureInvalid)
        return "answer", Step(
            "", False, "signature does not verify" if signature else str(exc)[:160], _answer_fix(transport)
        )
    if isinstance(exc, AuthenticationFailed) and exc.code == "PARTNER_NOT_EXIST":
        return "partner", Step(
            "", False, code, f"Whalet does not know partner id {settings.whalet_partner_id}: check WHALET_PARTNER_ID"
        )
    if isinstance(exc, AuthenticationFailed) and exc.code == "UNAUTHENTICATED_ERROR":
        return "sign", Step("", False, code, _sign_fix(transport))
    if token_call and isinstance(exc, AuthenticationFailed):
        return "token", Step(
            "", False, code, "Whalet refused our client credentials: check WHALET_CLIENT_ID and WHALET_SECRET_KEY"
        )
    if token_call:
        return "token", Step(
            "",
            False,
            f"{code}: {getattr(exc, 'detail', '')}"[:160],
            "the token call failed: check [whalet.v1] token_path and timestamp_unit, " + PROBE_HINT,
        )
    if isinstance(exc, AuthenticationFailed):
        return "echo", Step(
            "",
            False,
            code,
            f"Whalet refused this partner ({code}): ask Whalet to open the API "
            "for this partner id, or correct [whalet.api_codes] / [whalet.v1] paths",
        )
    if isinstance(exc, BadParameters) and transport.profile == "legacy":
        return "sign", Step(
            "",
            False,
            f"{code}: {exc.detail}"[:160],
            "Whalet accepted the signature but could not read the request: check [whalet.legacy] "
            f"key_padding and session_key, {PROBE_HINT}",
        )
    if isinstance(exc, BadParameters):
        return "sign", Step(
            "",
            False,
            f"{code}: {exc.detail}"[:160],
            f"Whalet could not read the request: check [whalet.v1] timestamp_unit, {PROBE_HINT}",
        )
    detail = exc.detail if isinstance(exc, WhaletRejected) else str(exc)
    return "echo", Step("", False, f"{code}: {detail}"[:160], "contact Whalet support with this code")


def money_switch(config: BotConfig, transport: Transport) -> str:
    """The live-money switch, in one line for ``check`` (never a failure by itself)."""
    if not money_needs_switch(transport.base_url):
        return f"not needed: {transport.base_url} is a test gateway (no real money moves)"
    if config.whalet.money_enabled:
        return f"ON for {transport.base_url}: payouts, pays and beneficiary changes are sent"
    return (
        f"OFF for {transport.base_url}: payouts, pays and beneficiary changes are refused; "
        "set money_enabled = true under [whalet] once every Whalet step above passes"
    )


async def webhook_answer(url: str, transport: Transport) -> Step:
    """POST an unsigned notification to our public webhook URL: whalet-bot must refuse it (401)."""
    item = f"webhook URL answers ({url})"
    if transport.profile == "v1":
        content, headers = (
            b"{}",
            {
                "Content-Type": "application/json",
                "partnerId": transport.partner_id,
                "requestNo": "CHECKWEBHOOK",
                "timestamp": "0",
                "notifyType": "connectivityNotify",
                "sign": "0" * 64,
            },
        )
    else:
        content = (
            b'{"head":{"partnerId":"%s","apiCode":"connectivityNotify","requestNo":"CHECKWEBHOOK",'
            b'"version":"1.0","sign":"AAAA"},"body":{}}' % transport.partner_id.encode()
        )
        headers = {"Content-Type": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        return Step(
            item,
            False,
            type(exc).__name__,
            "the URL is not reachable from here: check the address you gave "
            "Whalet, DNS, TLS and the reverse proxy in front of whalet-bot",
        )
    if response.status_code == 401:
        return Step(item, True, "reachable, and it refuses an unsigned notification (HTTP 401)")
    if response.status_code == 200:
        return Step(
            item,
            False,
            "HTTP 200 to an unsigned notification",
            "this URL accepted a notification nobody signed: it is not whalet-bot's /whalet/webhook",
        )
    return Step(
        item,
        False,
        f"HTTP {response.status_code}",
        "expected whalet-bot's 401 for an unsigned notification: check that the URL ends in /whalet/webhook "
        "and reaches this bot",
    )
