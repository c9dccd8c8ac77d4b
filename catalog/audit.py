"""The append-only audit log of access decisions: the contract and its record type.

One event per decision: who (partner or "anonymous"/"admin", and the key id), what (the
action and the record, e.g. ``item lro-nac/M1`` or ``asset lro-nac/M1#data``), whether it
was allowed, the bytes served for downloads, and when. Backends only ever insert, except
through one sanctioned path: `remove_archived`, which `catalog.audit_archive.rotate` calls
only after the events are safely archived (the backends' triggers refuse any other delete).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
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
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Events, oldest first; `record` matches the record and everything under it;
        `since` is inclusive, `until` exclusive."""

    @abc.abstractmethod
    def iter_before(self, before: datetime, *, batch: int = 5000) -> Iterator[tuple[int, AuditEvent]]:
        """(sequence number, event) of every event earlier than `before`, in sequence order."""

    @abc.abstractmethod
    def remove_archived(self, before: datetime, last_seq: int, count: int) -> None:
        """Delete the events earlier than `before` up to sequence `last_seq`, in one transaction
        that is rolled back (`Conflict`) unless exactly `count` rows go: the only delete the
        append-only guard lets through."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def matches(
    event: AuditEvent,
    *,
    who: str | None = None,
    record: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> bool:
    """The `AuditLog.query` filter as plain Python (for archived events)."""
    if who is not None and event.who != who:
        return False
    if record is not None:
        rec = event.record or ""
        if rec != record and not rec.startswith((record + "/", record + "#")):
            return False
    if since is not None and event.at < since:
        return False
    return until is None or event.at < until
