"""Subset jobs: a search plus subset options, run in the background on the Dask scheduler.

`JobRunner.submit` validates everything a user can get wrong (options, search, at least
one item, every selection) before answering, so mistakes are a 400 and not a failed job.
The job then runs on a worker thread: items that share a grid (CRS, pixel size, pixel-
aligned origins, same variables) merge into one mosaic; others give one file each. Files
are written locally, then put in the store under ``jobs/<id>/``. Cancelling (from the API
or `datacenter jobs cancel` in another process) sets `dismissed` in the database; the
running graph checks it between tasks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from api.audit import audit
from api.subset.compute import JobCancelled, WrittenFile, background_pool, write_subset
from api.subset.job_process import write_in_process
from api.subset.quotas import JobLimits, check_bytes, check_queue, limits_for, too_large_for_a_job
from api.subset.request import MEDIA_TYPES, SUFFIXES, SubsetOptions
from api.subset.scheduler import FairScheduler
from api.subset.select import OutputTooLarge, Selection, select
from api.subset.source import open_source
from api.subset.workdir import job_work_prefix, sweep_work_folders, work_root
from catalog.audit import AuditLog
from catalog.base import Catalog, SearchQuery, StacItem
from catalog.jobs import Job, JobNotFound, JobResult, JobStatus, JobStore, now_utc, this_runner
from catalog.partners import PartnerStore
from datacenter.access import SYSTEM, Viewer, visible_assets
from datacenter.compute import Compute
from datacenter.errors import InvalidRequest, NotFound, PartnerRequired, QuotaExceeded, TooLarge
from datacenter.settings import Settings
from datacenter.storage import Store, multihash_sha256

logger = logging.getLogger(__name__)

MAX_ITEMS = 500
INTERRUPTED = "the API stopped while this job was accepted or running; submit it again"


class JobRequest(SubsetOptions):
    """`POST /jobs`: an item search (collections, ids, bbox, datetime, CQL2 JSON filter)
    plus the subset options."""

    collections: list[str] | None = None
    ids: list[str] | None = None
    filter: dict[str, Any] | None = None
    filter_lang: str | None = Field(None, alias="filter-lang")


def owner_of(viewer: Viewer) -> str:
    if viewer.admin:
        return "admin"
    if viewer.partner_id is None:
        raise PartnerRequired(
            "jobs belong to a partner: send your partner API key to submit or follow jobs"
        )
    return viewer.partner_id


def visible_job(jobs: JobStore, job_id: str, viewer: Viewer) -> Job:
    """The job if `viewer` owns it (or is an administrator); otherwise `JobNotFound`."""
    job = jobs.get(job_id)
    if viewer.admin or (viewer.partner_id is not None and job.owner == viewer.partner_id):
        return job
    raise JobNotFound(f"no job {job_id!r}; your jobs are listed at /jobs")


def _grid_key(item: StacItem) -> tuple[Any, ...] | None:
    props = item.get("properties", {})
    t = props.get("proj:transform")
    crs = props.get("proj:code") or props.get("proj:wkt2")
    if not t or not crs:
        return None
    a, _, c, _, e, f = t[:6]
    data = tuple(sorted(k for k, v in item.get("assets", {}).items() if "image/tiff" in str(v.get("type"))))
    return (crs, round(a, 9), round(e, 9), round((c / a) % 1, 6), round((f / e) % 1, 6), data)


def group_by_grid(items: list[StacItem]) -> list[list[StacItem]]:
    groups: dict[Any, list[StacItem]] = {}
    for item in items:
        key = _grid_key(item) or ("alone", item.get("collection"), item["id"])
        groups.setdefault(key, []).append(item)
    return list(groups.values())


WITHDRAWN = ("the results of job {id} are no longer available: an item or asset they were made "
             "from is no longer visible to you; submit the job again")


class JobRunner:
    def __init__(self, catalog: Catalog, store: Store, jobs: JobStore, compute: Compute,
                 *, result_ttl: timedelta, settings: Settings | None = None,
                 partners: PartnerStore | None = None, audit_log: AuditLog | None = None) -> None:
        self.catalog, self.store, self.jobs, self.compute = catalog, store, jobs, compute
        self.partners, self.audit_log = partners, audit_log
        self.settings = settings or Settings()
        self.result_ttl = result_ttl
        self.scheduler = FairScheduler(self.settings.job_workers)
        self._pools: list[Any] = []  # one Dask thread pool per job worker (`_worker_pool`)
        self._local = threading.local()
        self._submit_lock = threading.Lock()  # quota check + create, one submit at a time
        self._active: set[str] = set()  # jobs of this process not finished yet: their heartbeat
        self._active_lock = threading.Lock()

    # -- submitting ---------------------------------------------------------------------
    def _items(self, request: JobRequest, viewer: Viewer) -> list[StacItem]:
        if request.filter_lang not in (None, "cql2-json"):
            raise InvalidRequest("filter-lang must be cql2-json in POST /jobs")
        bbox = tuple(request.bbox) if request.bbox and request.bbox_crs == "lonlat" else None
        token, items = None, []
        while True:
            page = self.catalog.search(SearchQuery(
                collections=request.collections, ids=request.ids, bbox=bbox,  # type: ignore[arg-type]
                datetime=request.time_range(), filter=request.filter, limit=MAX_ITEMS, token=token,
                viewer=viewer,
            ))
            items.extend({**i, "assets": visible_assets(viewer, i)} for i in page.items)
            if len(items) > MAX_ITEMS:
                raise InvalidRequest(f"the search matches more than {MAX_ITEMS} items; narrow it")
            token = page.next_token
            if not token:
                break
        if not items:
            raise InvalidRequest("the job's search matches no item; check collections, ids, bbox, datetime")
        return items

    def _plan(self, request: JobRequest, viewer: Viewer, limits: JobLimits, owner: str
              ) -> list[list[Selection]]:
        """The selections, each estimated on its output grid before anything is built; a
        job over its size cap is refused as soon as the running total passes it."""
        options = SubsetOptions.model_validate(request.model_dump(include=set(SubsetOptions.model_fields)))
        plans, total, cap = [], 0, limits.max_job_bytes
        for group in group_by_grid(self._items(request, viewer)):
            selections = []
            for item in group:
                try:
                    selection = select(open_source(item, self.store), options, max_bytes=cap - total)
                except OutputTooLarge as exc:
                    raise too_large_for_a_job(total + exc.nbytes, limits, owner) from None
                total += selection.nbytes
                selections.append(selection)
            plans.append(selections)
        return plans

    def limits(self, owner: str) -> JobLimits:
        return limits_for(owner, self.settings, self.partners)

    def submit(self, body: dict[str, Any], viewer: Viewer, log: AuditLog | None = None) -> Job:
        """Check and plan the job, store it and queue it; with `log`, the job and each item
        it reads go to the audit log (action ``job-submit``, then ``job-subset`` per item).
        A quota refusal (429) or a job over its size cap (413) is audited as denied."""
        owner = owner_of(viewer)
        from api.subset.request import parse_options  # the same error wording as the sync path

        parse_options({k: v for k, v in body.items()
                       if k not in ("collections", "ids", "filter", "filter-lang", "filter_lang")})
        request = JobRequest.model_validate(body)
        limits = self.limits(owner)
        retry = self.settings.job_retry_after
        try:
            check_queue(self.jobs, owner, limits, retry)  # a full queue costs no planning
            plans = self._plan(request, viewer, limits, owner)  # 400s / 413s before a job exists
            estimate = sum(s.nbytes for group in plans for s in group)
            with self._submit_lock:
                check_queue(self.jobs, owner, limits, retry)
                check_bytes(self.jobs, owner, estimate, limits)
                job = self._create(owner, body, plans, estimate)
        except (QuotaExceeded, TooLarge) as exc:
            if log is not None:
                audit(log, viewer, "job-submit", None, False, detail=f"{type(exc).__name__}: {exc}")
            raise
        if log is not None:
            sources = [f"{s.source.item.get('collection')}/{s.source.item['id']}"
                       for group in plans for s in group]
            audit(log, viewer, "job-submit", f"jobs/{job.id}", True,
                  detail=f"{len(sources)} item(s), about {estimate} bytes: {json.dumps(body)}")
            for source in sources:
                audit(log, viewer, "job-subset", source, True, detail=f"job {job.id}")
        concurrent = limits.concurrent_jobs or self.settings.job_workers
        self.scheduler.submit(owner, job.id, lambda: self._run(job.id, plans, request),
                              concurrent=concurrent)
        return job

    def _create(self, owner: str, body: dict[str, Any], plans: list[list[Selection]], estimate: int) -> Job:
        sources: dict[str, list[str]] = {}
        for group in plans:
            for s in group:
                label = f"{s.source.item.get('collection')}/{s.source.item['id']}"
                sources[label] = sorted({*sources.get(label, ()), *s.assets})
        job = Job(id=uuid.uuid4().hex, owner=owner, request=body, runner=this_runner(),
                  heartbeat=now_utc(), sources=sources, estimate=estimate,
                  message=f"{len(plans)} output file(s), about {estimate} bytes uncompressed")
        with self._active_lock:
            self._active.add(job.id)
        self.jobs.create(job)
        return job

    # -- running ------------------------------------------------------------------------
    def _worker_pool(self, estimate: int) -> Any:
        """This job worker's own Dask threads, so a small job's tasks never queue behind
        another job's long ones in a shared pool. A job estimated above
        ``DATACENTER_JOB_SMALL_BYTES`` runs on threads ``DATACENTER_JOB_NICE`` below the API's
        (searches, synchronous subsets and small jobs keep the CPU first)."""
        large = estimate > self.settings.job_small_bytes
        pools = getattr(self._local, "pools", None)
        if pools is None:
            pools = self._local.pools = {}
        if large not in pools:
            pools[large] = background_pool(max(2, os.cpu_count() or 2),
                                           self.settings.job_nice if large else 0)
            with self._active_lock:
                self._pools.append(pools[large])
        return pools[large]

    def _cancelled_check(self, job_id: str) -> Any:
        last = [0.0, False]

        def cancelled() -> bool:
            now = time.monotonic()
            if now - last[0] > 0.3:
                last[0] = now
                last[1] = self.jobs.get(job_id).status is JobStatus.DISMISSED
            return bool(last[1])

        return cancelled

    def _update(self, job_id: str, **fields: Any) -> Job | None:
        job = self.jobs.get(job_id)
        if job.status is JobStatus.DISMISSED:
            return None
        for key, value in fields.items():
            setattr(job, key, value)
        self.jobs.save(job)
        return job

    def _run(self, job_id: str, plans: list[list[Selection]], request: JobRequest) -> None:
        try:
            self._run_job(job_id, plans, request)
        finally:
            with self._active_lock:
                self._active.discard(job_id)

    def heartbeat(self) -> None:
        """Tell the job store this process still runs its unfinished jobs."""
        with self._active_lock:
            active = sorted(self._active)
        self.jobs.touch(active)

    def _run_job(self, job_id: str, plans: list[list[Selection]], request: JobRequest) -> None:
        if self._update(job_id, status=JobStatus.RUNNING, started=now_utc()) is None:
            return
        work = Path(tempfile.mkdtemp(prefix=job_work_prefix(job_id), dir=work_root(self.settings)))
        results: list[JobResult] = []
        try:
            for i, group in enumerate(plans):
                name = (f"mosaic-{i + 1}-{len(group)}-items" if len(group) > 1
                        else group[0].source.item["id"]) + SUFFIXES[request.format]

                def progress(fraction: float, i: int = i) -> None:
                    self._update(job_id, progress=(i + fraction) / len(plans))

                written = self._write(group, request, work / name, progress, self._cancelled_check(job_id))
                key = f"jobs/{job_id}/{name}"
                self.store.put_file(written.path, key)
                written.path.unlink()
                results.append(JobResult(name, key, written.size, multihash_sha256(written.sha256),
                                         MEDIA_TYPES[request.format]))
            done = now_utc()
            if self._update(job_id, status=JobStatus.SUCCESSFUL, progress=1.0, finished=done,
                            results=results, expires=done + self.result_ttl,
                            message=f"{len(results)} file(s) ready") is None:
                self._delete_results(job_id)
        except JobCancelled:
            self._delete_results(job_id)
        except Exception as exc:  # the job fails, the server does not
            logger.exception("job %s failed", job_id)
            self._update(job_id, status=JobStatus.FAILED, finished=now_utc(), error=str(exc),
                         message="the job failed")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write(self, group: list[Selection], request: JobRequest, out: Path,
               progress: Callable[[float], None], cancelled: Callable[[], bool]) -> WrittenFile:
        """One output file: a large one (above ``DATACENTER_JOB_SMALL_BYTES``) from a worker
        process at ``DATACENTER_JOB_NICE`` (`api.subset.job_process`) unless a dask cluster
        computes or ``DATACENTER_JOB_PROCESSES`` is off; others on this process's threads."""
        estimate = sum(s.nbytes for s in group)
        if (self.settings.job_processes and not self.compute.distributed
                and estimate > self.settings.job_small_bytes):
            options = SubsetOptions.model_validate(request.model_dump(include=set(SubsetOptions.model_fields)))
            return write_in_process(group, options, request.format, out, self.store,
                                    niceness=self.settings.job_nice, progress=progress, cancelled=cancelled)
        return write_subset(group, request.format, out, self.compute, progress=progress,
                            cancelled=cancelled, pool=self._worker_pool(estimate))

    def _delete_results(self, job_id: str) -> None:
        self.store.delete(f"jobs/{job_id}")

    # -- re-checking results ------------------------------------------------------------
    def withdrawal_reason(self, job: Job) -> str | None:
        """Why `job`'s results may no longer be served (None while they may): its partner
        is disabled or gone, or it may no longer see an item or asset they were made from.
        Checked as the owner sees the catalog now; an administrator's job is never withdrawn."""
        if job.owner == "admin":
            return None
        if not job.sources:
            return "the job recorded no sources (made before sources were recorded)"
        if self.partners is not None:
            partner = next((p for p in self.partners.list_partners() if p.id == job.owner), None)
            if partner is None or not partner.enabled:
                return f"partner {job.owner} is disabled or removed"
        owner = Viewer(partner_id=job.owner)
        for label, assets in job.sources.items():
            collection_id, _, item_id = label.partition("/")
            try:
                item = self.catalog.get_item(collection_id, item_id, viewer=owner)
            except NotFound:
                return f"item {label} is no longer visible to {job.owner}"
            hidden = sorted(set(assets) - set(visible_assets(owner, item)))
            if hidden:
                return f"asset(s) {', '.join(hidden)} of item {label} no longer visible to {job.owner}"
        return None

    def checked_results(self, job: Job, viewer: Viewer, action: str, log: AuditLog | None = None) -> Job:
        """`job` if its results may still be served; otherwise they are deleted (the job
        keeps its status, without results), the refusal is audited with the reason, and
        `JobNotFound` (404) is raised."""
        reason = self.withdrawal_reason(job)
        if reason is None:
            return job
        self._withdraw(job, reason, log if log is not None else self.audit_log, viewer, action)
        raise JobNotFound(WITHDRAWN.format(id=job.id))

    def _withdraw(self, job: Job, reason: str, log: AuditLog | None, viewer: Viewer, action: str) -> None:
        logger.warning("job %s: results withdrawn (%s)", job.id, reason)
        self._delete_results(job.id)
        job.results = []
        job.message = "results withdrawn: an item or asset they were made from is no longer visible"
        self.jobs.save(job)
        if log is not None:
            audit(log, viewer, action, f"jobs/{job.id}", False, detail=f"results withdrawn: {reason}")
            if viewer != SYSTEM:
                audit(log, SYSTEM, "job-withdraw", f"jobs/{job.id}", True, detail=reason)

    def withdraw_revoked(self) -> list[str]:
        """The sweep's pass: withdraw the results of every job that may no longer serve them."""
        withdrawn = []
        for job in self.jobs.list(limit=1_000_000):
            if job.status is JobStatus.SUCCESSFUL and job.results:
                reason = self.withdrawal_reason(job)
                if reason is not None:
                    self._withdraw(job, reason, self.audit_log, SYSTEM, "job-withdraw")
                    withdrawn.append(job.id)
        return withdrawn

    # -- operating ----------------------------------------------------------------------
    def cancel(self, job: Job) -> Job:
        if not job.status.finished or job.status is JobStatus.SUCCESSFUL:
            job.status, job.finished = JobStatus.DISMISSED, now_utc()
            job.message, job.results = "dismissed by its owner", []
            self.jobs.save(job)
            self._delete_results(job.id)
        return job

    def expire_results(self) -> list[str]:
        """Delete result files past their expiry time; returns the jobs concerned."""
        expired = []
        for job in self.jobs.list(limit=1_000_000):
            if job.results and job.expires is not None and job.expires < now_utc():
                self._delete_results(job.id)
                job.results = []
                job.message = f"results expired at {job.expires.isoformat()}"
                self.jobs.save(job)
                expired.append(job.id)
        return expired

    def recover(self) -> list[str]:
        """Fail the jobs a dead runner left unfinished, then remove the work folders no live
        process will finish (`api.subset.workdir`); returns the failed jobs."""
        failed = self.jobs.fail_interrupted(INTERRUPTED)
        with self._active_lock:
            active = set(self._active)
        sweep_work_folders(work_root(self.settings), self.jobs, active)
        return failed

    def shutdown(self) -> None:
        self.scheduler.shutdown()  # queued jobs stay accepted: the next start fails them
        for pool in self._pools:
            pool.shutdown(wait=False, cancel_futures=True)


def start_expiry_sweeper(runner: JobRunner, every: float, stop: threading.Event) -> threading.Thread:
    """Every `every` seconds: expire result files, withdraw those their owner may no longer
    see, and fail jobs whose runner is gone (a replica on another host that died is noticed
    here, not only at a restart)."""
    def sweep() -> None:
        while not stop.wait(every):
            try:
                runner.expire_results()
                runner.withdraw_revoked()
                runner.recover()
            except Exception:  # pragma: no cover - logged, retried at the next sweep
                logger.exception("expiring job results failed")

    thread = threading.Thread(target=sweep, name="job-expiry", daemon=True)
    thread.start()
    return thread


def start_heartbeat(runner: JobRunner, every: float, stop: threading.Event) -> threading.Thread:
    """Refresh the heartbeat of this process's unfinished jobs every `every` seconds."""
    def beat() -> None:
        while not stop.wait(every):
            try:
                runner.heartbeat()
            except Exception:  # pragma: no cover - logged, retried at the next beat
                logger.exception("job heartbeat failed")

    thread = threading.Thread(target=beat, name="job-heartbeat", daemon=True)
    thread.start()
    return thread
