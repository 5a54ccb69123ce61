"""Named places where the fault suite kills the process for real (SIGKILL), to prove recovery.

`WHALET_BOT_FAULT_POINT=outbox.posted` makes the process die the first time it reaches that
point; `outbox.posted@3` the third time. Unset (always, in production) this is one dictionary
lookup. Kept deliberately tiny: the recovery being proved is the real code's, not a simulation.
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
