"""The one line that says where a request stands: the card's footer, the App Home's "Your requests".

Split from ``cards`` so each stays small; in the reader's language (``locale``: the channel's for
the card, the person's for a DM copy or the Home), every state one catalog sentence with named
placeholders, never pieces glued together, since Chinese puts the names elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.i18n import N_, translator
from services.approvals.states import State
from services.slack.blocks import esc
from whalet.masking import mask_digit_runs

if TYPE_CHECKING:
    from services.approvals.request import ApprovalRequest

# A state as the card's fallback text names it: "Pay out 10.00 USD to …? (confirm unknown)".
STATE_NAMES = {
    State.APPLYING: N_("applying"),
    State.ABANDONED: N_("abandoned"),
    State.PENDING: N_("pending"),
    State.APPROVED: N_("approved"),
    State.CONFIRMING: N_("confirming"),
    State.CONFIRMED: N_("confirmed"),
    State.CONFIRM_UNKNOWN: N_("confirm unknown"),
    State.SUCCEEDED: N_("succeeded"),
    State.FAILED: N_("failed"),
    State.REJECTED: N_("rejected"),
    State.EXPIRED: N_("expired"),
}


def slack_time(moment: datetime, fmt: str = "{time}") -> str:
    """A Slack date token: shown in the reader's own zone; the fallback is UTC."""
    return f"<!date^{int(moment.timestamp())}^{fmt}|{moment.astimezone(UTC).strftime('%H:%M UTC')}>"


def state_name(state: State, locale: str | None = None) -> str:
    return translator(locale).gettext(STATE_NAMES[state]) if state in STATE_NAMES else state.value.lower()


def who(users: Sequence[str], locale: str | None = None) -> str:
    _ = translator(locale).gettext
    tags = [f"<@{u}>" for u in users]
    if not tags:
        return _("nobody recorded")
    if len(tags) == 1:
        return tags[0]
    return _("%(some)s and %(last)s", some=", ".join(tags[:-1]), last=tags[-1])


def status_line(r: ApprovalRequest, names: Sequence[str], locale: str | None = None) -> str:
    """Where the request stands, in one line."""
    if r.attention:
        return translator(locale).gettext(
            ":rotating_light: *Needs attention:* %(why)s %(state)s",
            why=esc(r.attention),
            state=_state_line(r, names, locale),
        )
    return _state_line(r, names, locale)


def _state_line(r: ApprovalRequest, names: Sequence[str], locale: str | None) -> str:
    _ = translator(locale).gettext
    state, by, decider = r.state, who(names, locale), f"<@{r.decided_by}>"
    at = slack_time(r.decided_at) if r.decided_at else ""
    note = f" {esc(r.note)}" if r.note else ""
    if state is State.PENDING:
        if names:
            return _(
                ":hourglass_flowing_sand: Waiting for approval — %(given)s of %(needed)s so far: %(who)s.%(note)s",
                given=len(names),
                needed=r.required_approvals,
                who=by,
                note=note,
            )
        return _(
            ":hourglass_flowing_sand: Waiting for approval — %(given)s of %(needed)s.%(note)s",
            given=0,
            needed=r.required_approvals,
            note=note,
        )
    if state is State.APPROVED:
        return _(":hourglass: Approved by %(who)s — not sent to Whalet yet.%(note)s", who=by, note=note)
    if state is State.CONFIRMING:
        return _(":arrows_counterclockwise: Approved by %(who)s — sending to Whalet…", who=by)
    if state is State.CONFIRMED:
        return _(
            ":white_check_mark: Approved by %(who)s at %(at)s — sent to Whalet, waiting for the result.%(note)s",
            who=by,
            at=at,
            note=note,
        )
    if state is State.SUCCEEDED and r.is_batch:
        return _(":white_check_mark: Approved by %(who)s — every line settled.%(note)s", who=by, note=note)
    if state is State.SUCCEEDED:
        return _(
            ":white_check_mark: Approved by %(who)s — Whalet reports it done (%(status)s).%(note)s",
            who=by,
            status=esc(r.result_status),
            note=note,
        )
    if state is State.FAILED:
        # Whalet's words may name an account
        reason = esc(mask_digit_runs(r.fail_reason)) if r.fail_reason else _("no reason given")
        if names:
            return _(":x: Failed — %(reason)s (approved by %(who)s).", reason=reason, who=by)
        return _(":x: Failed — %(reason)s.", reason=reason)
    if state is State.CONFIRM_UNKNOWN:
        return _(
            ":grey_question: Approved and sent to Whalet, but the outcome is unknown. We check with Whalet "
            "(by order number) before anything else; nothing is sent twice.%(note)s",
            note=note,
        )
    if state is State.REJECTED:
        if r.reason:
            return _(
                ":no_entry_sign: Rejected by %(who)s at %(at)s: %(reason)s",
                who=decider,
                at=at,
                reason=esc(r.reason),
            )
        return _(":no_entry_sign: Rejected by %(who)s at %(at)s", who=decider, at=at)
    if state is State.EXPIRED and r.is_batch and r.confirm_attempts:
        return _(":alarm_clock: Expired before it was approved again; the lines already sent stand.%(note)s", note=note)
    if state is State.EXPIRED:
        return _(":alarm_clock: Expired — not sent.%(note)s", note=note)
    return f"{state.value}.{note}"
