"""Injected failures, so tests and the demo can show what the bot does when Whalet misbehaves.

Kinds (README.md has the full table):
- ``latency``: sleep ``seconds`` then answer normally.
- ``timeout_before_apply``: sleep ``seconds`` and answer HTTP 504 with nothing done.
- ``timeout_after_apply``: commit the operation, sleep ``seconds``, then answer.
- ``http_500`` / ``http_500_after_apply``: HTTP 500, before or after committing.
- ``too_many_requests``: a signed TOO_MANY_REQUESTS answer, nothing done.
- ``bad_signature``: commit, then answer with a corrupted ``sign``.
- ``refuse``: answer with Whalet's result ``code`` (e.g. ``IDEMPOTENT_ERROR``), nothing done.
- ``refuse_after_apply``: commit, then answer with ``code`` (a duplicate-looking answer to a
  confirm Whalet did take, say).
- ``rewrite_answer``: commit, then answer with ``fields`` laid over the business answer (over each
  of its ``records`` when it is a page): a status the bot does not know, an apply answer that does
  not match the request. Whalet misbehaving in ways its rules allow or not, on purpose.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

KINDS = (
    "latency",
    "timeout_before_apply",
    "timeout_after_apply",
    "http_500",
    "http_500_after_apply",
    "too_many_requests",
    "bad_signature",
    "refuse",
    "refuse_after_apply",
    "rewrite_answer",
)
AFTER_APPLY = ("timeout_after_apply", "http_500_after_apply", "bad_signature", "refuse_after_apply", "rewrite_answer")
NEEDS_CODE = ("refuse", "refuse_after_apply")


@dataclass
class FaultRule:
    api_code: str  # an apiCode or "*"
    kind: str
    seconds: float = 5.0
    times: int | None = 1  # None: until cleared
    rate: float = 1.0  # probability (not money, so a float is fine)
    code: str | None = None  # refuse / refuse_after_apply: the result code to answer
    fields: dict[str, Any] | None = None  # rewrite_answer: laid over the business answer

    @classmethod
    def parse(cls, raw: Any) -> FaultRule:
        if not isinstance(raw, dict):
            raise ValueError("each rule must be an object")
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        api_code = raw.get("apiCode", "*")
        if not isinstance(api_code, str) or not api_code:
            raise ValueError("apiCode must be an apiCode or '*'")
        times = raw.get("times", 1)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer or null")
        seconds, rate = float(raw.get("seconds", 5)), float(raw.get("rate", 1))
        if seconds < 0 or not 0 <= rate <= 1:
            raise ValueError("seconds must be >= 0 and rate within 0..1")
        code, fields = raw.get("code"), raw.get("fields")
        if kind in NEEDS_CODE and (not isinstance(code, str) or not code.isupper() or code == "SUCCESS"):
            raise ValueError(f'{kind} needs a result code other than SUCCESS, e.g. "code": "IDEMPOTENT_ERROR"')
        if kind == "rewrite_answer" and (not isinstance(fields, dict) or not fields):
            raise ValueError('rewrite_answer needs "fields", e.g. {"status": "ON_HOLD"}')
        return cls(
            api_code,
            kind,
            seconds,
            times,
            rate,
            code if kind in NEEDS_CODE else None,
            fields if kind == "rewrite_answer" else None,
        )

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["apiCode"] = data.pop("api_code")
        return data


class Faults:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.rules: list[FaultRule] = []
        self.fired: list[dict[str, Any]] = []

    def replace(self, raw_rules: Any) -> list[FaultRule]:
        if not isinstance(raw_rules, list):
            raise ValueError("rules must be a list")
        self.rules = [FaultRule.parse(raw) for raw in raw_rules]
        return self.rules

    def clear(self) -> None:
        self.rules = []

    def pick(self, api_code: str, request_no: str) -> FaultRule | None:
        """The first matching rule that fires; it uses up one of its ``times``."""
        for rule in self.rules:
            if rule.api_code not in ("*", api_code) or rule.times == 0:
                continue
            if rule.rate < 1 and self._rng.random() >= rule.rate:
                continue
            if rule.times is not None:
                rule.times -= 1
            self.fired.append({"apiCode": api_code, "requestNo": request_no, "kind": rule.kind})
            return rule
        return None
