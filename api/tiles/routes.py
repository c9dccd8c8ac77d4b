"""Tile routes: XYZ tiles of one raster item and of a search mosaic, TileJSON, the grids.

    GET /collections/{cid}/items/{iid}/tiles/{tms}/{z}/{x}/{y}.{png|webp}
    GET /collections/{cid}/items/{iid}/tiles/{tms}/tilejson.json
    GET /collections/{cid}/tiles/{tms}/{z}/{x}/{y}.{png|webp}    (mosaic of that collection)
    GET /search/tiles/{tms}/{z}/{x}/{y}.{png|webp}               (mosaic of a search)
    GET /collections/{cid}/tiles/{tms}/tilejson.json, /search/tiles/{tms}/tilejson.json
    GET /tileMatrixSets, /tileMatrixSets/{tms}

The item comes from the catalog filtered for the caller (`lookup_item`, as downloads do), so
a tile of an item the caller may not see is 404 exactly like a missing one; a mosaic draws
only what the caller's search returns. Answers carry an ETag (the drawn assets' checksums,
the tile and the options): ``If-None-Match`` gives 304. What a partner key sees may differ
from what anyone sees, so keyed answers are ``Cache-Control: private``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.audit import audit
from api.client import build_query, lookup_item
from api.deps import get_audit, get_catalog, get_store, get_viewer
from api.links import base_url, collection_url, item_url
from api.tiles.grids import GRIDS, check_tile, tile_lonlat_bbox, tile_matrix_set
from api.tiles.render import (
    FORMATS,
    RenderOptions,
    auto_range,
    cog_asset,
    open_reader,
    read_item_tile,
    read_mosaic_tile,
    render_image,
)
from catalog.audit import AuditLog
from catalog.base import Catalog, StacItem
from datacenter.access import Viewer
from datacenter.errors import InvalidRequest, NotFound, TileNotFound
from datacenter.storage import Store

router = APIRouter(tags=["Map tiles"])

#: most items one mosaic tile may draw (newest first)
MOSAIC_ITEMS = 50
MOSAIC_MAX_ZOOM = 12
MAX_AGE = 3600

Format = Path(..., pattern="^(png|webp)$", description="png or webp")
Bidx = Query(None, description="band numbers, from 1 (repeat or comma-separate)")
Rescale = Query(None, description="min,max mapped to 0..255 (repeat per band)")
Colormap = Query(None, description="a rio-tiler colour map name (one band): gray, viridis, terrain ...")


def _options(bidx: list[str] | None, rescale: list[str] | None, colormap: str | None) -> RenderOptions:
    bands: list[int] = []
    for text in bidx or ():
        for part in text.split(","):
            try:
                bands.append(int(part))
            except ValueError:
                raise InvalidRequest(f"bidx={text!r} must be band numbers such as 1 or 1,2,3") from None
    return RenderOptions.parse(bands or None, rescale, colormap)


def _cache_headers(viewer: Viewer, parts: list[str]) -> dict[str, str]:
    etag = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    scope = "public" if viewer.anonymous else "private"
    return {"ETag": f'"{etag}"', "Cache-Control": f"{scope}, max-age={MAX_AGE}",
            "Vary": "Authorization, X-API-Key"}  # fmt: skip


def _not_modified(request: Request, headers: dict[str, str]) -> Response | None:
    match = request.headers.get("if-none-match")
    if match and headers["ETag"] in [m.strip() for m in match.split(",")]:
        return Response(status_code=304, headers=headers)
    return None


def _checksum(item: StacItem) -> str:
    _, asset = cog_asset(item)
    return f"{item.get('collection')}/{item['id']}:{asset.get('file:checksum') or asset.get('href')}"


@router.get("/collections/{collection_id}/items/{item_id}/tiles/{tms_id}/{z}/{x}/{y}.{fmt}",
            response_class=Response, name="Item tile",
            responses={200: {"content": {"image/png": {}, "image/webp": {}}}})  # fmt: skip
async def item_tile(
    request: Request, collection_id: str, item_id: str, tms_id: str, z: int, x: int, y: int,
    fmt: str = Format, bidx: list[str] | None = Bidx, rescale: list[str] | None = Rescale,
    colormap: str | None = Colormap, catalog: Catalog = Depends(get_catalog),
    store: Store = Depends(get_store), viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> Response:  # fmt: skip
    """One tile of the item's COG in a lunar grid (404 if the caller may not see the item)."""
    tms = tile_matrix_set(tms_id)
    tile = check_tile(tms, z, x, y)
    options = _options(bidx, rescale, colormap)
    item = await run_in_threadpool(lookup_item, catalog, collection_id, item_id, viewer, log, "tile")
    headers = _cache_headers(viewer, [_checksum(item), tms_id, f"{z}/{x}/{y}.{fmt}", str(options)])
    if (cached := _not_modified(request, headers)) is not None:
        return cached

    def draw() -> bytes:
        image = read_item_tile(store, item, tms, tile, options)
        return render_image(image, options, fmt, auto_range(store, item))

    body = await run_in_threadpool(draw)
    return Response(body, media_type=FORMATS[fmt][1], headers=headers)


