"""``whalet-bot check --probe``: find the recipe this gateway accepts, by trying the alternatives.

Only the read-only ``connectivity`` call (and, for v1, the token) is sent; at most ``MAX_CALLS``
calls, one per ``interval`` seconds; and only to a test gateway (loopback or Whalet's test host)
unless the deployer passes ``--allow-production``.

Legacy: Whalet signs every answer, refusals included, so the first answer tells its signature
hash, encoding and response field order without another call: the probe tries each combination
on that answer offline until the signature holds. Then only the request side is left (field order
of the request string, keyEnc padding, session key form): combinations are sent in order of how
few settings they change, until Whalet answers SUCCESS with a verified, echoed body.

v1: answers are unsigned, so the search goes stage by stage on the result codes: first the
timestamp unit (a refused timestamp is PARAMETER_ERROR), then the request signature (header,
template, hash, encoding, or none), fewest changes first. The code of an answer only steers the
search; a recipe is reported only after a complete round trip.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from whalet.client import WhaletClient, new_request_no
from whalet.envelope import EnvelopeError, dumps_compact, loads_exact
from whalet.errors import OutcomeUnknown, RequestNotSent, WhaletError
from whalet.operations import resolve_api_codes
from whalet.recipes import (
    REQUEST_SIGN_FIELDS,
    RESPONSE_SIGN_FIELDS,
    LegacyRecipe,
    V1Recipe,
)
from whalet.transport import LegacyTransport, Transport, V1Transport

MAX_CALLS = 32
ECHO = "whalet-bot probe"

Dims = tuple[tuple[str, tuple[Any, ...]], ...]
LEGACY_ANSWER: Dims = (
    ("sign_hash", ("SHA256", "SHA1")),
    ("sign_encoding", ("base64", "hex")),
    ("response_sign_fields", (RESPONSE_SIGN_FIELDS, tuple(sorted(RESPONSE_SIGN_FIELDS)))),
)
LEGACY_REQUEST: Dims = (
    ("request_sign_fields", (REQUEST_SIGN_FIELDS, tuple(sorted(REQUEST_SIGN_FIELDS)))),
    ("key_padding", ("PKCS1v15", "OAEP-SHA1")),
    ("session_key", ("bytes", "ascii")),
)
V1_STAGES: tuple[Dims, ...] = (
    (("timestamp_unit", ("ms", "s")),),
    (
        ("sign_encoding", ("hex", "base64")),
        ("sign_hash", ("SHA256", "SHA512", "SHA1")),
        (
            "sign_template",
            ("{partnerId}{requestNo}{timestamp}{body}", "{body}", "{partnerId}{timestamp}{requestNo}{body}"),
        ),
        ("sign_header", ("sign", "signature")),
        ("request_signature", (True, False)),
    ),
)


class ProbeStopped(Exception):
    """The probe cannot help (unreachable, unknown partner, refused credentials, budget spent)."""


@dataclass
class Observation:
    stage: int  # how many search stages this recipe passes (v1); legacy: 1 = a verified, echoed SUCCESS
    code: str


@dataclass
class Probe:
    transport: Transport
    api_codes: Mapping[str, str] | None = None
    interval: float = 1.0
    calls: int = 0
    tried: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    _seen: dict[str, Observation] = field(default_factory=dict)
    _last_answer: bytes | None = None

    async def run(self) -> dict[str, Any] | None:
        """The settings (name -> value) that differ from the configured recipe and make the round trip work."""
        if isinstance(self.transport, LegacyTransport):
            return await self._run_legacy()
        current: dict[str, Any] = {}
        configured = self._recipe_values()
        for index, dims in enumerate(V1_STAGES):
            for candidate in _nearest_first(current, dims, configured):
                if (await self._observe(candidate)).stage > index:
                    current = candidate
                    break
            else:
                return None
        return current

    async def _run_legacy(self) -> dict[str, Any] | None:
        configured = self._recipe_values()
        first = await self._observe({})
        if first.code == "SUCCESS":
            return {}
        current = self._fit_answer(configured)
        if current is None:
            raise ProbeStopped("Whalet's answer verifies under no recipe: check WHALET_PUBLIC_KEY first")
        for candidate in _nearest_first(current, LEGACY_REQUEST, configured):
            if (await self._observe(candidate)).code == "SUCCESS":
                return candidate
        return None

    def _fit_answer(self, configured: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer-side settings under which the last answer's signature holds (no call sent)."""
        assert isinstance(self.transport, LegacyTransport) and self._last_answer is not None
        for candidate in _nearest_first({}, LEGACY_ANSWER, configured):
            codec = self.transport.codec.with_recipe(LegacyRecipe(**{**configured, **candidate}))
            if codec.response_signature_holds(self._last_answer):
                return candidate
        return None

    def _recipe_values(self) -> dict[str, Any]:
        if isinstance(self.transport, LegacyTransport):
            return self.transport.codec.recipe.model_dump()
        assert isinstance(self.transport, V1Transport)
        return self.transport.recipe.model_dump()

    def _with(self, changes: dict[str, Any]) -> Transport:
        recipe = {**self._recipe_values(), **changes}
        if isinstance(self.transport, LegacyTransport):
            return self.transport.with_codec(self.transport.codec.with_recipe(LegacyRecipe(**recipe)))
        assert isinstance(self.transport, V1Transport)
        return self.transport.with_recipe(V1Recipe(**recipe))

    async def _observe(self, changes: dict[str, Any]) -> Observation:
        key = repr(sorted(changes.items()))
        if key in self._seen:  # each recipe is tried once
            return self._seen[key]
        if self.calls >= MAX_CALLS:
            raise ProbeStopped(f"gave up after {MAX_CALLS} calls")
        if self.calls:
            await asyncio.sleep(self.interval)
        transport = self._with(changes)
        if isinstance(transport, LegacyTransport):
            seen = await self._legacy_round_trip(transport)
        else:
            assert isinstance(transport, V1Transport)
            seen = await self._v1_round_trip(transport)
        self.tried.append((changes, seen.code))
        self._seen[key] = seen
        return seen

    async def _legacy_round_trip(self, transport: LegacyTransport) -> Observation:
        """Raw, so the answer's code steers the search even when its signature does not verify."""
        api_code = resolve_api_codes(self.api_codes)["connectivity"]
        message = transport.codec.encode_request(transport.partner_id, api_code, new_request_no(), {"message": ECHO})
        self.calls += 1
        try:
            async with httpx.AsyncClient(timeout=15) as http:
                response = await http.post(
                    transport.base_url,
                    content=dumps_compact(message).encode(),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
        except httpx.HTTPError as exc:
            raise ProbeStopped(f"Whalet is not reachable ({type(exc).__name__}): fix WHALET_BASE_URL first") from exc
        self._last_answer = response.content
        try:
            head = loads_exact(response.content)["head"]
            code = str(head["code"])
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            raise ProbeStopped(
                f"Whalet's answer (HTTP {response.status_code}) is not an envelope: check WHALET_BASE_URL"
            ) from None
        if code == "PARTNER_NOT_EXIST":
            raise ProbeStopped("Whalet does not know the partner id: fix WHALET_PARTNER_ID first")
        if code != "SUCCESS":
            return Observation(0, code)
        try:
            opened = transport.codec.decode_response(response.content)
        except EnvelopeError:
            return Observation(0, "answer does not verify")
        echoed = opened.body.get("message") if isinstance(opened.body, dict) else None
        return Observation(1, "SUCCESS") if echoed == ECHO else Observation(0, "wrong echo")

    async def _v1_round_trip(self, transport: V1Transport) -> Observation:
        async with WhaletClient(
            transport.base_url,
            transport.partner_id,
            transport,
            api_codes=self.api_codes,
            read_retries=0,
            timeout=15,
            max_connections=2,
        ) as whalet:
            try:
                self.calls += 1
                await whalet.prepare()
                self.calls += 1
                echoed = await whalet.connectivity(ECHO)
            except WhaletError as exc:
                return _classify_v1(exc)
        return Observation(2, "SUCCESS") if echoed == ECHO else Observation(1, "wrong echo")


def _classify_v1(exc: WhaletError) -> Observation:
    """How far a failed v1 round trip got (v1 answers are unsigned, so their code is all we have)."""
    code = getattr(exc, "code", "") or type(exc).__name__
    if isinstance(exc, RequestNotSent) or (isinstance(exc, OutcomeUnknown) and exc.lost_in_transit):
        raise ProbeStopped(f"Whalet is not reachable ({code}): fix WHALET_BASE_URL first")
    if code == "PARTNER_NOT_EXIST":
        raise ProbeStopped("Whalet does not know the partner id: fix WHALET_PARTNER_ID first")
    if exc.api_code == "token" and code == "UNAUTHORIZED":
        raise ProbeStopped("Whalet refused the client credentials: fix WHALET_CLIENT_ID / WHALET_SECRET_KEY first")
    return Observation(0 if code == "PARAMETER_ERROR" else 1, code)


def _nearest_first(
    base: dict[str, Any], dims: tuple[tuple[str, tuple[Any, ...]], ...], configured: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Every combination of ``dims`` on top of ``base``, fewest changes from the configured recipe first."""
    start = {name: base.get(name, configured.get(name)) for name, _ in dims}
    options = [[start[name], *[v for v in values if v != start[name]]] for name, values in dims]
    combos = sorted(
        itertools.product(*options), key=lambda combo: sum(v != start[n] for v, (n, _) in zip(combo, dims, strict=True))
    )
    for combo in combos:
        changes = dict(base)
        for (name, _), value in zip(dims, combo, strict=True):
            if value != configured.get(name):
                changes[name] = value
            else:
                changes.pop(name, None)
        yield changes


def toml_lines(profile: str, changes: Mapping[str, Any]) -> list[str]:
    """The policy-file lines that select ``changes``."""
    lines = [f"[whalet.{profile}]"]
    for name, value in changes.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (tuple, list)):
            text = "[" + ", ".join(f'"{item}"' for item in value) + "]"
        else:
            text = f'"{value}"'
        lines.append(f"{name} = {text}")
    return lines
