"""Partners, keys and the audit log in PostgreSQL, beside pgstac (schema ``datacenter``,
which also holds the ``jobs`` table of `catalog.pgstac.jobs`).

Plain tables, created by `create_tables` (run by `datacenter catalog migrate`, and again,
idempotently, when a store is first opened on a database migrated before they existed).
The same contract and rules as `catalog.sqlite.partners`: keys stored as digests, looked up
on every request (no cache), and the audit table append-only: a trigger refuses UPDATE, and
DELETE unless the transaction has set ``datacenter.audit_rotation`` to the rotation's own
token (`PgAuditLog.remove_archived`, called by `datacenter audit rotate` after archiving).
The API's roles are granted no DELETE on it at all.

The stores borrow connections from the catalog's pool (`connect` is its context manager),
so they open nothing of their own; every statement names its schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

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
from datacenter.errors import Conflict, NotFound

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]

_LOCK = 7_310_501  # advisory lock id: one `create_tables` at a time per database
_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS datacenter;
CREATE TABLE IF NOT EXISTS datacenter.partners (
    id text PRIMARY KEY, name text NOT NULL, enabled boolean NOT NULL DEFAULT true,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS datacenter.api_keys (
    key_id text PRIMARY KEY, partner text REFERENCES datacenter.partners (id), role text NOT NULL,
    digest text NOT NULL, created timestamptz NOT NULL DEFAULT now(), revoked timestamptz
);
CREATE TABLE IF NOT EXISTS datacenter.partner_limits (
    partner text PRIMARY KEY REFERENCES datacenter.partners (id), doc jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS datacenter.key_successes (
    key_id text PRIMARY KEY, at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS datacenter.audit (
    seq bigserial PRIMARY KEY, at timestamptz NOT NULL, who text NOT NULL, key_id text,
    action text NOT NULL, record text, allowed boolean NOT NULL, bytes bigint, detail text
);
CREATE TABLE IF NOT EXISTS datacenter.jobs (
    id text PRIMARY KEY, owner text NOT NULL, status text NOT NULL,
    created timestamptz NOT NULL, runner text, heartbeat timestamptz, doc jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON datacenter.jobs (owner, created);
CREATE INDEX IF NOT EXISTS audit_who ON datacenter.audit (who, at);
CREATE INDEX IF NOT EXISTS audit_record ON datacenter.audit (record, at);
CREATE INDEX IF NOT EXISTS audit_at ON datacenter.audit (at);
CREATE OR REPLACE FUNCTION datacenter.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN IF TG_OP = 'DELETE' AND current_setting('datacenter.audit_rotation', true) = 'archived'
    THEN RETURN OLD; END IF; RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON datacenter.audit
    FOR EACH ROW EXECUTE FUNCTION datacenter.audit_append_only()
"""
# pgstac's roles: the API may run as either; it reads keys and appends to the audit log
_GRANTS = """
GRANT USAGE ON SCHEMA datacenter TO {role};
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA datacenter TO {role};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA datacenter TO {role}
"""


