"""Values kept in this process for a few seconds: the owners of recent tokens, the console's
counts per status."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """Each value for ``ttl`` (or less, per entry), thread-safe. An entry is trusted only while
    the clock reads from its storing to its expiry, so a clock set back forgets it too. Full
    (``max_entries``), it starts afresh: bounded with no bookkeeping per read.

    ``clock`` and ``ttl`` are of one kind: seconds (``time.monotonic``, the default) or a datetime
    and a timedelta."""

    def __init__(self, ttl: Any, *, max_entries: int, clock: Callable[[], Any] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: dict[K, tuple[Any, Any, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry[0] <= now < entry[1]:
                self._entries.pop(key, None)
                return None
            return entry[2]

    def put(self, key: K, value: V, *, ttl: Any = None) -> None:
        """Keep ``value`` for ``ttl`` as constructed, or for the given ``ttl`` when it is shorter."""
        ttl = self.ttl if ttl is None else min(self.ttl, ttl)
        if ttl <= ttl * 0:  # none left (0 seconds, or an empty timedelta)
            return
        now = self.clock()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now, now + ttl, value)
