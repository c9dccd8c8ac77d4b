"""The append-only audit log of access decisions: the contract and its record type.

One event per decision: who (partner or "anonymous"/"admin", and the key id), what (the
action and the record, e.g. ``item lro-nac/M1`` or ``asset lro-nac/M1#data``), whether it
was allowed, the bytes served for downloads, and when. Backends only ever insert.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class AuditEvent:
    who: str  # partner id, "anonymous" or "admin"
    action: str  # "search" | "collections" | "collection" | "item" | "download" | "auth"
    record: str | None  # "cid", "cid/iid", "cid/iid#asset", or None for searches
    allowed: bool
    key_id: str | None = None
    bytes: int | None = None
    detail: str | None = None  # e.g. "missing" vs "hidden" for a 404, or the query
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class AuditLog(abc.ABC):
    @abc.abstractmethod
    def record(self, event: AuditEvent) -> None:
        """Append one event."""

    @abc.abstractmethod
    def query(
        self,
        *,
        who: str | None = None,
        record: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Events, oldest first; `record` matches the record and everything under it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
