"""Jobs over HTTP, in the OGC API - Processes vocabulary.

    POST   /jobs                       a search + subset options -> 201, Location: /jobs/{id}
    GET    /jobs                       your jobs
    GET    /jobs/{id}                  status, progress (%), timestamps, message, error
    GET    /jobs/{id}/results          result files with sizes and checksums
    GET    /jobs/{id}/results/{name}   one file (Range supported, as for item assets)
    DELETE /jobs/{id}                  dismiss (cancel) the job; its files are deleted

A job is visible only to the partner that submitted it (and administrators): anyone else
gets the same 404 as for a job that does not exist.

Every route records its decision in the audit log, with the record ``jobs/{id}``: actions
``job-submit`` (and ``job-subset`` per item the job reads), ``jobs`` (a listing),
``job`` (status), ``job-cancel``, ``job-results`` (the listing, total size in the detail)
and ``download`` for a result file (with the bytes actually sent). A job another partner
owns is denied with detail "hidden", one that does not exist "missing"; a request without
a partner key is denied with detail "no partner key".

Results outlive nothing: every result listing and download re-checks, as the job's owner
sees the catalog now, every item and asset the results were made from, and that the
partner is still enabled. Results that fail are deleted and answered 404; the refusal is
audited with detail ``results withdrawn: <reason>`` (and a ``job-withdraw`` event by the
system). The expiry sweep makes the same check on every job with results.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from api.audit import audit
from api.deps import get_audit, get_store, get_viewer
from api.downloads import serve_key
from api.subset.jobs import JobRunner, owner_of, visible_job
from catalog.audit import AuditLog
from catalog.jobs import Job, JobNotFound, JobStatus, JobStore, now_utc
from datacenter.access import Viewer
from datacenter.errors import Conflict, PartnerRequired
from datacenter.storage import Store

router = APIRouter(tags=["Jobs"])


def get_runner(request: Request) -> JobRunner:
    return request.app.state.job_runner  # type: ignore[no-any-return]


def get_jobs(request: Request) -> JobStore:
    return request.app.state.job_runner.jobs  # type: ignore[no-any-return]


def status_info(request: Request, job: Job) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    links = [{"rel": "self", "href": f"{base}/jobs/{job.id}", "type": "application/json"}]
    if job.status is JobStatus.SUCCESSFUL and job.results:
        links.append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                      "href": f"{base}/jobs/{job.id}/results", "type": "application/json"})

    def iso(t: Any) -> str | None:
        return t.isoformat().replace("+00:00", "Z") if t is not None else None

    return {
        "jobID": job.id, "type": "process", "processID": "subset", "status": job.status.value,
        "message": job.message, "progress": round(job.progress * 100), "created": iso(job.created),
        "started": iso(job.started), "finished": iso(job.finished), "updated": iso(job.updated),
        "expires": iso(job.expires), "error": job.error, "links": links,
    }


def _partner(viewer: Viewer, log: AuditLog, action: str, record: str | None = None) -> str:
    """`owner_of(viewer)`, the refusal of an anonymous caller audited."""
    try:
        return owner_of(viewer)
    except PartnerRequired:
        audit(log, viewer, action, record, False, detail="no partner key")
        raise


def _job_for(jobs: JobStore, job_id: str, viewer: Viewer, log: AuditLog, action: str) -> Job:
    """`visible_job`, the refusal audited as "hidden" (another's job) or "missing"."""
    try:
        return visible_job(jobs, job_id, viewer)
    except JobNotFound:
        try:
            jobs.get(job_id)
            why = "hidden"
        except JobNotFound:
            why = "missing"
        audit(log, viewer, action, f"jobs/{job_id}", False, detail=why)
        raise


@router.post("/jobs", status_code=201, name="Submit a subset job")
def submit_job(
    request: Request,
    body: dict[str, Any] = Body(...),
    runner: JobRunner = Depends(get_runner),
    viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> JSONResponse:
    _partner(viewer, log, "job-submit")
    job = runner.submit(body, viewer, log)
    info = status_info(request, job)
    return JSONResponse(info, status_code=201, headers={"Location": info["links"][0]["href"]})


@router.get("/jobs", name="List your jobs")
def list_jobs(request: Request, jobs: JobStore = Depends(get_jobs),
              viewer: Viewer = Depends(get_viewer), log: AuditLog = Depends(get_audit)) -> dict[str, Any]:
    owner = None if viewer.admin else _partner(viewer, log, "jobs")
    listed = jobs.list(owner=owner)
    audit(log, viewer, "jobs", None, True, detail=f"{len(listed)} job(s)")
    return {"jobs": [status_info(request, j) for j in listed], "links": []}


@router.get("/jobs/{job_id}", name="Job status")
def job_status(request: Request, job_id: str, jobs: JobStore = Depends(get_jobs),
               viewer: Viewer = Depends(get_viewer), log: AuditLog = Depends(get_audit)) -> dict[str, Any]:
    job = _job_for(jobs, job_id, viewer, log, "job")
    audit(log, viewer, "job", f"jobs/{job_id}", True, detail=job.status.value)
    return status_info(request, job)


@router.delete("/jobs/{job_id}", name="Dismiss (cancel) a job")
def dismiss_job(request: Request, job_id: str, runner: JobRunner = Depends(get_runner),
                viewer: Viewer = Depends(get_viewer), log: AuditLog = Depends(get_audit)) -> dict[str, Any]:
    job = runner.cancel(_job_for(runner.jobs, job_id, viewer, log, "job-cancel"))
    audit(log, viewer, "job-cancel", f"jobs/{job_id}", True, detail=job.status.value)
    return status_info(request, job)


def _finished(job: Job) -> Job:
    if job.status is not JobStatus.SUCCESSFUL:
        raise Conflict(f"job {job.id} is {job.status.value}, so it has no results"
                       + (f": {job.error}" if job.error else ""))
    if job.expires is not None and job.expires < now_utc():
        raise JobNotFound(f"the results of job {job.id} expired at {job.expires.isoformat()}; "
                          "submit it again")
    if not job.results:
        raise JobNotFound(f"the results of job {job.id} are gone ({job.message}); submit it again")
    return job


@router.get("/jobs/{job_id}/results", name="Job results")
def job_results(request: Request, job_id: str, runner: JobRunner = Depends(get_runner),
                viewer: Viewer = Depends(get_viewer), log: AuditLog = Depends(get_audit)) -> dict[str, Any]:
    job = _finished(_job_for(runner.jobs, job_id, viewer, log, "job-results"))
    job = runner.checked_results(job, viewer, "job-results", log)
    audit(log, viewer, "job-results", f"jobs/{job_id}", True,
          detail=f"{len(job.results)} file(s), {sum(r.size for r in job.results)} bytes")
    base = str(request.base_url).rstrip("/")
    return {
        "files": [
            {"name": r.name, "href": f"{base}/jobs/{job.id}/results/{r.name}", "type": r.media_type,
             "file:size": r.size, "file:checksum": r.checksum}
            for r in job.results
        ],
        "expires": job.expires.isoformat().replace("+00:00", "Z") if job.expires else None,
    }


def download_result(request: Request, job_id: str, name: str, runner: JobRunner = Depends(get_runner),
                    store: Store = Depends(get_store), viewer: Viewer = Depends(get_viewer),
                    log: AuditLog = Depends(get_audit)) -> Response:
    """One result file; honours a single `Range`. Served only while the owner may still see
    every item and asset it was made from (`JobRunner.checked_results`)."""
    job = _finished(_job_for(runner.jobs, job_id, viewer, log, "download"))
    job = runner.checked_results(job, viewer, "download", log)
    result = next((r for r in job.results if r.name == name), None)
    if result is None:
        raise JobNotFound(f"job {job_id} has no result {name!r}; see /jobs/{job_id}/results")
    asset = {"type": result.media_type, "file:checksum": result.checksum}
    return serve_key(request, store, result.key, asset, f"result {name!r} of job {job_id}",
                     whole_asset=True, log=log, viewer=viewer, record=f"jobs/{job_id}/{name}")


for _method in ("GET", "HEAD"):
    router.add_api_route("/jobs/{job_id}/results/{name}", download_result, methods=[_method],
                         name=f"Download a job result ({_method})", response_class=Response)
