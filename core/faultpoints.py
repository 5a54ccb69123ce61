"""Named places where the fault suite kills the process for real (SIGKILL), to prove recovery.

`WHALET_BOT_FAULT_POINT=outbox.posted` makes the process die the first time it reaches that
point; `outbox.posted@3` the third time. Unset (always, in production) this is one dictionary
lookup. Kept deliberately tiny: the recovery being proved is the real code's, not a simulation.

The points (names are stable: tests/faults/ uses them):

- ``webhook.stored``: the notification's inbox row is committed, the ack not yet sent
  (Whalet must redeliver; the duplicate is acked and relayed zero more times);
- ``relay.committed``: an inbox row's rendered messages are committed to the outbox, the
  outbox not yet woken;
- ``outbox.claimed``: a row is marked ``sending``, Slack not yet called;
- ``outbox.posted``: Slack answered the post, the row not yet marked ``done`` (the restart finds
  the message by its metadata instead of posting it again);
- ``approval.confirming``: the CAS to CONFIRMING is committed, payoutConfirm not yet sent (the
  restart must decide by lookup: WAIT_CONFIRM means confirm now, once);
- ``approval.confirmed_unstored``: payoutConfirm answered, CONFIRMED not yet stored (the lookup
  finds PROCESSING/SUCCESS; no second confirm);
- ``batch.line_claimed``: a batch line's payout request is committed (APPLYING, with a lease),
  payoutApply not yet sent (after the lease runs out the release applies it again under the same
  order number; each line is still confirmed once);
- ``digest.claimed``: a digest run is claimed (``running``), its post not yet enqueued (the
  restart's catch-up runs it again, once);
- ``digest.chart_claimed``: the digest's chart is claimed (``uploading``), nothing uploaded yet
  (the restart finds no chart in the thread and uploads it, once);
- ``digest.chart_uploaded``: Slack answered the chart's upload, ``done`` not yet recorded (the
  restart finds the chart in the thread and records it; no second upload).
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "WHALET_BOT_FAULT_POINT"
_hits: dict[str, int] = {}
_lock = threading.Lock()


def fault_point(name: str) -> None:
    target = os.environ.get(ENV)
    if not target:
        return
    point, _, nth = target.partition("@")
    if point != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        reached = _hits[name] >= int(nth or 1)
    if reached:
        os.kill(os.getpid(), signal.SIGKILL)
