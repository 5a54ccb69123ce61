"""Sentences for people: never a traceback, never a full account number."""

from __future__ import annotations

from whalet.errors import BadParameters, OutcomeUnknown, RateLimited, explain, rejection_for


def test_rejections_become_plain_sentences() -> None:
    assert isinstance(rejection_for("TOO_MANY_REQUESTS", ""), RateLimited)
    assert explain(rejection_for("TOO_MANY_REQUESTS", "")) == "Whalet is rate-limiting us, try again in a minute."
    assert isinstance(rejection_for("INTERNAL_ERROR", "boom"), OutcomeUnknown)
    assert "bot's log" in explain(KeyError("x"))


def test_an_account_number_in_whalet_detail_is_masked_in_the_sentence() -> None:
    refusal = rejection_for("PARAMETER_ERROR", "accountNo 6222021234567890 does not match the bank")
    assert isinstance(refusal, BadParameters)
    sentence = explain(refusal)
    assert "6222021234567890" not in sentence and "••••7890" in sentence
