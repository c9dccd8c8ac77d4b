"""Asset downloads: ``GET``/``HEAD /collections/{cid}/items/{iid}/assets/{key}[/{subpath}]``.

The item is looked up through the catalog dependency (so an access filter that wraps the
catalog guards downloads too), the asset's stored `href` is a store key, and bytes stream
from the `Store` in chunks with single-range support (RFC 9110 section 14):

* ``bytes=a-b``, ``bytes=a-``, ``bytes=-n`` -> 206 with ``Content-Range``;
* a range starting past the end (or ``bytes=-0``) -> 416 with ``Content-Range: bytes */size``;
* no Range, several ranges, or a malformed header -> 200 and the whole object.

Multi-file assets (a Zarr store) have a folder prefix as key; ``{subpath}`` is joined under
it and checked by `check_key`, so ``..``, absolute paths and schemes never reach the store.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from api.audit import audit
from api.client import lookup_item
from api.deps import get_audit, get_catalog, get_store, get_viewer
from catalog.audit import AuditLog
from catalog.base import Catalog
from datacenter.access import Viewer, visible_assets
from datacenter.errors import (
    AssetNotFound,
    DatacenterError,
    InvalidKey,
    NotFound,
    RangeNotSatisfiable,
)
from datacenter.storage import Store, check_key

router = APIRouter(tags=["Asset downloads"])

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
ByteRange = tuple[int, int]


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The inclusive byte range a single-range header asks for; None means the whole object."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or (not match[1] and not match[2]):
        return None  # several ranges or not a bytes range: ignored, the whole object is sent
    first, last = match[1], match[2]
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return (max(size - n, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise _unsatisfiable(header, size)
    return (start, min(end, size - 1))


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiable:
    exc = RangeNotSatisfiable(
        f"Range {header!r} asks for bytes outside the object, which has {size} bytes"
    )
    exc.headers = {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}  # type: ignore[attr-defined]
    return exc


def resolve_key(
    catalog: Catalog,
    collection_id: str,
    item_id: str,
    asset_key: str,
    subpath: str | None,
    viewer: Viewer,
    log: AuditLog,
) -> tuple[str, dict[str, Any]]:
    """The store key to read and the asset it belongs to (404/400 via the status table).

    A hidden item or asset is 404 with the same body as a missing one: the item comes from
    the catalog filtered for `viewer`, the asset from `visible_assets` (the rule items are
    presented with), and the error lists only the assets `viewer` sees."""
    if subpath is not None:
        check_key(subpath)  # before any lookup: '..', '/abs', 's3://' are refused outright
    item = lookup_item(catalog, collection_id, item_id, viewer, log, action="download")
    assets = visible_assets(viewer, item)
    asset = assets.get(asset_key)
    if asset is None:
        hidden = asset_key in (item.get("assets") or {})
        audit(log, viewer, "download", f"{collection_id}/{item_id}#{asset_key}", False,
              detail="hidden" if hidden else "missing")
        names = ", ".join(sorted(assets)) or "none"
        raise AssetNotFound(
            f"item {item_id!r} in collection {collection_id!r} has no asset {asset_key!r}; "
            f"its assets are: {names}"
        )
    try:
        root = check_key(str(asset.get("href", "")))
    except InvalidKey as exc:
        raise DatacenterError(
            f"asset {asset_key!r} of item {item_id!r} is stored with an href that is not a "
            "store key; re-ingest the item"
        ) from exc
    key = check_key(posixpath.join(root, subpath)) if subpath is not None else root
    return key, asset


def _headers(key: str, asset: dict[str, Any], size: int, whole_asset: bool) -> dict[str, str]:
    filename = posixpath.basename(key)
    media_type = asset.get("type") if whole_asset else None
    media_type = media_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": str(media_type),
        "Content-Length": str(size),
        "Content-Disposition": _disposition(filename),
    }
    checksum = asset.get("file:checksum") if whole_asset else None
    if checksum:
        headers["ETag"] = f'"{checksum}"'
    return headers


def _disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback name and the exact UTF-8 one."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def _size(store: Store, key: str, what: str) -> int:
    """The object's size; a missing object is `AssetNotFound` that does not reveal the key."""
    try:
        return store.info(key).size
    except NotFound as exc:
        raise AssetNotFound(f"{what} has no stored file (or is a folder, not a file)") from exc


