"""`JobStore` for a SQLite catalog: table ``jobs`` in a file beside the catalog's
(`jobs_path`: ``catalog.sqlite`` -> ``catalog.jobs.sqlite``).

A running job saves its state at every step and the heartbeat touches it every few seconds;
in the catalog's own file each of those commits made every search drop its page cache (and,
at the default ``synchronous = FULL``, waited for an fsync), so a partner flooding the job
queue slowed every other partner's searches.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from catalog.jobs import Job, JobNotFound, JobStatus, JobStore, now_utc
from catalog.sqlite.sidefile import SideFile, beside, move_table_out

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    status  TEXT NOT NULL,
    created TEXT NOT NULL,
    doc     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner, created);
CREATE INDEX IF NOT EXISTS jobs_owner_status ON jobs (owner, status)
"""


def jobs_path(catalog_path: str | os.PathLike[str]) -> Path:
    """The job store's file beside a catalog file."""
    return beside(catalog_path, "jobs")


class SQLiteJobStore(JobStore):
    """The job store of the SQLite catalog file `catalog_path` (kept in `jobs_path` of it)."""

    def __init__(self, catalog_path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = jobs_path(catalog_path)
        # this process's writers take turns here, not in SQLite's busy handler (sleeps of up
        # to 100 ms while another connection holds the write lock)
        self._lock = threading.Lock()
        self._db = SideFile(self.path, schema=_SCHEMA, timeout=timeout)
        # catalogs written before this file kept a ``jobs`` table in the catalog's
        move_table_out(catalog_path, "jobs", "id, owner, status, created, doc", self.path,
                       schema=_SCHEMA, timeout=timeout)

    def close(self) -> None:
        self._db.close()

    def create(self, job: Job) -> None:
        with self._lock:
            self._db.conn().execute(
                "INSERT INTO jobs (id, owner, status, created, doc) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.owner, job.status.value, job.created.isoformat(), json.dumps(job.to_json())),
            )

    def get(self, job_id: str) -> Job:
        row = self._db.conn().execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}; your jobs are listed at /jobs")
        return Job.from_json(json.loads(row[0]))

    def save(self, job: Job) -> None:
        job.updated = now_utc()
        with self._lock:
            self._db.conn().execute(
                "UPDATE jobs SET status = ?, doc = ? WHERE id = ? AND status <> 'dismissed'",
                (job.status.value, json.dumps(job.to_json()), job.id),
            )

    def list(self, *, owner: str | None = None, limit: int = 100) -> list[Job]:
        sql, args = "SELECT doc FROM jobs", []
        if owner is not None:
            sql, args = sql + " WHERE owner = ?", [owner]
        rows = self._db.conn().execute(sql + " ORDER BY created DESC, id LIMIT ?", (*args, limit)).fetchall()
        return [Job.from_json(json.loads(r[0])) for r in rows]

    def count(self, *, owner: str, status: JobStatus) -> int:
        return int(self._db.conn().execute("SELECT count(*) FROM jobs WHERE owner = ? AND status = ?",
                                           (owner, status.value)).fetchone()[0])

    def touch(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        marks = ", ".join("?" * len(job_ids))
        with self._lock:
            self._db.conn().execute(f"UPDATE jobs SET doc = json_set(doc, '$.heartbeat', ?) WHERE id IN ({marks})",
                         (now_utc().isoformat(), *job_ids))
