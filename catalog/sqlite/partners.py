"""Partners and keys in the SQLite catalog file (tables of their own); the audit log in a
file beside it (`audit_path`): it is written on every request, and each write to the
catalog's file would make every reader drop its page cache at its next transaction
(measured: a 0.14 ms R*Tree query became 0.9 ms with one write between reads).

The audit table is append-only by contract: this module only ever INSERTs into it, and a
trigger refuses UPDATE and DELETE, so a bug elsewhere cannot rewrite history. Rotation
(`SQLiteAuditLog.remove_archived`) is the one exception: inside a single write transaction
it drops the delete trigger, deletes exactly the archived rows and recreates the trigger, so
no other connection ever sees the table unguarded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog.audit import AuditEvent, AuditLog
from catalog.partners import (
    IssuedKey,
    KeyRecord,
    Partner,
    PartnerStore,
    Role,
    check_limits,
    check_partner_id,
    new_key,
)
from catalog.query.temporal import from_us, to_us
from catalog.sqlite.sidefile import SideFile, beside, immediate, move_table_out
from datacenter.errors import Conflict, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partners (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,
    created INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, partner TEXT REFERENCES partners (id), role TEXT NOT NULL,
    digest TEXT NOT NULL, created INTEGER NOT NULL, revoked INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partner_limits (
    partner TEXT PRIMARY KEY REFERENCES partners (id), doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS key_successes (
    key_id TEXT PRIMARY KEY, at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, who TEXT NOT NULL, key_id TEXT,
    action TEXT NOT NULL, record TEXT, allowed INTEGER NOT NULL, bytes INTEGER, detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_who ON audit (who, at);
CREATE INDEX IF NOT EXISTS audit_record ON audit (record, at);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
"""
_NO_DELETE = _SCHEMA.rsplit(";\n", 1)[1].replace("IF NOT EXISTS ", "")
_PARTNER_SCHEMA = _SCHEMA[:_SCHEMA.index("CREATE TABLE IF NOT EXISTS audit")].rstrip()[:-1]
_AUDIT_SCHEMA = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS audit"):]
_AUDIT_COLUMNS = "seq, at, who, key_id, action, record, allowed, bytes, detail"


def audit_path(catalog_path: str | os.PathLike[str]) -> Path:
    """The audit log's file beside a catalog file: ``catalog.sqlite`` -> ``catalog.audit.sqlite``."""
    return beside(catalog_path, "audit")


def move_audit_out(catalog_path: str | os.PathLike[str], timeout: float = 30.0) -> None:
    """Catalogs written before the audit log had its own file kept it in an `audit` table:
    move its events (same sequence numbers) into `audit_path`."""
    move_table_out(catalog_path, "audit", _AUDIT_COLUMNS, audit_path(catalog_path),
                   schema=_AUDIT_SCHEMA, timeout=timeout)


def _now() -> int:
    return to_us(datetime.now(UTC))


