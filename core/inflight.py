"""Work running in this process right now, by key.

Two triggers can start the same piece of work at the same moment (a scheduled digest and its
catch-up, a command and a job). The database decides what is done; this set only keeps one
process from running the same key twice at once. One per process, never module-global, so the
tests can run several apps side by side.
"""

from __future__ import annotations

from collections.abc import Hashable


class InFlight:
    def __init__(self) -> None:
        self._keys: set[Hashable] = set()

    def claim(self, key: Hashable) -> bool:
        """True if the caller may start ``key`` now; it must ``release`` it when done."""
        if key in self._keys:
            return False
        self._keys.add(key)
        return True

    def release(self, key: Hashable) -> None:
        self._keys.discard(key)
