"""The requester kept informed: one message each time their request reaches an outcome.

Approved and sent, paid, failed, rejected (by someone else), expired: each is a state the
request reaches exactly once by a compare-and-set (``repo.transition``), and the message is
queued in that same transaction, so a crash neither loses it nor sends it twice, whichever
replica or path (a click, a sweep, Whalet's notification, a lookup) made the move.
``[approvals] tell_requester``: ``"dm"`` (default) a DM linking to the card; ``"thread"`` a reply
in the card's thread mentioning them; ``"none"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlite_utils import Database

from core.i18n import N_, translator
from core.storage import outbox as outbox_rows
from services.approvals.cards import headline
from services.approvals.kinds import KINDS
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.slack.blocks import esc
from services.slack.queue import enqueue_post
from whalet.masking import mask_digit_runs

if TYPE_CHECKING:
    from services.container import Services

CARD_REF = "approval"  # the card's outbox ref kind (repo.REF_KIND)
WORKSPACE_FLAG = "slack_workspace_url"  # https://team.slack.com/, from auth.test at start
OUTCOMES = (State.CONFIRMED, State.SUCCEEDED, State.FAILED, State.REJECTED, State.EXPIRED)


# "Your payout request `PO-…` (Pay out …?)": one sentence per kind, so each language words it whole.
WHAT = {
    "payout": N_("Your payout request `%(id)s` (%(headline)s)"),
    "payment": N_("Your payment request `%(id)s` (%(headline)s)"),
}


def _what(r: ApprovalRequest, locale: str | None) -> str:
    t = translator(locale)
    noun = KINDS[r.kind].noun
    template = WHAT.get(noun, "Your " + noun + " request `%(id)s` (%(headline)s)")
    return t.gettext(template, id=r.id, headline=headline(r, locale=locale))


def sentence(r: ApprovalRequest, locale: str | None) -> str | None:
    """The outcome in the reader's language; None for a state that is not an outcome."""
    _ = translator(locale).gettext
    what, state, decider = _what(r, locale), r.state, f"<@{r.decided_by}>"
    if r.is_batch and state is State.CONFIRMED:
        return _(":outbox_tray: %(what)s was approved; every line went to Whalet.", what=what)
    if r.is_batch and state is State.SUCCEEDED:
        return _(":white_check_mark: %(what)s is settled: %(note)s", what=what, note=esc(r.note or ""))
    if state is State.CONFIRMED:
        return _(":outbox_tray: %(what)s was approved and sent to Whalet.", what=what)
    if state is State.SUCCEEDED:
        return _(":white_check_mark: %(what)s is paid: Whalet reports it done.", what=what)
    again = _(" The card offers *Request again*.")
    if r.is_batch and r.confirm_attempts and state in (State.REJECTED, State.EXPIRED):
        # Some lines went to Whalet before it was sent back for approval (a quote moved, a role
        # changed), then it ended: the lines sent stand; no other line will be sent.
        rest = _(" Lines already sent stay as Whalet reports them (the card's thread); no other line will be sent.")
        if state is State.REJECTED:
            ended = _(":no_entry_sign: %(what)s was rejected by %(who)s when asked again.", what=what, who=decider)
        else:
            ended = _(":alarm_clock: %(what)s expired before it was approved again.", what=what)
        return ended + rest + again
    if state is State.FAILED:
        reason = esc(mask_digit_runs(r.fail_reason)) if r.fail_reason else _("Whalet gave no reason")
        return _(":x: %(what)s failed: %(reason)s. Nothing was paid.", what=what, reason=reason) + again
    if state is State.REJECTED and r.reason:
        return (
            _(
                ":no_entry_sign: %(what)s was rejected by %(who)s: %(reason)s. Nothing was sent.",
                what=what,
                who=decider,
                reason=esc(r.reason),
            )
            + again
        )
    if state is State.REJECTED:
        return (
            _(
                ":no_entry_sign: %(what)s was rejected by %(who)s. Nothing was sent.",
                what=what,
                who=decider,
            )
            + again
        )
    if state is State.EXPIRED:
        return _(":alarm_clock: %(what)s expired before it was sent; nothing was paid.", what=what) + again
    return None


def tell_requester(services: Services, db: Database, r: ApprovalRequest, previous: State) -> None:
    """Inside the transaction that moved ``r`` from ``previous`` to its outcome."""
    approvals = services.config.approvals
    how = approvals.tell_requester if approvals else "none"
    if how == "none" or r.state not in OUTCOMES or previous is r.state or approvals is None:
        return
    if r.state is State.REJECTED and r.decided_by == r.requester:
        return  # they withdrew it themselves
    if how == "thread":  # read in the channel: the channel's language
        text = sentence(r, services.locales.channel(approvals.channel))
        enqueue_post(
            db,
            channel=approvals.channel,
            text=f"<@{r.requester}> {text}",
            thread_ref=(CARD_REF, r.id),
            correlation_id=r.id,
        )
        return
    # A DM, in the requester's language as Slack last told us (dispatch asks when they make a request).
    locale = services.locales.cached(r.requester)
    text = f"{sentence(r, locale)} {_card_link(services, db, r, locale)}"
    enqueue_post(db, channel=r.requester, text=text, correlation_id=r.id)


def _card_link(services: Services, db: Database, r: ApprovalRequest, locale: str | None = None) -> str:
    """A link to the card when its message and the workspace's address are known, else its channel."""
    _ = translator(locale).gettext
    posted = outbox_rows.posted(db, f"{CARD_REF}:{r.id}")
    workspace = services.store.get_flag(WORKSPACE_FLAG)
    if posted and workspace:
        channel, ts = posted
        see = _("See the card.")
        return f"<{workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}|{see}>"
    assert services.config.approvals is not None
    where = f"<#{services.config.approvals.channel}>"
    return _("The card is in %(channel)s.", channel=where)
