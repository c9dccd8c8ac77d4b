"""Per-partner job quotas and the hard cap on a job's size.

A partner's limits are its own (`PartnerStore.limits`, set with ``datacenter partners
limits``) over the settings' defaults (``DATACENTER_PARTNER_*``); 0 is no limit:

    concurrent_jobs  its jobs running at once in one API process (the scheduler holds it)
    queued_jobs      its jobs accepted and not yet running, in the job store: more is 429
    job_bytes        a job's estimated output: more is 413 (retrying cannot help)
    daily_bytes      the estimated output of its jobs submitted in the past 24 h, this one
                     included: more is 429, ``Retry-After`` when enough has aged out

Whatever the partner, a job estimated above ``DATACENTER_JOB_MAX_BYTES`` is 413.
Administrators' jobs have no quota but the hard cap. Estimates are of what is written
(`api.subset.select.Selection.nbytes`), computed on the output grid before any pixel is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from api.subset.select import human_bytes
from catalog.jobs import JobStatus, JobStore, now_utc
from catalog.partners import PartnerStore
from datacenter.errors import QuotaExceeded, TooLarge
from datacenter.settings import Settings

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class JobLimits:
    concurrent_jobs: int
    queued_jobs: int
    job_bytes: int
    daily_bytes: int
    hard_cap: int

    @property
    def max_job_bytes(self) -> int:
        """The largest estimate a job of this partner may have (what `select` may build)."""
        return min(self.hard_cap, self.job_bytes) if self.job_bytes else self.hard_cap


def limits_for(owner: str, settings: Settings, partners: PartnerStore | None) -> JobLimits:
    if owner == "admin":
        return JobLimits(0, 0, 0, 0, settings.job_max_bytes)
    own = partners.limits(owner) if partners is not None else {}
    return JobLimits(
        concurrent_jobs=own.get("concurrent_jobs", settings.partner_concurrent_jobs),
        queued_jobs=own.get("queued_jobs", settings.partner_queued_jobs),
        job_bytes=own.get("job_bytes", settings.partner_job_bytes),
        daily_bytes=own.get("daily_bytes", settings.partner_daily_bytes),
        hard_cap=settings.job_max_bytes,
    )


def too_large_for_a_job(estimate: int, limits: JobLimits, owner: str) -> TooLarge:
    if estimate > limits.hard_cap:
        why = f"the data center's cap on any job, {human_bytes(limits.hard_cap)} (DATACENTER_JOB_MAX_BYTES)"
    else:
        why = f"the largest job partner {owner} may submit, {human_bytes(limits.job_bytes)}"
    return TooLarge(
        f"this job would write about {human_bytes(estimate)} ({estimate} bytes), above {why}; "
        "narrow bbox, bands, variables or datetime, raise step or resolution, or split it"
    )


def check_queue(jobs: JobStore, owner: str, limits: JobLimits, retry_after: int) -> None:
    """429 if `owner` already has `queued_jobs` jobs waiting to run."""
    if not limits.queued_jobs:
        return
    waiting = jobs.count(owner=owner, status=JobStatus.ACCEPTED)
    if waiting >= limits.queued_jobs:
        raise QuotaExceeded(
            f"partner {owner} has {waiting} job(s) waiting to run, its limit; retry when one has "
            "started, or dismiss one (DELETE /jobs/{id})", retry_after)


def check_bytes(jobs: JobStore, owner: str, estimate: int, limits: JobLimits) -> None:
    """413 above the job size limits; 429 if the past 24 h of `owner`'s jobs plus this one
    exceed its daily bytes, with ``Retry-After`` when enough of them will have aged out."""
    if estimate > limits.max_job_bytes:
        raise too_large_for_a_job(estimate, limits, owner)
    if not limits.daily_bytes:
        return
    if estimate > limits.daily_bytes:
        raise TooLarge(
            f"this job would write about {human_bytes(estimate)}, more than partner {owner} may "
            f"write in a day ({human_bytes(limits.daily_bytes)}); narrow it or split it")
    now = now_utc()
    recent = sorted((j for j in jobs.list(owner=owner, limit=100_000) if now - j.created < DAY),
                    key=lambda j: j.created)
    used = sum(j.estimate for j in recent)
    if used + estimate <= limits.daily_bytes:
        return
    total, wait = used + estimate, DAY
    for job in recent:  # the oldest age out first
        used -= job.estimate
        if used + estimate <= limits.daily_bytes:
            wait = job.created + DAY - now
            break
    raise QuotaExceeded(
        f"partner {owner}'s jobs of the past 24 h come to about {human_bytes(total)} with "
        f"this one, above its {human_bytes(limits.daily_bytes)} a day; retry in "
        f"{math.ceil(wait.total_seconds())} s or narrow the job", math.ceil(wait.total_seconds()))
