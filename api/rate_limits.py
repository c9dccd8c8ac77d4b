"""Rate limits kept in the API process: failed authentications and requests per partner.

An attack run sent 1,000 wrong keys in 6.6 s, all answered 401, none refused. Here:

* failed authentications are counted per client address and per key prefix
  (``dck_<key id>``, the public part of a key) in fixed windows of `window` seconds; once
  an address or a prefix has failed `failures_per_address` / `failures_per_key` times in
  the current window, every request from that address (or presenting that prefix) that
  carries a key is 429 with ``Retry-After`` until the window ends (anonymous browsing
  from the address goes on), except a key that authenticated successfully in the last
  `known_for` seconds: a flood of wrong keys from a shared address (a NAT, an institute's
  gateway) or aimed at a partner's public key prefix must not lock that partner out, and
  a guesser cannot use the exception, which needs a success first (only the key's SHA-256
  is kept);
* authenticated partners get `partner_requests` requests per window, then 429.

Counters are per process (each replica counts on its own) and bounded in number (the
oldest windows are dropped first). A proxy in front should add what a process cannot see:
limits across replicas, per-address limits on anonymous traffic and connection counts
(docs/security.md, "Request limits").
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from datacenter.errors import RateLimited
from datacenter.settings import Settings

MAX_TRACKED = 100_000
#: seconds between two notes of one key's success to the partner store (`RateLimiter.succeeded`)
SHARE_EVERY = 3600.0


@dataclass
class _Window:
    start: float
    count: int = 0


class RateLimiter:
    """Fixed-window counters; thread-safe (the key lookup runs in the thread pool)."""

    def __init__(self, *, failures_per_address: int = 20, failures_per_key: int = 10,
                 partner_requests: int = 6_000, window: float = 60.0, known_for: float = 86_400.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_per_address = failures_per_address
        self.failures_per_key = failures_per_key
        self.partner_requests = partner_requests
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        self.known_for = known_for
        self._known: OrderedDict[bytes, float] = OrderedDict()  # SHA-256 of a good key -> when
        self._shared: dict[bytes, float] = {}  # ... -> when the partner store was last told

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(failures_per_address=settings.api_auth_failures_per_address,
                   failures_per_key=settings.api_auth_failures_per_key,
                   partner_requests=settings.api_partner_requests,
                   window=settings.api_rate_window)

    def _current(self, kind: str, key: str, now: float) -> _Window:
        slot = self._windows.get((kind, key))
        if slot is None or now - slot.start >= self.window:
            slot = _Window(now)
            self._windows[(kind, key)] = slot
            self._windows.move_to_end((kind, key))
            while len(self._windows) > MAX_TRACKED:
                self._windows.popitem(last=False)
        return slot

    def _retry_after(self, slot: _Window, now: float) -> int:
        return max(1, math.ceil(slot.start + self.window - now))

    def check_credentials(self, address: str, prefix: str | None, presented: str | None = None) -> None:
        """`RateLimited` if `address` or the key `prefix` failed too often this window, unless
        `presented` authenticated successfully within `known_for` seconds."""
        now = self._clock()
        with self._lock:
            if presented is not None:
                seen = self._known.get(hashlib.sha256(presented.encode()).digest())
                if seen is not None and now - seen < self.known_for:
                    return
            checks = [("address", address, self.failures_per_address, "this client address")]
            if prefix:
                checks.append(("prefix", prefix, self.failures_per_key, f"the key {prefix}_..."))
            for kind, key, limit, what in checks:
                slot = self._windows.get((kind, key))
                if limit > 0 and slot is not None and now - slot.start < self.window and slot.count >= limit:
                    raise RateLimited(
                        f"too many failed authentications for {what} ({slot.count} in "
                        f"{self.window:g} s); retry after the time in Retry-After",
                        retry_after=self._retry_after(slot, now),
                    )

    def succeeded(self, presented: str) -> bool:
        """Remember that `presented` was a valid key (it passes a lockout from now on).

        True when the partner store should hear of it too (`PartnerStore.note_success`, so
        the other processes and replicas let it through their lockouts): its first success
        here, or the first for `SHARE_EVERY` seconds, so a busy key costs no write a request."""
        now = self._clock()
        digest = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            before = self._known.get(digest)
            self._known[digest] = now
            self._known.move_to_end(digest)
            while len(self._known) > MAX_TRACKED:
                self._known.popitem(last=False)
            share = before is None or now - self._shared.get(digest, before) >= SHARE_EVERY
            if share:
                self._shared[digest] = now
                while len(self._shared) > MAX_TRACKED:
                    self._shared.pop(next(iter(self._shared)))
        return share

    def failed_login(self, address: str, prefix: str | None) -> None:
        now = self._clock()
        with self._lock:
            self._current("address", address, now).count += 1
            if prefix:
                self._current("prefix", prefix, now).count += 1

    def partner_request(self, partner_id: str) -> None:
        """Count one request of `partner_id`; `RateLimited` past `partner_requests`."""
        if self.partner_requests <= 0:
            return
        now = self._clock()
        with self._lock:
            slot = self._current("partner", partner_id, now)
            if slot.count >= self.partner_requests:
                raise RateLimited(
                    f"partner {partner_id} sent more than {self.partner_requests} requests in "
                    f"{self.window:g} s (DATACENTER_API_PARTNER_REQUESTS); retry after the time "
                    "in Retry-After", retry_after=self._retry_after(slot, now))
            slot.count += 1
