"""`JobStore` in PostgreSQL, beside pgstac: the table ``datacenter.jobs``.

Created with the partners and audit tables (`catalog.pgstac.partners.create_tables`, run by
`datacenter catalog migrate`, or on first use). Every API replica on the same database sees
every job, so a client may reach any replica. The row keeps the runner and heartbeat as
columns beside the job document, so `touch` is one narrow UPDATE and recovery rules
(`catalog.jobs.runner_is_gone`) never fail a live replica's job.

The store has its own small pool (up to `max_size` connections per process) on the
catalog's DSN; a lost server is `CatalogUnavailable` (HTTP 503), as for the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from catalog.jobs import Job, JobNotFound, JobStatus, JobStore, now_utc
from catalog.pgstac.partners import ensure_tables
from catalog.pgstac.pool import open_pool, redact
from datacenter.errors import CatalogUnavailable

_COLUMNS = "doc, heartbeat"


class PgJobStore(JobStore):
    def __init__(self, dsn: str, *, max_size: int = 4, timeout: float = 10.0) -> None:
        self.dsn = dsn
        self._pool = open_pool(dsn, "job", max_size=max_size, timeout=timeout)
        ensure_tables(self._conn)

    def __repr__(self) -> str:
        return f"PgJobStore({redact(self.dsn)!r})"

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise CatalogUnavailable(
                f"the job database {redact(self.dsn)} is unavailable ({type(exc).__name__}: "
                f"{str(exc).strip()[:200]}); retry once it is back"
            ) from exc

    @staticmethod
    def _job(row: tuple[Any, ...]) -> Job:
        doc, heartbeat = row
        job = Job.from_json(doc)
        job.heartbeat = heartbeat
        return job

    def create(self, job: Job) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT INTO datacenter.jobs (id, owner, status, created, runner, heartbeat, doc)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (job.id, job.owner, job.status.value, job.created, job.runner, job.heartbeat,
                 Jsonb(job.to_json())),
            )

    def get(self, job_id: str) -> Job:
        with self._conn() as c:
            row = c.execute(f"SELECT {_COLUMNS} FROM datacenter.jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}; your jobs are listed at /jobs")
        return self._job(row)

    def save(self, job: Job) -> None:
        job.updated = now_utc()
        with self._conn() as c:  # the heartbeat column is `touch`'s alone
            c.execute(
                "UPDATE datacenter.jobs SET status = %s, runner = %s, doc = %s"
                " WHERE id = %s AND status <> 'dismissed'",
                (job.status.value, job.runner, Jsonb(job.to_json()), job.id),
            )

    def list(self, *, owner: str | None = None, limit: int = 100) -> list[Job]:
        where, args = ("WHERE owner = %s", [owner]) if owner is not None else ("", [])
        with self._conn() as c:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM datacenter.jobs {where} ORDER BY created DESC, id LIMIT %s",
                (*args, limit),  # type: ignore[arg-type]
            ).fetchall()
        return [self._job(r) for r in rows]

    def count(self, *, owner: str, status: JobStatus) -> int:
        with self._conn() as c:  # jobs_owner_created narrows it to the owner's rows
            row = c.execute("SELECT count(*) FROM datacenter.jobs WHERE owner = %s AND status = %s",
                            (owner, status.value)).fetchone()
        return int(row[0]) if row else 0

    def touch(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            with self._conn() as c:
                c.execute("UPDATE datacenter.jobs SET heartbeat = now() WHERE id = ANY(%s)",
                          (list(job_ids),))

    def close(self) -> None:
        self._pool.close()