def _mosaic_items(catalog: Catalog, viewer: Viewer, tms_id: str, z: int, x: int, y: int,
                  params: dict[str, Any]) -> list[StacItem]:  # fmt: skip
    tms = tile_matrix_set(tms_id)
    tile = check_tile(tms, z, x, y)
    west, south, east, north = tile_lonlat_bbox(tms, tile)
    query = build_query(**params, bbox=[west, south, east, north], limit=MOSAIC_ITEMS, viewer=viewer)
    items = catalog.search(query).items
    drawable = []
    for item in items:
        try:
            cog_asset(item)
        except NotFound:  # an item without a COG (a Zarr cube) is simply not drawn
            continue
        drawable.append(item)
    return drawable


async def _mosaic_tile(
    request: Request, tms_id: str, z: int, x: int, y: int, fmt: str, options: RenderOptions,
    params: dict[str, Any], catalog: Catalog, store: Store, viewer: Viewer, log: AuditLog,
) -> Response:  # fmt: skip
    items = await run_in_threadpool(_mosaic_items, catalog, viewer, tms_id, z, x, y, params)
    headers = _cache_headers(viewer, [*map(_checksum, items), tms_id, f"{z}/{x}/{y}.{fmt}",
                                      str(options), str(sorted(params.items()))])  # fmt: skip
    if (cached := _not_modified(request, headers)) is not None:
        return cached
    if not items:
        raise TileNotFound(f"no visible item has pixels in tile {z}/{x}/{y} of {tms_id}")
    tms = tile_matrix_set(tms_id)

    def draw() -> bytes:
        image = read_mosaic_tile(store, items, tms, check_tile(tms, z, x, y), options)
        return render_image(image, options, fmt, auto_range(store, items[0]))

    body = await run_in_threadpool(draw)
    audit(log, viewer, "tile", f"mosaic:{tms_id}/{z}/{x}/{y}", True,
          detail=",".join(f"{i.get('collection')}/{i['id']}" for i in items)[:500])
    return Response(body, media_type=FORMATS[fmt][1], headers=headers)


@router.get("/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}.{fmt}", response_class=Response,
            name="Collection mosaic tile")  # fmt: skip
async def collection_tile(
    request: Request, collection_id: str, tms_id: str, z: int, x: int, y: int,
    fmt: str = Format, datetime: str | None = None, q: str | None = None,
    filter: str | None = None, bidx: list[str] | None = Bidx,  # noqa: A002
    rescale: list[str] | None = Rescale, colormap: str | None = Colormap,
    catalog: Catalog = Depends(get_catalog), store: Store = Depends(get_store),
    viewer: Viewer = Depends(get_viewer), log: AuditLog = Depends(get_audit),
) -> Response:  # fmt: skip
    """A tile of every visible item of the collection (newest on top), filtered like /search."""
    params = {"collections": [collection_id], "datetime": datetime, "q": q, "filter_expr": filter}
    return await _mosaic_tile(request, tms_id, z, x, y, fmt, _options(bidx, rescale, colormap),
                              params, catalog, store, viewer, log)  # fmt: skip


@router.get("/search/tiles/{tms_id}/{z}/{x}/{y}.{fmt}", response_class=Response, name="Search mosaic tile")
async def search_tile(
    request: Request, tms_id: str, z: int, x: int, y: int, fmt: str = Format,
    collections: str | None = None, ids: str | None = None, datetime: str | None = None,
    q: str | None = None, filter: str | None = None,  # noqa: A002
    bidx: list[str] | None = Bidx, rescale: list[str] | None = Rescale,
    colormap: str | None = Colormap, catalog: Catalog = Depends(get_catalog),
    store: Store = Depends(get_store), viewer: Viewer = Depends(get_viewer),
    log: AuditLog = Depends(get_audit),
) -> Response:  # fmt: skip
    """A tile of the items a search returns for the caller (newest on top)."""
    params = {"collections": collections, "ids": ids, "datetime": datetime, "q": q,
              "filter_expr": filter}  # fmt: skip
    return await _mosaic_tile(request, tms_id, z, x, y, fmt, _options(bidx, rescale, colormap),
                              params, catalog, store, viewer, log)  # fmt: skip


