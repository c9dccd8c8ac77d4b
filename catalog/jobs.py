"""The jobs contract: asynchronous subset jobs, persisted beside the catalog.

A `Job` is owned by the partner that submitted it; its `request` is the JSON the partner
sent. Status follows OGC API - Processes: accepted -> running -> successful | failed |
dismissed. A backend persists jobs so an API restart still shows them; `fail_interrupted`
turns jobs a dead process left accepted/running into failed ones with a reason.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from datacenter.errors import ConfigError, NotFound


class JobNotFound(NotFound):
    pass


class JobStatus(StrEnum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.DISMISSED)


@dataclass(frozen=True)
class JobResult:
    """One result file: its name, store key, size in bytes and `file:checksum` multihash."""

    name: str
    key: str
    size: int
    checksum: str
    media_type: str


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    id: str
    owner: str
    request: dict[str, Any]
    status: JobStatus = JobStatus.ACCEPTED
    created: datetime = field(default_factory=now_utc)
    updated: datetime = field(default_factory=now_utc)
    started: datetime | None = None
    finished: datetime | None = None
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    results: list[JobResult] = field(default_factory=list)
    expires: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = self.status.value
        for key in ("created", "updated", "started", "finished", "expires"):
            value = getattr(self, key)
            doc[key] = value.isoformat() if value is not None else None
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        times = {k: datetime.fromisoformat(doc[k]) if doc.get(k) else None
                 for k in ("created", "updated", "started", "finished", "expires")}
        return cls(
            id=doc["id"], owner=doc["owner"], request=doc.get("request") or {},
            status=JobStatus(doc["status"]), progress=float(doc.get("progress") or 0.0),
            message=doc.get("message") or "", error=doc.get("error"),
            results=[JobResult(**r) for r in doc.get("results") or []],
            **{k: v for k, v in times.items() if k not in ("created", "updated")},
            created=times["created"] or now_utc(), updated=times["updated"] or now_utc(),
        )


class JobStore(abc.ABC):
    """Where jobs live (the catalog database)."""

    @abc.abstractmethod
    def create(self, job: Job) -> None:
        """Insert a new job."""

    @abc.abstractmethod
    def get(self, job_id: str) -> Job:
        """The job, or `JobNotFound`."""

    @abc.abstractmethod
    def save(self, job: Job) -> None:
        """Replace the stored job (its `updated` time is set here)."""

    @abc.abstractmethod
    def list(self, *, owner: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs newest first, only `owner`'s when given."""

    def fail_interrupted(self, reason: str) -> list[str]:
        """Mark accepted/running jobs failed with `reason`; returns their ids."""
        ids = []
        for job in self.list(limit=1_000_000):
            if not job.status.finished:
                job.status, job.error, job.finished = JobStatus.FAILED, reason, now_utc()
                job.message = reason
                self.save(job)
                ids.append(job.id)
        return ids

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def sqlite_path(url: str) -> str:
    rest = url[len("sqlite://"):].split("?", 1)[0]
    return rest[1:] if rest.startswith("//") else rest


def open_job_store(catalog_url: str) -> JobStore:
    """The job store living in the catalog database named by `catalog_url`."""
    if catalog_url.startswith("sqlite://"):
        from catalog.sqlite_jobs import SQLiteJobStore

        return SQLiteJobStore(sqlite_path(catalog_url))
    raise ConfigError(f"catalog URL {catalog_url!r} has no job store; use sqlite:///path")
