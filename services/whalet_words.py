"""Whalet's errors as sentences in the reader's language: ``explain(exc, t)``.

``whalet/errors.py`` is the bottom layer (it must not import ``core``), so each error carries its
English ``.sentence`` and ``whalet.errors.explain`` gives that. Here every sentence of the error
tree is one catalog message with its details as named values, made the same way as the English
(``_clause`` trims Whalet's detail, ``mask_digit_runs`` hides account numbers in it), so the
English of ``explain(exc, translator("en"))`` is byte-identical to ``whalet.errors.explain(exc)``.

An error whose ``.sentence`` is not one of the tree's (a caller that set its own) is shown as
its English sentence rather than a wrong translation. ``sentence_of(exc)`` gives the ``Later``
(account numbers already masked), for a sentence written before its reader is known (a DM built
inside a transaction) or as a value inside another catalog sentence.
"""

from __future__ import annotations

from core.i18n import Later, Translator, later
from whalet.errors import (
    AuthenticationFailed,
    BadParameters,
    DuplicateRequest,
    MoneySwitchedOff,
    OutcomeUnknown,
    RateLimited,
    RequestNotSent,
    WhaletError,
    WhaletRejected,
)
from whalet.masking import mask_digit_runs

__all__ = ["explain", "sentence_of"]


def _clause(text: str) -> Later | str:
    """Whalet's detail as a clause (as ``whalet.errors._clause``), account numbers masked (it may
    quote one, and a ``Later`` carrying it may be shown anywhere); none given: a catalog phrase."""
    clause = mask_digit_runs(text.strip().rstrip(".。"))
    return clause or later("no reason given")


def _tree(exc: WhaletError) -> Later:
    """The sentence ``whalet/errors.py`` gives this error, as a catalog message."""
    if isinstance(exc, MoneySwitchedOff):
        return later(
            "Moving money is switched off for this Whalet gateway, so nothing was sent. An "
            "administrator turns it on with money_enabled = true under [whalet] in the policy "
            "file, once `whalet-bot check` passes against it."
        )
    if isinstance(exc, RequestNotSent):
        if exc.transient:
            return later("We could not reach Whalet, so nothing was sent. It is safe to try again.")
        return later(
            "We could not prepare the request for Whalet (%(reason)s), so nothing was sent.",
            reason=_clause(str(exc.args[0]) if exc.args else ""),
        )
    if isinstance(exc, RateLimited):
        return later("Whalet is rate-limiting us, try again in a minute.")
    if isinstance(exc, BadParameters):
        reason: Later | str = _clause(exc.detail) if exc.detail else later("a parameter is invalid")
        return later("Whalet refused the request: %(reason)s.", reason=reason)
    if isinstance(exc, AuthenticationFailed):
        return later(
            "Whalet did not accept our credentials for this request (%(code)s); an administrator needs to "
            "check the partner id and keys.",
            code=exc.code,
        )
    if isinstance(exc, DuplicateRequest):
        return later(
            "Whalet already has a request with this order number, so it was not sent again. "
            "Check the order's status before trying anything else."
        )
    if isinstance(exc, WhaletRejected):
        return later("Whalet declined the request: %(reason)s.", reason=_clause(exc.detail or exc.code))
    if isinstance(exc, OutcomeUnknown):
        return later(
            "We sent this to Whalet but did not get a trustworthy answer, so we don't know yet "
            "whether it went through. We'll check before doing anything else."
        )
    return later("Something went wrong while talking to Whalet.")


def sentence_of(exc: BaseException) -> Later | str:
    """The sentence for a person, kept for their language: a ``Later`` for the error tree's own
    sentences, the English text for one a caller wrote itself."""
    if not isinstance(exc, WhaletError):
        return later("Something unexpected went wrong on our side; the details are in the bot's log.")
    message = _tree(exc)
    return message if str(message) == mask_digit_runs(exc.sentence) else mask_digit_runs(exc.sentence)


def explain(exc: BaseException, t: Translator) -> str:
    """``whalet.errors.explain`` in the reader's language; account numbers masked either way."""
    return mask_digit_runs(t.text(sentence_of(exc)))