class SQLitePartnerStore(PartnerStore):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._db = SideFile(path, schema=_PARTNER_SCHEMA)

    def _issue(self, c: sqlite3.Connection, partner_id: str | None, role: Role) -> IssuedKey:
        issued, digest = new_key(partner_id, role)
        c.execute(
            "INSERT INTO api_keys (key_id, partner, role, digest, created) VALUES (?, ?, ?, ?, ?)",
            (issued.key_id, partner_id, role, digest, _now()),
        )
        return issued

    def add_partner(self, partner_id: str, name: str | None = None) -> IssuedKey:
        check_partner_id(partner_id)
        c = self._db.conn()
        with immediate(c):
            if c.execute("SELECT 1 FROM partners WHERE id = ?", (partner_id,)).fetchone():
                raise Conflict(
                    f"partner {partner_id!r} already exists; use `datacenter partners keys rotate "
                    f"{partner_id}` for a new key"
                )
            c.execute("INSERT INTO partners (id, name, created) VALUES (?, ?, ?)",
                      (partner_id, name or partner_id, _now()))
            issued = self._issue(c, partner_id, "partner")
        return issued

    def list_partners(self) -> list[Partner]:
        c = self._db.conn()
        rows = c.execute("SELECT id, name, enabled, created FROM partners ORDER BY id").fetchall()
        keys: dict[str, list[str]] = {}
        for key_id, partner in c.execute(
            "SELECT key_id, partner FROM api_keys WHERE revoked IS NULL AND partner IS NOT NULL"
            " ORDER BY created"
        ):
            keys.setdefault(partner, []).append(key_id)
        return [
            Partner(pid, name, bool(enabled), datetime.fromisoformat(from_us(created)),
                    tuple(keys.get(pid, ())))
            for pid, name, enabled, created in rows
        ]

    def _require_partner(self, c: sqlite3.Connection, partner_id: str) -> None:
        if not c.execute("SELECT 1 FROM partners WHERE id = ?", (partner_id,)).fetchone():
            known = ", ".join(r[0] for r in c.execute("SELECT id FROM partners ORDER BY id")) or "none"
            raise NotFound(f"no partner {partner_id!r}; registered partners: {known}")

    def rotate_key(self, partner_id: str) -> IssuedKey:
        c = self._db.conn()
        with immediate(c):
            self._require_partner(c, partner_id)
            c.execute("UPDATE api_keys SET revoked = ? WHERE partner = ? AND revoked IS NULL",
                      (_now(), partner_id))
            issued = self._issue(c, partner_id, "partner")
        return issued

    def revoke_key(self, key_id: str) -> None:
        c = self._db.conn()
        cur = c.execute("UPDATE api_keys SET revoked = coalesce(revoked, ?) WHERE key_id = ?",
                        (_now(), key_id))
        if cur.rowcount == 0:
            raise NotFound(f"no API key {key_id!r}; `datacenter partners list` shows the key ids")

    def disable_partner(self, partner_id: str) -> None:
        c = self._db.conn()
        self._require_partner(c, partner_id)
        c.execute("UPDATE partners SET enabled = 0 WHERE id = ?", (partner_id,))

    def create_admin_key(self) -> IssuedKey:
        c = self._db.conn()
        with immediate(c):
            issued = self._issue(c, None, "admin")
        return issued

    def find_key(self, key_id: str) -> KeyRecord | None:
        row = self._db.conn().execute(
            "SELECT k.key_id, k.partner, k.role, k.digest, k.revoked IS NOT NULL,"
            " coalesce(p.enabled, 1) FROM api_keys k LEFT JOIN partners p ON p.id = k.partner"
            " WHERE k.key_id = ?",
            (key_id,),
        ).fetchone()
        if row is None:
            return None
        return KeyRecord(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]))

    def note_success(self, key_id: str) -> None:
        c = self._db.conn()
        with immediate(c):
            c.execute("INSERT INTO key_successes (key_id, at) VALUES (?, ?)"
                      " ON CONFLICT (key_id) DO UPDATE SET at = excluded.at", (key_id, _now()))

    def succeeded_since(self, key_id: str, since: datetime) -> bool:
        row = self._db.conn().execute("SELECT at FROM key_successes WHERE key_id = ?", (key_id,)).fetchone()
        return row is not None and row[0] >= to_us(since)

    def limits(self, partner_id: str) -> dict[str, int]:
        row = self._db.conn().execute("SELECT doc FROM partner_limits WHERE partner = ?",
                                      (partner_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_limits(self, partner_id: str, limits: dict[str, int | None]) -> dict[str, int]:
        check_limits(limits)
        c = self._db.conn()
        with immediate(c):
            self._require_partner(c, partner_id)
            row = c.execute("SELECT doc FROM partner_limits WHERE partner = ?", (partner_id,)).fetchone()
            merged = {**(json.loads(row[0]) if row else {}), **limits}
            now = {k: v for k, v in merged.items() if v is not None}
            c.execute("INSERT INTO partner_limits (partner, doc) VALUES (?, ?)"
                      " ON CONFLICT (partner) DO UPDATE SET doc = excluded.doc",
                      (partner_id, json.dumps(now, sort_keys=True)))
        return now

    def close(self) -> None:
        self._db.close()


_AUDIT_WRITES = threading.Lock()


class SQLiteAuditLog(AuditLog):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._db = SideFile(path, schema=_AUDIT_SCHEMA)

    def record(self, event: AuditEvent) -> None:
        # This process's threads take turns here, not in SQLite's busy handler, which sleeps
        # in steps of up to 100 ms while another connection holds the write lock.
        with _AUDIT_WRITES:
            self._record(event)

    def _record(self, event: AuditEvent) -> None:
        self._db.conn().execute(
            "INSERT INTO audit (at, who, key_id, action, record, allowed, bytes, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (to_us(event.at), event.who, event.key_id, event.action, event.record,
             int(event.allowed), event.bytes, event.detail),
        )

    def query(
        self,
        *,
        who: str | None = None,
        record: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        where, params = ["1"], {}  # type: ignore[var-annotated]
        params_: dict[str, Any] = params
        if who is not None:
            where.append("who = :who")
            params_["who"] = who
        if record is not None:  # the record itself, or anything under it (assets, items)
            where.append("(record = :rec OR substr(record, 1, length(:rec) + 1) IN (:rec || '/', :rec || '#'))")
            params_["rec"] = record
        if since is not None:
            where.append("at >= :since")
            params_["since"] = to_us(since)
        if until is not None:
            where.append("at < :until")
            params_["until"] = to_us(until)
        rows = self._db.conn().execute(
            "SELECT at, who, key_id, action, record, allowed, bytes, detail FROM audit"
            f" WHERE {' AND '.join(where)} ORDER BY seq LIMIT :limit",
            {**params_, "limit": limit},
        ).fetchall()
        return [_event(row) for row in rows]

    def iter_before(self, before: datetime, *, batch: int = 5000) -> Iterator[tuple[int, AuditEvent]]:
        last = 0
        while True:
            rows = self._db.conn().execute(
                "SELECT seq, at, who, key_id, action, record, allowed, bytes, detail FROM audit"
                " WHERE at < ? AND seq > ? ORDER BY seq LIMIT ?",
                (to_us(before), last, batch),
            ).fetchall()
            for row in rows:
                yield row[0], _event(row[1:])
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def remove_archived(self, before: datetime, last_seq: int, count: int) -> None:
        c = self._db.conn()
        with immediate(c):  # writers wait: nobody sees the table without its trigger
            c.execute("DROP TRIGGER audit_no_delete")
            deleted = c.execute("DELETE FROM audit WHERE at < ? AND seq <= ?",
                                (to_us(before), last_seq)).rowcount
            c.execute(_NO_DELETE)
            if deleted != count:
                raise Conflict(
                    f"audit rotation would delete {deleted} events but archived {count}; nothing "
                    "was deleted (the archive file stays); run `datacenter audit rotate` again"
                )

    def close(self) -> None:
        self._db.close()


def _event(row: tuple[Any, ...]) -> AuditEvent:
    at, who, key_id, action, record, allowed, nbytes, detail = row
    return AuditEvent(who=who, action=action, record=record, allowed=bool(allowed), key_id=key_id,
                      bytes=nbytes, detail=detail, at=datetime.fromisoformat(from_us(at)))