def create_tables(conn: psycopg.Connection[Any]) -> None:
    """Create the ``datacenter`` schema and its tables if missing (safe to run concurrently)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        for statement in _SCHEMA.split(";\n"):
            if statement.strip():
                conn.execute(statement)  # type: ignore[arg-type]
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname IN ('pgstac_ingest', 'pgstac_read')")]
        for role in roles:
            for statement in _GRANTS.format(role=role).split(";\n"):
                if statement.strip():
                    conn.execute(statement)  # type: ignore[arg-type]


def ensure_tables(connect: Connect) -> None:
    with connect() as conn:
        row = conn.execute("SELECT to_regclass('datacenter.audit') IS NOT NULL"
                           " AND to_regclass('datacenter.jobs') IS NOT NULL"
                           " AND to_regclass('datacenter.partner_limits') IS NOT NULL"
                           " AND to_regclass('datacenter.key_successes') IS NOT NULL").fetchone()
        if not (row and row[0]):
            create_tables(conn)


class PgPartnerStore(PartnerStore):
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        ensure_tables(connect)

    @staticmethod
    def _issue(c: psycopg.Connection[Any], partner_id: str | None, role: Role) -> IssuedKey:
        issued, digest = new_key(partner_id, role)
        c.execute(
            "INSERT INTO datacenter.api_keys (key_id, partner, role, digest) VALUES (%s, %s, %s, %s)",
            (issued.key_id, partner_id, role, digest),
        )
        return issued

    def add_partner(self, partner_id: str, name: str | None = None) -> IssuedKey:
        check_partner_id(partner_id)
        with self._connect() as c, c.transaction():
            inserted = c.execute(
                "INSERT INTO datacenter.partners (id, name) VALUES (%s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                (partner_id, name or partner_id),
            ).fetchone()
            if inserted is None:
                raise Conflict(
                    f"partner {partner_id!r} already exists; use `datacenter partners keys rotate "
                    f"{partner_id}` for a new key"
                )
            return self._issue(c, partner_id, "partner")

    def list_partners(self) -> list[Partner]:
        with self._connect() as c:
            rows = c.execute(
                "SELECT id, name, enabled, created FROM datacenter.partners ORDER BY id"
            ).fetchall()
            keys: dict[str, list[str]] = {}
            for key_id, partner in c.execute(
                "SELECT key_id, partner FROM datacenter.api_keys"
                " WHERE revoked IS NULL AND partner IS NOT NULL ORDER BY created, key_id"
            ):
                keys.setdefault(partner, []).append(key_id)
        return [Partner(pid, name, enabled, created.astimezone(UTC), tuple(keys.get(pid, ())))
                for pid, name, enabled, created in rows]

    @staticmethod
    def _require_partner(c: psycopg.Connection[Any], partner_id: str) -> None:
        if c.execute("SELECT 1 FROM datacenter.partners WHERE id = %s", (partner_id,)).fetchone():
            return
        known = ", ".join(
            r[0] for r in c.execute("SELECT id FROM datacenter.partners ORDER BY id")
        ) or "none"
        raise NotFound(f"no partner {partner_id!r}; registered partners: {known}")

    def rotate_key(self, partner_id: str) -> IssuedKey:
        with self._connect() as c, c.transaction():
            self._require_partner(c, partner_id)
            c.execute("UPDATE datacenter.api_keys SET revoked = now()"
                      " WHERE partner = %s AND revoked IS NULL", (partner_id,))
            return self._issue(c, partner_id, "partner")

    def revoke_key(self, key_id: str) -> None:
        with self._connect() as c:
            cur = c.execute("UPDATE datacenter.api_keys SET revoked = coalesce(revoked, now())"
                            " WHERE key_id = %s", (key_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no API key {key_id!r}; `datacenter partners list` shows the key ids")

    def disable_partner(self, partner_id: str) -> None:
        with self._connect() as c:
            self._require_partner(c, partner_id)
            c.execute("UPDATE datacenter.partners SET enabled = false WHERE id = %s", (partner_id,))

    def create_admin_key(self) -> IssuedKey:
        with self._connect() as c, c.transaction():
            return self._issue(c, None, "admin")

    def find_key(self, key_id: str) -> KeyRecord | None:
        with self._connect() as c:
            row = c.execute(
                "SELECT k.key_id, k.partner, k.role, k.digest, k.revoked IS NOT NULL,"
                " coalesce(p.enabled, true) FROM datacenter.api_keys k"
                " LEFT JOIN datacenter.partners p ON p.id = k.partner WHERE k.key_id = %s",
                (key_id,),
            ).fetchone()
        if row is None:
            return None
        return KeyRecord(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]))

    def note_success(self, key_id: str) -> None:
        with self._connect() as c, c.transaction():
            c.execute("INSERT INTO datacenter.key_successes (key_id, at) VALUES (%s, now())"
                      " ON CONFLICT (key_id) DO UPDATE SET at = excluded.at", (key_id,))

    def succeeded_since(self, key_id: str, since: datetime) -> bool:
        with self._connect() as c:
            row = c.execute("SELECT at >= %s FROM datacenter.key_successes WHERE key_id = %s",
                            (since, key_id)).fetchone()
        return bool(row and row[0])

    def limits(self, partner_id: str) -> dict[str, int]:
        with self._connect() as c:
            row = c.execute("SELECT doc FROM datacenter.partner_limits WHERE partner = %s",
                            (partner_id,)).fetchone()
        return dict(row[0]) if row else {}

    def set_limits(self, partner_id: str, limits: dict[str, int | None]) -> dict[str, int]:
        check_limits(limits)
        with self._connect() as c, c.transaction():
            self._require_partner(c, partner_id)
            row = c.execute("SELECT doc FROM datacenter.partner_limits WHERE partner = %s FOR UPDATE",
                            (partner_id,)).fetchone()
            merged = {**(dict(row[0]) if row else {}), **limits}
            now = {k: v for k, v in merged.items() if v is not None}
            c.execute("INSERT INTO datacenter.partner_limits (partner, doc) VALUES (%s, %s)"
                      " ON CONFLICT (partner) DO UPDATE SET doc = excluded.doc",
                      (partner_id, Jsonb(now)))
        return now


class PgAuditLog(AuditLog):
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        ensure_tables(connect)

    def record(self, event: AuditEvent) -> None:
        with self._connect() as c:
            c.execute(
                "INSERT INTO datacenter.audit (at, who, key_id, action, record, allowed, bytes, detail)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (event.at, event.who, event.key_id, event.action, event.record, event.allowed,
                 event.bytes, event.detail),
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
        where, params = ["true"], {"limit": limit}  # type: ignore[var-annotated]
        params_: dict[str, Any] = params
        if who is not None:
            where.append("who = %(who)s")
            params_["who"] = who
        if record is not None:  # the record itself, or anything under it (assets, items)
            where.append("(record = %(rec)s OR left(record, length(%(rec)s) + 1)"
                         " IN (%(rec)s || '/', %(rec)s || '#'))")
            params_["rec"] = record
        if since is not None:
            where.append("at >= %(since)s")
            params_["since"] = since
        if until is not None:
            where.append("at < %(until)s")
            params_["until"] = until
        with self._connect() as c:
            rows = c.execute(
                "SELECT at, who, key_id, action, record, allowed, bytes, detail FROM datacenter.audit"
                f" WHERE {' AND '.join(where)} ORDER BY seq LIMIT %(limit)s",  # type: ignore[arg-type]
                params_,
            ).fetchall()
        return [_event(row) for row in rows]

    def iter_before(self, before: datetime, *, batch: int = 5000) -> Iterator[tuple[int, AuditEvent]]:
        last = 0
        while True:
            with self._connect() as c:
                rows = c.execute(
                    "SELECT seq, at, who, key_id, action, record, allowed, bytes, detail"
                    " FROM datacenter.audit WHERE at < %s AND seq > %s ORDER BY seq LIMIT %s",
                    (before, last, batch),
                ).fetchall()
            for row in rows:
                yield row[0], _event(row[1:])
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def remove_archived(self, before: datetime, last_seq: int, count: int) -> None:
        with self._connect() as c, c.transaction():
            c.execute("SELECT set_config('datacenter.audit_rotation', 'archived', true)")  # SET LOCAL
            deleted = c.execute("DELETE FROM datacenter.audit WHERE at < %s AND seq <= %s",
                                (before, last_seq)).rowcount
            if deleted != count:
                raise Conflict(
                    f"audit rotation would delete {deleted} events but archived {count}; nothing "
                    "was deleted (the archive file stays); run `datacenter audit rotate` again"
                )


def _event(row: tuple[Any, ...]) -> AuditEvent:
    at, who, key_id, action, record, allowed, nbytes, detail = row
    return AuditEvent(who=who, action=action, record=record, allowed=allowed, key_id=key_id,
                      bytes=nbytes, detail=detail, at=at.astimezone(UTC))
