"""What can go wrong when we talk to Whalet, sorted by what the caller may safely do next.

The tree::

    WhaletError
    ├── RequestNotSent        nothing reached Whalet            -> safe to send again
    ├── WhaletRejected        Whalet answered "no", and signed   -> nothing happened; fix or wait
    │   ├── RateLimited            TOO_MANY_REQUESTS
    │   ├── BadParameters          PARAMETER_ERROR
    │   ├── AuthenticationFailed   UNAUTHENTICATED_ERROR, UNAUTHORIZED, PARTNER_NOT_EXIST,
    │   │                          INTERFACE_UNAUTHORIZED
    │   └── DuplicateRequest       IDEMPOTENT_ERROR, REQUEST_NO_NOT_UNIQUE
    └── OutcomeUnknown        sent, but no trustworthy answer   -> look the order up first

Why three branches and not one per HTTP symptom: for money software the only question that
matters after a failure is "may I press the button again?". Each branch answers it once:

* ``RequestNotSent``: the bytes never left (refused connection, DNS, connect timeout) or we could
  not even build the message. Whalet cannot have acted, so sending again cannot pay twice.
* ``WhaletRejected``: Whalet read the request and answered, with a valid signature, that it will
  not do it. Nothing moved. Sending the same thing again gives the same answer, except for
  ``RateLimited``, which is worth a later retry.
* ``OutcomeUnknown``: the request may have been applied (read timeout, connection cut after
  sending, HTTP 5xx, ``INTERNAL_ERROR``, an answer we cannot verify or read). A payout may or may
  not exist. The caller must look the order up by ``merOrderNo`` before doing anything else;
  re-sending blindly is how money gets paid twice.

Every error carries ``.sentence``: one plain sentence for a finance person, shown in Slack
instead of a traceback. ``explain(exc)`` gives that sentence for any exception.
"""

from __future__ import annotations

from whalet.masking import mask_digit_runs

__all__ = [
    "AuthenticationFailed",
    "BadParameters",
    "DuplicateRequest",
    "MoneySwitchedOff",
    "OutcomeUnknown",
    "RateLimited",
    "RequestNotSent",
    "WhaletError",
    "WhaletRejected",
    "explain",
    "rejection_for",
]


class WhaletError(Exception):
    """Base of every Whalet failure; ``.sentence`` is what we tell a person."""

    sentence: str = "Something went wrong while talking to Whalet."

    def __init__(self, message: str, *, api_code: str | None = None, request_no: str | None = None):
        super().__init__(message)
        self.api_code = api_code
        self.request_no = request_no


class RequestNotSent(WhaletError):
    """The request never reached Whalet, so Whalet cannot have acted on it.

    ``transient`` is False when we failed to build the message ourselves (a key that does not
    load, an amount that cannot be encoded): sending again will fail the same way, so automatic
    retries skip it.
    """

    def __init__(
        self, message: str, *, transient: bool = True, api_code: str | None = None, request_no: str | None = None
    ):
        super().__init__(message, api_code=api_code, request_no=request_no)
        self.transient = transient
        if transient:
            self.sentence = "We could not reach Whalet, so nothing was sent. It is safe to try again."
        else:
            self.sentence = f"We could not prepare the request for Whalet ({_clause(message)}), so nothing was sent."


class MoneySwitchedOff(RequestNotSent):
    """A money-moving call to a gateway that may be production while ``money_enabled`` is off."""

    def __init__(self, gateway: str, *, api_code: str | None = None):
        super().__init__(f"{api_code}: money is switched off for {gateway}", transient=False, api_code=api_code)
        self.sentence = (
            "Moving money is switched off for this Whalet gateway, so nothing was sent. An "
            "administrator turns it on with money_enabled = true under [whalet] in the policy "
            "file, once `whalet-bot check` passes against it."
        )


class WhaletRejected(WhaletError):
    """Whalet answered, with a valid signature, a result code other than SUCCESS/PROCESSING."""

    def __init__(self, code: str, detail: str, api_code: str | None = None, request_no: str | None = None):
        super().__init__(f"{code}: {detail}" if detail else code, api_code=api_code, request_no=request_no)
        self.code = code
        self.detail = detail
        self.sentence = self._sentence()

    def _sentence(self) -> str:
        return f"Whalet declined the request: {_clause(self.detail or self.code)}."


