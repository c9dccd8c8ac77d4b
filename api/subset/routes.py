"""``GET``/``POST /collections/{cid}/items/{iid}/subset``: one item, answered synchronously.

The item is read through the catalog with the caller's viewer (a hidden item is a 404, a
hidden asset is not a variable). The size is estimated from shapes and dtypes on the output
grid before anything is built; above the limit the answer is 413 with the estimate and the
job to submit instead. The file is written chunk by chunk to a work folder
(``subset-<pid>-...`` under the work dir) and streamed from disk.

The work runs in a worker thread while the event loop watches the connection: a client
that disconnects cancels it between two Dask tasks (the folder is removed, the audit log
records the subset as abandoned). Only the direct COG copy (`api.subset.cog`, at most the
sync limit) runs to its end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.audit import audit
from api.client import lookup_item
from api.deps import get_audit, get_catalog, get_store, get_viewer
from api.subset.compute import JobCancelled, TaskTally, write_subset
from api.subset.request import (
    MEDIA_TYPES,
    SUFFIXES,
    SubsetOptions,
    options_from_query,
    parse_options,
)
from api.subset.select import OutputTooLarge, human_bytes, select
from api.subset.source import open_source
from api.subset.workdir import subset_work_prefix, work_root
from catalog.audit import AuditLog
from catalog.base import Catalog
from datacenter.access import Viewer, visible_assets
from datacenter.compute import Compute
from datacenter.errors import TooLarge
from datacenter.settings import Settings
from datacenter.storage import Store

logger = logging.getLogger(__name__)
router = APIRouter(tags=["Subsets"])
WATCH_EVERY = 0.2  # seconds between two looks at the client's connection
#: what the 413 tells an anonymous caller, since jobs need a key (POST /jobs is 401 without)
_JOB_KEY = "a partner key (Authorization: Bearer <key>; anonymous callers cannot run jobs) and the body "


def get_compute(request: Request) -> Compute:
    return request.app.state.compute  # type: ignore[no-any-return]


def get_datacenter_settings(request: Request) -> Settings:
    return request.app.state.datacenter_settings or Settings()  # type: ignore[no-any-return]


def subset_item(
    catalog: Catalog, store: Store, compute: Compute, settings: Settings, viewer: Viewer,
    collection_id: str, item_id: str, options: SubsetOptions, log: AuditLog,
    *, cancelled: Callable[[], bool] | None = None, tally: TaskTally | None = None,
) -> FileResponse:
    item = lookup_item(catalog, collection_id, item_id, viewer, log, action="subset")
    item = {**item, "assets": visible_assets(viewer, item)}  # a hidden asset is no variable
    limit = settings.subset_sync_limit
    try:  # the output grid is sized before anything is built (a reprojection included)
        selection = select(open_source(item, store), options, max_bytes=limit)
    except OutputTooLarge as exc:
        job = {"collections": [collection_id], "ids": [item_id], **options.describe()}
        if exc.nbytes > settings.job_max_bytes:
            raise TooLarge(
                f"this subset would be about {human_bytes(exc.nbytes)} ({exc.nbytes} bytes), above "
                f"even the cap on jobs ({human_bytes(settings.job_max_bytes)}); narrow bbox, bands "
                "or datetime, or ask for a coarser resolution or a larger step"
            ) from None
        raise TooLarge(
            f"this subset is about {human_bytes(exc.nbytes)} ({exc.nbytes} bytes, "
            f"uncompressed), above the {human_bytes(limit)} answered directly; narrow bbox, "
            f"bands, datetime or raise step, or submit it as a job: POST /jobs with "
            f"{_JOB_KEY if viewer.anonymous else ''}{json.dumps(job)}"
        ) from None
    work = Path(tempfile.mkdtemp(prefix=subset_work_prefix(), dir=work_root(settings)))
    name = f"{item_id}-subset{SUFFIXES[options.format]}"
    try:
        written = write_subset([selection], options.format, work / name, compute,
                               direct_limit=limit, cancelled=cancelled, tally=tally)
    except JobCancelled:
        shutil.rmtree(work, ignore_errors=True)
        audit(log, viewer, "subset", f"{collection_id}/{item_id}", True, bytes_served=0,
              detail="abandoned: the client disconnected before the subset was written")
        raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    audit(log, viewer, "subset", f"{collection_id}/{item_id}", True,
          bytes_served=written.size, detail=json.dumps(options.describe()))
    return FileResponse(
        written.path, media_type=MEDIA_TYPES[options.format], filename=name,
        headers={"X-Subset-Estimate-Bytes": str(selection.nbytes),
                 "Digest": f"sha-256={written.sha256}"},
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


async def _watched(request: Request, work: Callable[[Callable[[], bool]], Response]) -> Response:
    """`work(cancelled)` in a worker thread; `cancelled()` turns true once the client has gone."""
    gone = threading.Event()

    async def watch() -> None:
        while not await request.is_disconnected():
            await asyncio.sleep(WATCH_EVERY)
        gone.set()

    watcher = asyncio.create_task(watch())
    try:
        return await run_in_threadpool(work, gone.is_set)
    except JobCancelled:
        logger.info("%s %s: the client left; the subset was stopped", request.method, request.url.path)
        return Response(status_code=499)  # nobody reads it: nginx's "client closed request"
    finally:
        watcher.cancel()


def get_tally(request: Request) -> TaskTally | None:
    return getattr(request.app.state, "subset_tasks", None)


_PATH = "/collections/{collection_id}/items/{item_id}/subset"


@router.get(_PATH, response_class=FileResponse, name="Subset an item (query parameters)")
async def subset_get(
    request: Request,
    collection_id: str,
    item_id: str,
    catalog: Catalog = Depends(get_catalog),
    store: Store = Depends(get_store),
    compute: Compute = Depends(get_compute),
    settings: Settings = Depends(get_datacenter_settings),
    viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> FileResponse:
    """bbox=w,s,e,n (lon/lat; bbox-crs=native for item coordinates), datetime, variables,
    bands (values or ranges such as 900-1200), step or resolution, crs, format
    (netcdf | geotiff | zarr)."""
    options = options_from_query(dict(request.query_params))
    return await _watched(request, lambda cancelled: subset_item(
        catalog, store, compute, settings, viewer, collection_id, item_id, options, log,
        cancelled=cancelled, tally=get_tally(request)))


@router.post(_PATH, response_class=FileResponse, name="Subset an item (JSON body)")
async def subset_post(
    request: Request,
    collection_id: str,
    item_id: str,
    body: dict[str, Any] = Body(default_factory=dict),
    catalog: Catalog = Depends(get_catalog),
    store: Store = Depends(get_store),
    compute: Compute = Depends(get_compute),
    settings: Settings = Depends(get_datacenter_settings),
    viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> FileResponse:
    """The same options as GET, as JSON (lists for bbox, variables, bands)."""
    options = parse_options(body)
    return await _watched(request, lambda cancelled: subset_item(
        catalog, store, compute, settings, viewer, collection_id, item_id, options, log,
        cancelled=cancelled, tally=get_tally(request)))
