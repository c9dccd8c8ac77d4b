"""The jobs contract: asynchronous subset jobs, persisted beside the catalog.

A `Job` is owned by the partner that submitted it; its `request` is the JSON the partner
sent. Status follows OGC API - Processes: accepted -> running -> successful | failed |
dismissed. A backend persists jobs so an API restart still shows them; `fail_interrupted`
turns jobs a dead process left accepted/running into failed ones with a reason.

Each job names its runner, ``host:pid:token`` of the API process that accepted it (the
token tells a reused pid from the original process), and carries a heartbeat that runner
refreshes (`touch`) while the job is unfinished. A job is orphaned, and failed by
`fail_interrupted`, when its runner is a dead process on this host, or its heartbeat is
older than `STALE_AFTER` (a runner on another host that stopped). So several API replicas
sharing one job store (PostgreSQL) never fail each other's running jobs.
"""

from __future__ import annotations

import abc
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from datacenter.errors import NotFound


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


HEARTBEAT_EVERY = 30.0  # seconds between a runner's heartbeats
STALE_AFTER = timedelta(minutes=5)  # a heartbeat older than this: the runner is gone
_HOST = socket.gethostname()
_TOKEN = uuid.uuid4().hex[:12]


def this_runner() -> str:
    """``host:pid:token`` of this process, recorded on the jobs it runs."""
    return f"{_HOST}:{os.getpid()}:{_TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def runner_is_gone(runner: str | None, heartbeat: datetime | None, *, now: datetime,
                   stale_after: timedelta = STALE_AFTER) -> bool:
    """True if the process `runner` can no longer run its job (see the module docstring)."""
    if runner is None:
        return True  # a job from before runners were recorded
    if runner == this_runner():
        return False
    host, _, rest = runner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host == _HOST and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() or not _pid_alive(pid):  # our pid with another token was reused
            return True
    return heartbeat is None or now - heartbeat > stale_after


_TIMES = ("created", "updated", "started", "finished", "expires", "heartbeat")


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
    runner: str | None = None  # host:pid:token of the process running it (`this_runner`)
    heartbeat: datetime | None = None
    #: what the results are made from: "collection/item" -> the asset keys read; every
    #: result download re-checks the owner may still see each (`api.subset.jobs`)
    sources: dict[str, list[str]] = field(default_factory=dict)
    estimate: int = 0  # bytes the job was estimated to write (quotas count it)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = self.status.value
        for key in _TIMES:
            value = getattr(self, key)
            doc[key] = value.isoformat() if value is not None else None
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        times = {k: datetime.fromisoformat(doc[k]) if doc.get(k) else None for k in _TIMES}
        return cls(
            id=doc["id"], owner=doc["owner"], request=doc.get("request") or {},
            runner=doc.get("runner"), sources=doc.get("sources") or {},
            estimate=int(doc.get("estimate") or 0),
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
        """Replace the stored job (its `updated` time is set here). A dismissed job is
        final: saving over it changes nothing, so a runner finishing at the moment its
        owner dismisses the job cannot revive it."""

    @abc.abstractmethod
    def list(self, *, owner: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs newest first, only `owner`'s when given."""

    @abc.abstractmethod
    def touch(self, job_ids: Sequence[str]) -> None:
        """Set the heartbeat of these jobs to now, changing nothing else of them."""

    def count(self, *, owner: str, status: JobStatus) -> int:
        """How many of `owner`'s jobs have `status` (backends answer from an index)."""
        return sum(1 for j in self.list(owner=owner, limit=1_000_000) if j.status is status)

    def fail_interrupted(self, reason: str, *, stale_after: timedelta = STALE_AFTER) -> list[str]:
        """Mark accepted/running jobs whose runner is gone (`runner_is_gone`) failed with
        `reason`; returns their ids. Jobs of live runners, here or elsewhere, are left alone."""
        ids = []
        now = now_utc()
        for job in self.list(limit=1_000_000):
            if not job.status.finished and runner_is_gone(job.runner, job.heartbeat, now=now,
                                                          stale_after=stale_after):
                job.status, job.error, job.finished = JobStatus.FAILED, reason, now_utc()
                job.message = reason
                self.save(job)
                ids.append(job.id)
        return ids

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

