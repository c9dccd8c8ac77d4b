"""The STAC API Aggregation extension: ``/aggregations``, ``/aggregate`` and
``/collections/{cid}/aggregate`` (GET with the /search query parameters, or POST with a
search body plus ``aggregations``).

Counts come from the same catalog search the caller's ``/search`` runs (the access filter
is applied inside the backend's query), so a bucket never counts a record the caller may
not see, on SQLite and pgstac alike: ``total_count`` is the search's ``numberMatched`` (from
the count tables where the backend has them); the frequency aggregations walk the matching
items page by page (properties only) up to `MAX_ITEMS`, above which the answer is a 400
asking for a narrower search. Buckets:

* ``collection_frequency``, ``mission_frequency``, ``platform_frequency``,
  ``instrument_frequency`` (each of an item's instruments), ``processing_level_frequency``;
* ``datetime_frequency`` by ``datetime_frequency_interval`` = ``year`` | ``month`` (default) | ``day``
  (an item with a time range counts at its start);
* ``centroid_lonlat_grid_frequency``: the lon/lat cell (``grid_size`` degrees, default 10)
  of the centre of each item's bbox on the body, keyed ``"west,south"`` (a bbox across the
  antimeridian is centred across it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from starlette.concurrency import run_in_threadpool

from api.client import build_query
from api.deps import get_catalog, get_viewer
from api.links import base_url
from catalog.base import MAX_LIMIT, Catalog, StacItem
from datacenter.access import Viewer
from datacenter.errors import InvalidRequest

router = APIRouter(tags=["Aggregation"])
MAX_ITEMS = 200_000
INTERVALS = {"year": 4, "month": 7, "day": 10}


def _prop(name: str) -> Callable[[StacItem], Iterable[Any]]:
    def keys(item: StacItem) -> Iterable[Any]:
        value = (item.get("properties") or {}).get(name)
        return [] if value is None else value if isinstance(value, list) else [value]

    return keys


FREQUENCIES: dict[str, tuple[str, Callable[[StacItem], Iterable[Any]]]] = {
    "collection_frequency": ("Items per collection", lambda item: [item.get("collection")]),
    "mission_frequency": ("Items per mission", _prop("mission")),
    "platform_frequency": ("Items per platform", _prop("platform")),
    "instrument_frequency": ("Items per instrument", _prop("instruments")),
    "processing_level_frequency": ("Items per processing level", _prop("processing:level")),
}
SPECIAL = {
    "total_count": ("integer", "Number of matching items"),
    "datetime_frequency": ("frequency_distribution", "Items per year, month or day (datetime_frequency_interval)"),
    "centroid_lonlat_grid_frequency": ("frequency_distribution",
                                       "Items per lon/lat cell of grid_size degrees (by bbox centre)"),
}  # fmt: skip


def available() -> list[dict[str, str]]:
    out = [{"name": n, "data_type": t, "title": title} for n, (t, title) in SPECIAL.items()]
    out += [{"name": n, "data_type": "frequency_distribution", "title": title}
            for n, (title, _) in FREQUENCIES.items()]  # fmt: skip
    return sorted(out, key=lambda a: a["name"])


def _names(value: Any) -> list[str]:
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value or []) if n.strip()]
    known = {a["name"] for a in available()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidRequest(f"aggregations {', '.join(unknown)} are not known; available: {', '.join(sorted(known))}")
    return names or ["total_count"]


def _when(item: StacItem) -> str | None:
    props = item.get("properties") or {}
    return props.get("datetime") or props.get("start_datetime")


def _cell(item: StacItem, size: float) -> str | None:
    bbox = item.get("bbox")
    if not bbox or len(bbox) < 4:
        return None
    west, south, east, north = bbox[0], bbox[1], bbox[-2], bbox[-1]
    if west > east:
        east += 360
    lon = (west + east) / 2
    lon = ((lon + 180) % 360) - 180
    lat = (south + north) / 2
    cell_lon = math.floor(lon / size) * size
    cell_lat = min(math.floor(lat / size) * size, 90 - size)
    return f"{cell_lon:g},{cell_lat:g}"


def aggregate(catalog: Catalog, viewer: Viewer, params: dict[str, Any], names: list[str],
              interval: str = "month", grid_size: float = 10.0) -> list[dict[str, Any]]:  # fmt: skip
    """The aggregations `names` over what `params` (search parameters) match for `viewer`."""
    if interval not in INTERVALS:
        raise InvalidRequest(f"datetime_frequency_interval={interval!r} is not one of: {', '.join(INTERVALS)}")
    if not 0 < grid_size <= 90 or not (180 / grid_size).is_integer():
        raise InvalidRequest(f"grid_size={grid_size:g} must divide 180 degrees (e.g. 1, 5, 10, 30)")
    result: list[dict[str, Any]] = []
    walk = [n for n in names if n != "total_count"]
    counters: dict[str, Counter[Any]] = {n: Counter() for n in walk}
    query = build_query(**params, limit=MAX_LIMIT if walk else 1, viewer=viewer)
    page = catalog.search(query)
    total = page.number_matched
    seen = 0
    while walk:
        for item in page.items:
            for name in walk:
                if name in FREQUENCIES:
                    counters[name].update(k for k in FREQUENCIES[name][1](item) if k is not None)
                elif name == "datetime_frequency" and (when := _when(item)):
                    counters[name][when[: INTERVALS[interval]]] += 1
                elif name == "centroid_lonlat_grid_frequency" and (cell := _cell(item, grid_size)):
                    counters[name][cell] += 1
        seen += len(page.items)
        if not page.next_token:
            break
        if seen >= MAX_ITEMS:
            raise InvalidRequest(
                f"more than {MAX_ITEMS} items match; frequency aggregations walk the matches, so "
                "narrow the search (collections, datetime, bbox) or ask only for total_count"
            )
        page = catalog.search(build_query(**params, limit=MAX_LIMIT, token=page.next_token, viewer=viewer))
    for name in names:
        if name == "total_count":
            result.append({"name": name, "data_type": "integer",
                           "value": total if total is not None else (seen if walk else None)})
            continue
        buckets = [{"key": _bucket_key(name, k, interval), "data_type": "frequency_distribution", "frequency": n}
                   for k, n in sorted(counters[name].items(), key=lambda kv: (-kv[1], str(kv[0])))]  # fmt: skip
        if name == "datetime_frequency":
            buckets.sort(key=lambda b: b["key"])
        result.append({"name": name, "data_type": "frequency_distribution", "overflow": 0, "buckets": buckets})
    return result


def _bucket_key(name: str, key: Any, interval: str) -> str:
    if name != "datetime_frequency":
        return str(key)
    pad = {"year": "-01-01", "month": "-01", "day": ""}[interval]
    return f"{key}{pad}T00:00:00Z"


def _answer(request: Request, aggregations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "AggregationCollection", "aggregations": aggregations,
            "links": [{"rel": "self", "type": "application/json", "href": str(request.url)},
                      {"rel": "root", "type": "application/json", "href": base_url(request)}]}  # fmt: skip


def _get_params(request: Request, collection_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    q = request.query_params
    params = {"collections": [collection_id] if collection_id else q.get("collections"), "ids": q.get("ids"),
              "bbox": q.get("bbox"), "datetime": q.get("datetime"), "filter_expr": q.get("filter"),
              "filter_lang": q.get("filter-lang"), "q": q.get("q")}  # fmt: skip
    try:
        grid = float(q.get("grid_size", "10"))
    except ValueError:
        raise InvalidRequest(f"grid_size={q.get('grid_size')!r} is not a number of degrees") from None
    extra = {"names": _names(q.get("aggregations")), "interval": q.get("datetime_frequency_interval", "month"),
             "grid_size": grid}  # fmt: skip
    return params, extra


def _post_params(body: dict[str, Any], collection_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object: a search plus 'aggregations'")
    params = {"collections": [collection_id] if collection_id else body.get("collections"),
              "ids": body.get("ids"), "bbox": body.get("bbox"), "intersects": body.get("intersects"),
              "datetime": body.get("datetime"), "filter_expr": body.get("filter"),
              "filter_lang": body.get("filter-lang"), "q": body.get("q")}  # fmt: skip
    grid = body.get("grid_size", 10)
    if not isinstance(grid, int | float):
        raise InvalidRequest(f"grid_size={grid!r} is not a number of degrees")
    extra = {"names": _names(body.get("aggregations")),
             "interval": body.get("datetime_frequency_interval", "month"), "grid_size": float(grid)}  # fmt: skip
    return params, extra


async def _run(request: Request, catalog: Catalog, viewer: Viewer, pair: tuple[dict, dict]) -> dict[str, Any]:
    params, extra = pair
    out = await run_in_threadpool(aggregate, catalog, viewer, params, extra["names"], extra["interval"],
                                  extra["grid_size"])  # fmt: skip
    return _answer(request, out)


@router.get("/aggregations", name="Available aggregations")
@router.get("/collections/{collection_id}/aggregations", name="Available aggregations of a collection")
async def aggregations(request: Request, collection_id: str | None = None,
                       catalog: Catalog = Depends(get_catalog),
                       viewer: Viewer = Depends(get_viewer)) -> dict[str, Any]:  # fmt: skip
    """The aggregations `/aggregate` answers."""
    if collection_id is not None:
        await run_in_threadpool(catalog.get_collection, collection_id, viewer=viewer)
    return {"aggregations": available(),
            "links": [{"rel": "root", "type": "application/json", "href": base_url(request)}]}  # fmt: skip


@router.get("/aggregate", name="Aggregate a search")
async def aggregate_get(request: Request, catalog: Catalog = Depends(get_catalog),
                        viewer: Viewer = Depends(get_viewer)) -> dict[str, Any]:  # fmt: skip
    """Counts over a search given as /search query parameters plus `aggregations`."""
    return await _run(request, catalog, viewer, _get_params(request, None))


@router.post("/aggregate", name="Aggregate a search (POST)")
async def aggregate_post(request: Request, body: dict[str, Any] = Body(...),
                         catalog: Catalog = Depends(get_catalog),
                         viewer: Viewer = Depends(get_viewer)) -> dict[str, Any]:  # fmt: skip
    """Counts over a search body plus `aggregations`."""
    return await _run(request, catalog, viewer, _post_params(body, None))


@router.get("/collections/{collection_id}/aggregate", name="Aggregate a collection")
async def collection_aggregate(request: Request, collection_id: str, catalog: Catalog = Depends(get_catalog),
                               viewer: Viewer = Depends(get_viewer)) -> dict[str, Any]:  # fmt: skip
    """Counts over the collection's items (404 if the caller may not see the collection)."""
    await run_in_threadpool(catalog.get_collection, collection_id, viewer=viewer)
    return await _run(request, catalog, viewer, _get_params(request, collection_id))