class RateLimited(WhaletRejected):
    """TOO_MANY_REQUESTS: nothing happened; the same request is worth sending again later."""

    def _sentence(self) -> str:
        return "Whalet is rate-limiting us, try again in a minute."


class BadParameters(WhaletRejected):
    """PARAMETER_ERROR: something in the request is wrong; sending it again will not help."""

    def _sentence(self) -> str:
        return f"Whalet refused the request: {_clause(self.detail or 'a parameter is invalid')}."


class AuthenticationFailed(WhaletRejected):
    """Whalet does not accept who we are or what we may call: configuration, not the user."""

    def _sentence(self) -> str:
        return (
            "Whalet did not accept our credentials for this request "
            f"({self.code}); an administrator needs to check the partner id and keys."
        )


class DuplicateRequest(WhaletRejected):
    """IDEMPOTENT_ERROR / REQUEST_NO_NOT_UNIQUE: Whalet already has this order or request number.

    The earlier request may well have gone through, so the caller looks the order up instead of
    inventing a new order number and sending again.
    """

    def _sentence(self) -> str:
        return (
            "Whalet already has a request with this order number, so it was not sent again. "
            "Check the order's status before trying anything else."
        )


class OutcomeUnknown(WhaletError):
    """Sent, but no trustworthy answer: the request may or may not have been applied."""

    sentence = (
        "We sent this to Whalet but did not get a trustworthy answer, so we don't know yet "
        "whether it went through. We'll check before doing anything else."
    )

    def __init__(
        self,
        message: str,
        *,
        lost_in_transit: bool = False,
        signature_failed: bool = False,
        api_code: str | None = None,
        request_no: str | None = None,
    ):
        super().__init__(message, api_code=api_code, request_no=request_no)
        self.signature_failed = signature_failed  # forged, corrupted, or a Whalet key we do not have
        # True for a timeout, a cut connection or a 5xx: nothing is wrong with the answer itself,
        # so a read-only query may simply ask again. False for an answer that failed its
        # signature or made no sense: that is a security signal, never retried quietly.
        self.lost_in_transit = lost_in_transit


_REJECTIONS: dict[str, type[WhaletRejected]] = {
    "TOO_MANY_REQUESTS": RateLimited,
    "PARAMETER_ERROR": BadParameters,
    "UNAUTHENTICATED_ERROR": AuthenticationFailed,
    "UNAUTHORIZED": AuthenticationFailed,
    "PARTNER_NOT_EXIST": AuthenticationFailed,
    "INTERFACE_UNAUTHORIZED": AuthenticationFailed,
    "IDEMPOTENT_ERROR": DuplicateRequest,
    "REQUEST_NO_NOT_UNIQUE": DuplicateRequest,
}

# Result codes that mean "Whalet itself does not know what happened": never a clean "no".
UNKNOWN_OUTCOME_CODES = frozenset({"INTERNAL_ERROR"})


def rejection_for(code: str, detail: str, api_code: str | None = None, request_no: str | None = None) -> WhaletError:
    """The error for a signed answer whose code is not SUCCESS/PROCESSING."""
    if code in UNKNOWN_OUTCOME_CODES:
        return OutcomeUnknown(f"Whalet answered {code}: {detail}", api_code=api_code, request_no=request_no)
    return _REJECTIONS.get(code, WhaletRejected)(code, detail, api_code, request_no)


def explain(exc: BaseException) -> str:
    """A sentence for a person, for any exception; the details belong in the log, not in Slack."""
    if isinstance(exc, WhaletError):
        return mask_digit_runs(exc.sentence)  # Whalet's detail may quote an account number
    return "Something unexpected went wrong on our side; the details are in the bot's log."


def _clause(text: str) -> str:
    """Text that can sit inside a sentence: trimmed, without its own final full stop."""
    return text.strip().rstrip(".。") or "no reason given"
