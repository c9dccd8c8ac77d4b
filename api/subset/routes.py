"""``GET``/``POST /collections/{cid}/items/{iid}/subset``: one item, answered synchronously.

The item is read through the catalog with the caller's viewer (a hidden item is a 404, a
hidden asset is not a variable). The size is estimated from shapes and dtypes before any
pixel is read; above the limit the answer is 413 with the estimate and the job to submit
instead. The file is written chunk by chunk to a temporary folder and streamed from disk.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.audit import audit
from api.client import lookup_item
from api.deps import get_audit, get_catalog, get_store, get_viewer
from api.subset.compute import write_subset
from api.subset.request import (
    MEDIA_TYPES,
    SUFFIXES,
    SubsetOptions,
    options_from_query,
    parse_options,
)
from api.subset.select import human_bytes, select
from api.subset.source import open_source
from catalog.audit import AuditLog
from catalog.base import Catalog
from datacenter.access import Viewer, visible_assets
from datacenter.compute import Compute
from datacenter.errors import TooLarge
from datacenter.settings import Settings
from datacenter.storage import Store

router = APIRouter(tags=["Subsets"])
#: what the 413 tells an anonymous caller, since jobs need a key (POST /jobs is 401 without)
_JOB_KEY = "a partner key (Authorization: Bearer <key>; anonymous callers cannot run jobs) and the body "


def get_compute(request: Request) -> Compute:
    return request.app.state.compute  # type: ignore[no-any-return]


def get_datacenter_settings(request: Request) -> Settings:
    return request.app.state.datacenter_settings or Settings()  # type: ignore[no-any-return]


def subset_item(
    catalog: Catalog, store: Store, compute: Compute, settings: Settings, viewer: Viewer,
    collection_id: str, item_id: str, options: SubsetOptions, log: AuditLog,
) -> FileResponse:
    item = lookup_item(catalog, collection_id, item_id, viewer, log, action="subset")
    item = {**item, "assets": visible_assets(viewer, item)}  # a hidden asset is no variable
    selection = select(open_source(item, store), options)
    limit = settings.subset_sync_limit
    if selection.nbytes > limit:
        job = {"collections": [collection_id], "ids": [item_id], **options.describe()}
        raise TooLarge(
            f"this subset is about {human_bytes(selection.nbytes)} ({selection.nbytes} bytes, "
            f"uncompressed), above the {human_bytes(limit)} answered directly; narrow bbox, "
            f"bands, datetime or raise step, or submit it as a job: POST /jobs with "
            f"{_JOB_KEY if viewer.anonymous else ''}{json.dumps(job)}"
        )
    work = Path(tempfile.mkdtemp(prefix="subset-"))
    name = f"{item_id}-subset{SUFFIXES[options.format]}"
    try:
        written = write_subset([selection], options.format, work / name, compute,
                               direct_limit=limit)
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


_PATH = "/collections/{collection_id}/items/{item_id}/subset"


@router.get(_PATH, response_class=FileResponse, name="Subset an item (query parameters)")
def subset_get(
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
    return subset_item(catalog, store, compute, settings, viewer, collection_id, item_id, options, log)


@router.post(_PATH, response_class=FileResponse, name="Subset an item (JSON body)")
def subset_post(
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
    return subset_item(catalog, store, compute, settings, viewer, collection_id, item_id, options, log)
