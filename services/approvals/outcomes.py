"""The requester kept informed: one message each time their request reaches an outcome.

Approved and sent, paid, failed, rejected (by someone else), expired: each is a state the
request reaches exactly once by a compare-and-set (``repo.transition``), and the message is
queued in that same transaction, so a crash neither loses it nor sends it twice, whichever
replica or path (a click, a sweep, Whalet's notification, a lookup) made the move.
``[approvals] tell_requester``: ``"dm"`` (default) a DM linking to the card; ``"thread"`` a reply
in the card's thread mentioning them; ``"none"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlite_utils import Database

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


def _what(r: ApprovalRequest) -> str:
    return f"Your {KINDS[r.kind].noun} request `{r.id}` ({headline(r)})"


SENTENCES: dict[State, Callable[[ApprovalRequest], str]] = {
    State.CONFIRMED: lambda r: f":outbox_tray: {_what(r)} was approved and sent to Whalet.",
    State.SUCCEEDED: lambda r: f":white_check_mark: {_what(r)} is paid: Whalet reports it done.",
    State.FAILED: lambda r: (
        f":x: {_what(r)} failed: {esc(mask_digit_runs(r.fail_reason or 'Whalet gave no reason'))}. Nothing was paid."
    ),
    State.REJECTED: lambda r: (
        f":no_entry_sign: {_what(r)} was rejected by <@{r.decided_by}>"
        + (f": {esc(r.reason)}." if r.reason else ".")
        + " Nothing was sent."
    ),
    State.EXPIRED: lambda r: f":alarm_clock: {_what(r)} expired before it was sent; nothing was paid.",
}
AGAIN = " The card offers *Request again*."
# A batch is "sent" once every line went to Whalet and "done" once every line settled; its note
# says how many were paid and how many failed (services/approvals/batch_release.py).
BATCH_SENTENCES: dict[State, Callable[[ApprovalRequest], str]] = {
    State.CONFIRMED: lambda r: f":outbox_tray: {_what(r)} was approved; every line went to Whalet.",
    State.SUCCEEDED: lambda r: f":white_check_mark: {_what(r)} is settled: {esc(r.note or '')}",
}
# A batch some of whose lines went to Whalet before it was sent back for approval (a quote moved,
# a role changed) and that then ended: the lines sent stand; no other line will be sent.
_REST = " Lines already sent stay as Whalet reports them (the card's thread); no other line will be sent."
PART_SENT: dict[State, Callable[[ApprovalRequest], str]] = {
    State.REJECTED: lambda r: f":no_entry_sign: {_what(r)} was rejected by <@{r.decided_by}> when asked again." + _REST,
    State.EXPIRED: lambda r: f":alarm_clock: {_what(r)} expired before it was approved again." + _REST,
}


def tell_requester(services: Services, db: Database, r: ApprovalRequest, previous: State) -> None:
    """Inside the transaction that moved ``r`` from ``previous`` to its outcome."""
    approvals = services.config.approvals
    how = approvals.tell_requester if approvals else "none"
    sentence = SENTENCES.get(r.state)
    if how == "none" or sentence is None or previous is r.state or approvals is None:
        return
    if r.state is State.REJECTED and r.decided_by == r.requester:
        return  # they withdrew it themselves
    if r.is_batch and r.state in (State.CONFIRMED, State.SUCCEEDED):
        sentence = BATCH_SENTENCES[r.state]
    elif r.is_batch and r.confirm_attempts and r.state in PART_SENT:  # sent back for approval, then ended
        sentence = PART_SENT[r.state]
    text = sentence(r) + (AGAIN if r.state in (State.EXPIRED, State.FAILED, State.REJECTED) else "")
    if how == "thread":
        enqueue_post(
            db,
            channel=approvals.channel,
            text=f"<@{r.requester}> {text}",
            thread_ref=(CARD_REF, r.id),
            correlation_id=r.id,
        )
        return
    enqueue_post(db, channel=r.requester, text=f"{text} {_card_link(services, db, r)}", correlation_id=r.id)


def _card_link(services: Services, db: Database, r: ApprovalRequest) -> str:
    """A link to the card when its message and the workspace's address are known, else its channel."""
    posted = outbox_rows.posted(db, f"{CARD_REF}:{r.id}")
    workspace = services.store.get_flag(WORKSPACE_FLAG)
    if posted and workspace:
        channel, ts = posted
        return f"<{workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}|See the card.>"
    assert services.config.approvals is not None
    return f"The card is in <#{services.config.approvals.channel}>."