def _counted(
    chunks: Iterator[bytes], log: AuditLog, viewer: Viewer, record: str, detail: str
) -> Iterator[bytes]:
    """The chunks, auditing the bytes actually sent once the stream ends (or is cut)."""
    sent = 0
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
    finally:
        audit(log, viewer, "download", record, True, bytes_served=sent, detail=detail)


def _serve(
    request: Request,
    catalog: Catalog,
    store: Store,
    collection_id: str,
    item_id: str,
    asset_key: str,
    subpath: str | None,
    viewer: Viewer,
    log: AuditLog,
) -> Response:
    key, asset = resolve_key(catalog, collection_id, item_id, asset_key, subpath, viewer, log)
    record = f"{collection_id}/{item_id}#{asset_key}"
    what = f"asset {asset_key!r} of item {item_id!r} in collection {collection_id!r}"
    return serve_key(request, store, key, asset, what if subpath is None else f"{subpath!r} inside {what}",
                     whole_asset=subpath is None, log=log, viewer=viewer, record=record, part=subpath)


def serve_key(
    request: Request, store: Store, key: str, asset: dict[str, Any], what: str, *, whole_asset: bool,
    log: AuditLog | None = None, viewer: Viewer | None = None, record: str | None = None,
    part: str | None = None,
) -> Response:
    """Stream the stored object `key` (described by the STAC-asset-like `asset`: type,
    file:checksum) with single-Range support; used for item assets and job results. With
    `log`, the bytes sent to `viewer` for `record` (`part` of it) go to the audit log."""
    size = _size(store, key, what)
    headers = _headers(key, asset, size, whole_asset=whole_asset)
    byte_range = parse_range(request.headers.get("range"), size)
    status = 200
    start, end = 0, size - 1
    if byte_range is not None:
        start, end = byte_range
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
    media_type = headers.pop("Content-Type")
    detail = " ".join(filter(None, [request.method, part, headers.get("Content-Range")]))
    if request.method == "HEAD" or size == 0:
        if log is not None and viewer is not None:
            audit(log, viewer, "download", record, True, bytes_served=0, detail=detail)
        return Response(status_code=status, headers=headers, media_type=media_type)
    chunks = store.iter_range(key, start, end)
    if log is not None and viewer is not None:
        chunks = _counted(chunks, log, viewer, record or key, detail)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type)


_PATH = "/collections/{collection_id}/items/{item_id}/assets/{asset_key}"


def download_asset(
    request: Request,
    collection_id: str,
    item_id: str,
    asset_key: str,
    catalog: Catalog = Depends(get_catalog),
    store: Store = Depends(get_store),
    viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> Response:
    """The asset's bytes; honours a single `Range`."""
    return _serve(request, catalog, store, collection_id, item_id, asset_key, None, viewer, log)


def download_asset_part(
    request: Request,
    collection_id: str,
    item_id: str,
    asset_key: str,
    subpath: str,
    catalog: Catalog = Depends(get_catalog),
    store: Store = Depends(get_store),
    viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> Response:
    """One file inside a multi-file asset (e.g. a Zarr chunk); honours a single `Range`."""
    return _serve(request, catalog, store, collection_id, item_id, asset_key, subpath, viewer, log)


# One route per method, so each gets its own OpenAPI operation id.
for _method in ("GET", "HEAD"):
    router.add_api_route(
        _PATH, download_asset, methods=[_method], name=f"Download asset ({_method})",
        response_class=Response,
    )
    router.add_api_route(
        _PATH + "/{subpath:path}", download_asset_part, methods=[_method],
        name=f"Download part of a multi-file asset ({_method})", response_class=Response,
    )
