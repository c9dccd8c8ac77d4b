"""Rotating the audit log into compressed JSON-lines archives, and reading them back.

`rotate` moves the events earlier than a time out of the audit table, in this order:
write them to one gzip JSON-lines file named by the time range it covers
(``audit-<first>--<last>-<seq>.jsonl.gz``) through `datacenter.storage.Store` (a folder or
``s3://``), write its SHA-256 beside it (``<name>.sha256``, `sha256sum` format), read the
stored file back and check its checksum and event count, and only then delete exactly
those rows through the backend's sanctioned path (`AuditLog.remove_archived`). Any failure
before the delete leaves the table untouched; a failed delete leaves a complete archive
file whose events are still in the table (a second rotation rewrites the same file).

`read_archive` yields the archived events of a location, checking each file against its
checksum first, so ``datacenter audit --archive LOCATION`` answers the same questions over
rotated history as over the live table.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog.audit import AuditEvent, AuditLog
from datacenter.errors import StorageError
from datacenter.storage import Store

PREFIX = "audit-"
SUFFIX = ".jsonl.gz"


@dataclass(frozen=True)
class Rotation:
    """What one rotation archived: the file, its checksum and the events it holds."""

    key: str
    sha256: str
    count: int
    first: datetime
    last: datetime


def event_to_json(seq: int, event: AuditEvent) -> dict[str, Any]:
    return {"seq": seq, "at": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "who": event.who, "key_id": event.key_id, "action": event.action,
            "record": event.record, "allowed": event.allowed, "bytes": event.bytes,
            "detail": event.detail}


def event_from_json(doc: dict[str, Any]) -> AuditEvent:
    return AuditEvent(who=doc["who"], action=doc["action"], record=doc.get("record"),
                      allowed=bool(doc["allowed"]), key_id=doc.get("key_id"), bytes=doc.get("bytes"),
                      detail=doc.get("detail"), at=datetime.fromisoformat(doc["at"]))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def rotate(log: AuditLog, store: Store, before: datetime) -> Rotation | None:
    """Archive the events earlier than `before` to `store`, verify, then delete them from
    the table; None when there is nothing to rotate."""
    with tempfile.TemporaryDirectory(prefix="audit-rotate-") as tmp:
        local = Path(tmp) / "events.jsonl.gz"
        count, first_seq, last_seq = 0, 0, 0
        first = last = None
        with gzip.open(local, "wt", encoding="utf-8", compresslevel=6) as out:
            for seq, event in log.iter_before(before):
                out.write(json.dumps(event_to_json(seq, event), separators=(",", ":")) + "\n")
                first = event.at if first is None else min(first, event.at)
                last = event.at if last is None else max(last, event.at)
                first_seq = first_seq or seq
                count, last_seq = count + 1, seq
        if first is None or last is None:
            return None
        digest = hashlib.sha256(local.read_bytes()).hexdigest()
        name = f"{PREFIX}{_stamp(first)}--{_stamp(last)}-{first_seq}-{last_seq}{SUFFIX}"
        store.put_file(local, name, sha256=digest)
        store.put_bytes(f"{digest}  {name}\n".encode(), name + ".sha256")
    _verify(store, name, digest, count)
    log.remove_archived(before, last_seq, count)
    return Rotation(key=name, sha256=digest, count=count, first=first, last=last)


def _verify(store: Store, key: str, digest: str, count: int | None = None) -> None:
    """Re-read `key` from the store: its SHA-256 must be `digest` (and its events `count`)."""
    stored = store.sha256(key)
    if stored != digest:
        raise StorageError(
            f"audit archive {key!r} in {store.describe()} reads back with SHA-256 {stored}, not "
            f"{digest}; the events stay in the table; check the store and rotate again"
        )
    if count is not None:
        with store.open(key) as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            found = sum(1 for _ in lines)
        if found != count:
            raise StorageError(
                f"audit archive {key!r} in {store.describe()} holds {found} events, not {count}; "
                "the events stay in the table; check the store and rotate again"
            )


def archive_files(store: Store) -> list[str]:
    """The archive files in `store`, oldest first (their names sort by time)."""
    return sorted(k for k in store.list() if k.rsplit("/", 1)[-1].startswith(PREFIX)
                  and k.endswith(SUFFIX))


def read_archive(store: Store) -> Iterator[AuditEvent]:
    """Every archived event in `store`, oldest file first; each file is checked against
    its ``.sha256`` before it is read (`StorageError` naming the file if it does not match)."""
    for key in archive_files(store):
        try:
            with store.open(key + ".sha256") as fh:
                expected = fh.read().decode().split()[0]
        except Exception as exc:
            raise StorageError(
                f"audit archive {key!r} in {store.describe()} has no readable {key}.sha256 "
                f"({exc}); restore it from the rotation's copy before querying"
            ) from None
        _verify(store, key, expected)
        with store.open(key) as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            for line in lines:
                yield event_from_json(json.loads(line))
