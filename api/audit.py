"""Writing access decisions to the audit log from the API.

A 404 is recorded as denied with detail "hidden" or "missing": the classification is one
more indexed lookup made *after* the answer is decided, the same for both cases, so it
adds no timing difference between a hidden and a missing record.
"""

from __future__ import annotations

from catalog.audit import AuditEvent, AuditLog
from catalog.base import Catalog
from datacenter.access import SYSTEM, Viewer
from datacenter.errors import NotFound


def audit(
    log: AuditLog,
    viewer: Viewer,
    action: str,
    record: str | None,
    allowed: bool,
    *,
    bytes_served: int | None = None,
    detail: str | None = None,
) -> None:
    log.record(AuditEvent(who=viewer.label(), key_id=viewer.key_id, action=action, record=record,
                          allowed=allowed, bytes=bytes_served, detail=detail))


def why_not_found(catalog: Catalog, collection_id: str, item_id: str | None = None) -> str:
    """"hidden" if the record exists for the system viewer, else "missing"."""
    try:
        if item_id is None:
            catalog.get_collection(collection_id, viewer=SYSTEM)
        else:
            catalog.get_item(collection_id, item_id, viewer=SYSTEM)
    except NotFound:
        return "missing"
    return "hidden"
