"""Byte strings kept in this process, least recently used first out: bounded by their total size."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)


class SizedLRU(Generic[K]):
    """Values (bytes, with a tag) up to ``max_bytes`` in all, thread-safe; storing past the bound
    drops the least recently read first. A value larger than the bound is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[K, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[bytes, str] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: K, body: bytes, tag: str) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            self.size += len(body) - (len(old[0]) if old else 0)
            self._entries[key] = (body, tag)
            while self.size > self.max_bytes:
                _, (dropped, _) = self._entries.popitem(last=False)
                self.size -= len(dropped)

    def __len__(self) -> int:
        return len(self._entries)
