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
bbox (``"geometry": null``) is stored with the box as its footprint and read back as null;
one with neither (placeless) with a stand-in point that no query meets (`PLACELESS_X`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import shapely

from catalog.base import MAX_LIMIT, SearchQuery, StacItem
from catalog.items import ItemRow
from catalog.query.spatial import query_boxes, query_geometry
from datacenter.access import ACCESS, EMBARGO_UNTIL, OWNER, RELEASABLE_TO, Viewer
from datacenter.errors import InvalidRequest

NULLS_KEY = "datacenter:nulls"
#: pgstac stores a geometry with every item; one with ``"geometry": null`` and no bbox (valid
#: STAC: a raw image whose label says nothing of where it looked) gets this stand-in, far
#: outside lon/lat, so no query geometry (all validated within -180..180, -90..90) meets it
#: and extents leave it out (`PLACED_SQL`: the rows that have a place)
PLACELESS_X = 1000.0
PLACELESS_GEOJSON = {"type": "Point", "coordinates": [PLACELESS_X, PLACELESS_X]}
PLACED_SQL = f"st_xmin(geometry) < {PLACELESS_X}"
Path = list[str | int]


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
    if item.get("geometry") is None and item.get("bbox") is None:
        stored["geometry"] = PLACELESS_GEOJSON  # read back as null (its path is in the nulls)
    elif item.get("geometry") is None:
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


def build_search(
    query: SearchQuery, collections: list[str] | None, viewer: Viewer
) -> dict[str, Any]:
    """The pgstac search body whose ``stac_search_to_where`` is the base of the WHERE clause:
    collections, ids, datetime, bbox / intersects and the viewer's access rule. The user's
    filter, `q` and the order are translated by `catalog.pgstac.cql2` / `catalog.pgstac.sort`.
    `collections` is the request's list already narrowed to what the viewer may see (None:
    no restriction)."""
    body: dict[str, Any] = {}
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
        boxes = query_boxes(query.bbox)
        if len(boxes) == 1:
            body["bbox"] = list(boxes[0])
        else:  # across the antimeridian: one box either side of 180°
            body["intersects"] = {"type": "MultiPolygon", "coordinates": [_box(*b) for b in boxes]}
    elif query.intersects is not None:
        body["intersects"] = json.loads(shapely.to_geojson(query_geometry(query.intersects)))
    return body


def access_sql(viewer: Viewer, params: dict[str, Any], now: datetime | None = None) -> str | None:
    """`datacenter.access.visibility_cql2` as SQL on the items table (None: nothing hidden).

    Written out rather than translated by pgstac: pgstac's ``to_tstz`` / ``to_text`` wrappers
    cannot be inlined (``to_tstz`` sets a time zone), which made the access rule the most
    expensive part of a broad search (~25 µs a row). Values are parameters; the tests check
    this against `datacenter.access.can_see` for every kind of viewer."""
    p = "content->'properties'"
    return _rule(viewer, params, now, access=f"{p}->>'{ACCESS}'", owner=f"{p}->>'{OWNER}'",
                 releasable=f"{p}->'{RELEASABLE_TO}'",
                 not_embargoed=(f"({p}->'{EMBARGO_UNTIL}' IS NULL"
                                f" OR ({p}->>'{EMBARGO_UNTIL}')::timestamptz <= %(acc_now)s)"))


def group_access_sql(viewer: Viewer, params: dict[str, Any], now: datetime | None = None) -> str | None:
    """The same rule on the groups of `catalog.pgstac.counts` (columns access, owner,
    embargo and releasable: a missing field as '', -infinity or JSON null)."""
    return _rule(viewer, params, now, access="access", owner="owner", releasable="releasable",
                 not_embargoed="embargo <= %(acc_now)s")


def _rule(viewer: Viewer, params: dict[str, Any], now: datetime | None, *, access: str, owner: str,
          releasable: str, not_embargoed: str) -> str | None:
    if viewer.admin:
        return None
    params["acc_now"] = now or datetime.now(UTC)
    if viewer.partner_id is None:
        return f"({not_embargoed} AND {access} = 'public')"
    params["acc_partner"] = viewer.partner_id
    allowed = (f"({access} IN ('public', 'partners')"
               f" OR ({access} = 'restricted'"
               f" AND jsonb_typeof({releasable}) = 'array'"
               f" AND {releasable} @> jsonb_build_array(%(acc_partner)s::text)))")
    return f"({owner} = %(acc_partner)s OR ({not_embargoed} AND {allowed}))"