def _tilejson(request: Request, template: str, tms_id: str, minzoom: int, maxzoom: int,
              bounds: list[float], name: str) -> dict[str, Any]:  # fmt: skip
    query = request.url.query
    tiles = template + "/{z}/{x}/{y}.png" + (f"?{query}" if query else "")
    west, south, east, north = bounds
    return {
        "tilejson": "3.0.0", "name": name, "scheme": "xyz", "tiles": [tiles],
        "minzoom": minzoom, "maxzoom": maxzoom, "bounds": bounds,
        "center": [(west + east) / 2, (south + north) / 2, minzoom],
        "crs": GRIDS[tms_id][0], "tileMatrixSet": tms_id,
    }  # fmt: skip


@router.get("/collections/{collection_id}/items/{item_id}/tiles/{tms_id}/tilejson.json", name="Item TileJSON")
async def item_tilejson(
    request: Request, collection_id: str, item_id: str, tms_id: str,
    catalog: Catalog = Depends(get_catalog), store: Store = Depends(get_store),
    viewer: Viewer = Depends(get_viewer), log: AuditLog = Depends(get_audit),
) -> dict[str, Any]:  # fmt: skip
    """TileJSON 3.0 of the item in a grid: its tile URL template, zooms and bounds."""
    tms = tile_matrix_set(tms_id)
    item = await run_in_threadpool(lookup_item, catalog, collection_id, item_id, viewer, log, "tile")

    def zooms() -> tuple[int, int]:
        with open_reader(store, item, tms) as reader:
            return reader.minzoom, reader.maxzoom

    minzoom, maxzoom = await run_in_threadpool(zooms)
    template = f"{item_url(base_url(request), collection_id, item_id)}/tiles/{tms_id}"
    return _tilejson(request, template, tms_id, minzoom, maxzoom, list(item.get("bbox") or [-180, -90, 180, 90]),
                     item.get("properties", {}).get("title") or item_id)  # fmt: skip


@router.get("/collections/{collection_id}/tiles/{tms_id}/tilejson.json", name="Collection mosaic TileJSON")
async def collection_tilejson(request: Request, collection_id: str, tms_id: str,
                              catalog: Catalog = Depends(get_catalog),
                              viewer: Viewer = Depends(get_viewer)) -> dict[str, Any]:  # fmt: skip
    """TileJSON of the collection's mosaic (404 if the caller may not see the collection)."""
    tile_matrix_set(tms_id)
    collection = await run_in_threadpool(catalog.get_collection, collection_id, viewer=viewer)
    bbox = ((collection.get("extent") or {}).get("spatial") or {}).get("bbox") or [[-180, -90, 180, 90]]
    template = f"{collection_url(base_url(request), collection_id)}/tiles/{tms_id}"
    return _tilejson(request, template, tms_id, 0, MOSAIC_MAX_ZOOM, list(bbox[0]),
                     collection.get("title") or collection_id)  # fmt: skip


@router.get("/search/tiles/{tms_id}/tilejson.json", name="Search mosaic TileJSON")
async def search_tilejson(request: Request, tms_id: str) -> dict[str, Any]:
    """TileJSON of a search mosaic (the search parameters ride along in the URL template)."""
    tile_matrix_set(tms_id)
    return _tilejson(request, f"{base_url(request)}search/tiles/{tms_id}", tms_id, 0,
                     MOSAIC_MAX_ZOOM, [-180, -90, 180, 90], "search mosaic")  # fmt: skip


@router.get("/tileMatrixSets", name="Tile matrix sets")
async def tile_matrix_sets(request: Request) -> dict[str, Any]:
    """The lunar grids tiles are served in (OGC API - Tiles)."""
    base = base_url(request)
    return {"tileMatrixSets": [
        {"id": tid, "title": GRIDS[tid][1], "crs": GRIDS[tid][0],
         "links": [{"rel": "self", "type": "application/json", "href": f"{base}tileMatrixSets/{tid}"}]}
        for tid in GRIDS
    ]}  # fmt: skip


@router.get("/tileMatrixSets/{tms_id}", name="Tile matrix set")
async def tile_matrix_set_doc(tms_id: str) -> dict[str, Any]:
    """One grid as an OGC TileMatrixSet 2.0 document."""
    return tile_matrix_set(tms_id).model_dump(exclude_none=True, mode="json")  # type: ignore[no-any-return]
