"""Answers computed per viewer (a collection's extent, its summaries), kept while the data
they came from is unchanged.

A kept answer is served while its *validator* (SQLite: the catalog's write generation;
pgstac: the collection's `write_mark`) is the one it was computed under, and for at most
`ttl` seconds: an embargo that ends changes no row, and can only widen what a viewer sees,
so a late answer never shows a hidden record. Values are copied in and out (callers may
change what they get). The number of answers kept is bounded; past it the cache starts over.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Hashable
from typing import Any

DEFAULT_TTL = 60.0  # seconds


class ViewerCache:
    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[Hashable, float, Any]] = {}

    def get(self, key: Hashable, validator: Hashable | None) -> Any | None:
        """The answer kept for `key` under `validator`, or None (None validator: never kept)."""
        if validator is None:
            return None
        with self._lock:
            kept = self._kept.get(key)
        if kept is None or kept[0] != validator or time.monotonic() - kept[1] >= self.ttl:
            return None
        return copy.deepcopy(kept[2])

    def put(self, key: Hashable, validator: Hashable | None, value: Any) -> None:
        """Keep `value` for `key` under `validator` (a None validator keeps nothing)."""
        if validator is None:
            return
        with self._lock:
            if len(self._kept) >= self.max_entries:
                self._kept.clear()
            self._kept[key] = (validator, time.monotonic(), copy.deepcopy(value))

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
