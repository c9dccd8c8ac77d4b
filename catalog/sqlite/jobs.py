"""`JobStore` in the SQLite catalog file: one additive table, ``jobs``."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from catalog.jobs import Job, JobNotFound, JobStatus, JobStore, now_utc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    status  TEXT NOT NULL,
    created TEXT NOT NULL,
    doc     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner, created);
CREATE INDEX IF NOT EXISTS jobs_owner_status ON jobs (owner, status);
"""


class SQLiteJobStore(JobStore):
    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def create(self, job: Job) -> None:
        with self._lock, closing(self._connect()) as conn:
            conn.execute(
                "INSERT INTO jobs (id, owner, status, created, doc) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.owner, job.status.value, job.created.isoformat(), json.dumps(job.to_json())),
            )

    def get(self, job_id: str) -> Job:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}; your jobs are listed at /jobs")
        return Job.from_json(json.loads(row[0]))

    def save(self, job: Job) -> None:
        job.updated = now_utc()
        with self._lock, closing(self._connect()) as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, doc = ? WHERE id = ? AND status <> 'dismissed'",
                (job.status.value, json.dumps(job.to_json()), job.id),
            )

    def list(self, *, owner: str | None = None, limit: int = 100) -> list[Job]:
        sql, args = "SELECT doc FROM jobs", []
        if owner is not None:
            sql, args = sql + " WHERE owner = ?", [owner]
        with closing(self._connect()) as conn:
            rows = conn.execute(sql + " ORDER BY created DESC, id LIMIT ?", (*args, limit)).fetchall()
        return [Job.from_json(json.loads(r[0])) for r in rows]

    def count(self, *, owner: str, status: JobStatus) -> int:
        with closing(self._connect()) as conn:
            return int(conn.execute("SELECT count(*) FROM jobs WHERE owner = ? AND status = ?",
                                    (owner, status.value)).fetchone()[0])

    def touch(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        marks = ", ".join("?" * len(job_ids))
        with self._lock, closing(self._connect()) as conn:
            conn.execute(f"UPDATE jobs SET doc = json_set(doc, '$.heartbeat', ?) WHERE id IN ({marks})",
                         (now_utc().isoformat(), *job_ids))
