"""`SearchQuery` -> the JSON body of pgstac's ``search()``; items <-> what pgstac stores.

Geometry: pgstac turns a ``bbox`` into one envelope, so a box whose west edge is east of
its east edge (crossing the antimeridian) would select the wrong side of the body; such a
box goes to pgstac as an ``intersects`` MultiPolygon of the two boxes either side of 180°.
Query geometries are validated (and made valid) by the same code as the SQLite backend,
so both backends accept and refuse the same requests with the same messages.

Nulls: pgstac strips JSON nulls from the content it stores (``jsonb_strip_nulls`` while
dehydrating), but STAC needs them (``"datetime": null`` beside start/end, ``"proj:code":
null`` beside ``proj:wkt2``). `to_stored` records the paths of nulls under `NULLS_KEY`;
`from_stored` puts them back, so items round-trip unchanged. An item found only by its
bbox (``"geometry": null``) is stored with the box as its footprint and read back as null.
"""

from __future__ import annotations

import json
from typing import Any

import shapely

from catalog.base import MAX_LIMIT, SearchQuery, StacItem
from catalog.sqlite_query import _query_boxes, _query_geometry
from catalog.sqlite_rows import ItemRow
from datacenter.access import Viewer, visibility_cql2
from datacenter.errors import InvalidRequest

NULLS_KEY = "datacenter:nulls"
Path = list[str | int]
DEFAULT_SORT = (("datetime", "desc"), ("collection", "asc"), ("id", "asc"))


# items ------------------------------------------------------------------------------
def _null_paths(value: Any, path: Path, out: list[Path]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            if sub is None:
                out.append([*path, key])
            else:
                _null_paths(sub, [*path, key], out)
    elif isinstance(value, list):
        for n, sub in enumerate(value):
            if isinstance(sub, dict | list):
                _null_paths(sub, [*path, n], out)


def to_stored(item: StacItem, row: ItemRow) -> StacItem:
    """The item as handed to pgstac: nulls recorded, a footprint for bbox-only items."""
    nulls: list[Path] = []
    _null_paths(item, [], nulls)
    stored = dict(item)
    stored.pop(NULLS_KEY, None)
    if item.get("geometry") is None:
        stored["geometry"] = json.loads(shapely.to_geojson(shapely.from_wkb(row.wkb)))
    if nulls:
        stored[NULLS_KEY] = nulls
    return stored


def from_stored(item: StacItem) -> StacItem:
    """Undo `to_stored` on an item pgstac returned."""
    nulls = item.pop(NULLS_KEY, None)
    for path in nulls or ():
        target: Any = item
        for step in path[:-1]:
            target = target.setdefault(step, {}) if isinstance(target, dict) else target[step]
        if isinstance(target, dict):
            target[path[-1]] = None
    return item


# search -------------------------------------------------------------------------------
def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _box(w: float, s: float, e: float, n: float) -> list[list[list[float]]]:
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]


def check_limit(limit: Any) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit {limit!r} is out of range; use 1 to {MAX_LIMIT}")


def and_filters(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [f for f in filters if f]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"op": "and", "args": present}


def build_search(
    query: SearchQuery, collections: list[str] | None, viewer: Viewer
) -> dict[str, Any]:
    """The pgstac search body. `collections` is the request's list already narrowed to what
    the viewer may see (None: no restriction)."""
    body: dict[str, Any] = {"limit": query.limit}
    if collections is not None:
        body["collections"] = collections
    if query.ids:
        if isinstance(query.ids, str) or not all(isinstance(v, str) for v in query.ids):
            raise InvalidRequest(f"ids must be a list of strings, got {query.ids!r}")
        body["ids"] = list(dict.fromkeys(query.ids))
    if query.datetime is not None:
        start, end = query.datetime
        if start is not None and end is not None and start > end:
            raise InvalidRequest(f"datetime interval starts ({start}) after it ends ({end})")
        if start is not None or end is not None:
            body["datetime"] = f"{_iso(start) if start else '..'}/{_iso(end) if end else '..'}"
    if query.bbox is not None and query.intersects is not None:
        raise InvalidRequest("give either bbox or intersects, not both")
    if query.bbox is not None:
        boxes = _query_boxes(query.bbox)
        if len(boxes) == 1:
            body["bbox"] = list(boxes[0])
        else:  # across the antimeridian: one box either side of 180°
            body["intersects"] = {"type": "MultiPolygon", "coordinates": [_box(*b) for b in boxes]}
    elif query.intersects is not None:
        body["intersects"] = json.loads(shapely.to_geojson(_query_geometry(query.intersects)))
    cql2 = and_filters(query.filter, visibility_cql2(viewer))
    if cql2 is not None:
        body["filter"] = cql2
        body["filter-lang"] = "cql2-json"
    sortby = list(query.sortby or ())
    named = {field for field, _ in sortby}
    sortby += [s for s in DEFAULT_SORT if s[0] not in named] if not sortby else [
        s for s in DEFAULT_SORT[1:] if s[0] not in named
    ]
    body["sortby"] = [{"field": f, "direction": d} for f, d in sortby]
    if query.q:
        body["q"] = list(query.q)
    if query.token:
        body["token"] = query.token
    return body


def token_of(links: list[dict[str, Any]], rel: str) -> str | None:
    """The paging token of pgstac's `rel` link (``.../search?token=next:...``)."""
    for link in links:
        if link.get("rel") == rel:
            href = str(link.get("href", ""))
            return href.split("token=", 1)[1] if "token=" in href else None
    return None
