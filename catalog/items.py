"""STAC item -> the prepared row a catalog backend stores: validation, times, footprint boxes.

Shared by both backends (`catalog.sqlite` writes the row's columns; `catalog.pgstac` hands
pgstac the item with the same checks and the same refusals). Everything here is pure Python +
shapely so it runs *before* the write transaction opens: an invalid item in a batch fails the
whole batch without ever taking the write lock.

Times are integer microseconds since 1970-01-01T00:00:00Z (`catalog.query.temporal`).
Footprints are lon/lat on the body; an item gets one box per polygon part
(`catalog.query.spatial`), so a MultiPolygon split at the antimeridian (RFC 7946) is found
by boxes on either side of 180°.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import box

from catalog.base import StacItem
from catalog.query.spatial import MAX_BOXES, Box, part_boxes
from catalog.query.temporal import to_us
from datacenter.access import AccessClass, AccessMeta
from datacenter.errors import InvalidRequest

_EPS = 1e-9

def load_json(text: str) -> Any:
    """Stored JSON parsed by orjson (3x faster than `json.loads` on page-sized batches);
    content holding NaN or Infinity, which only `json` writes and reads, falls back to it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


CLASS_CODES = {AccessClass.PUBLIC: 0, AccessClass.PARTNERS: 1, AccessClass.RESTRICTED: 2, AccessClass.OWNER: 3}


@dataclass(frozen=True, slots=True)
class AccessColumns:
    owner: str | None
    klass: int
    embargo: int | None
    releasable_to: tuple[str, ...]


def access_columns(fields: Mapping[str, Any], label: str) -> AccessColumns:
    """The access columns of a record from its ``dc:`` fields; `InvalidRequest` names a bad one."""
    try:
        meta = AccessMeta.from_fields(fields)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidRequest(
            f"{label} has malformed access metadata ({exc}); dc:embargo_until must be an RFC 3339 "
            "time such as 2027-06-01T00:00:00Z and dc:releasable_to a list of partner ids"
        ) from None
    return AccessColumns(
        owner=meta.owner,
        klass=CLASS_CODES[meta.access],
        embargo=None if meta.embargo_until is None else to_us(meta.embargo_until),
        releasable_to=tuple(sorted(meta.releasable_to)),
    )


@dataclass(frozen=True, slots=True)
class ItemRow:
    collection: str
    id: str
    dt: int  # sort key: `datetime`, else `start_datetime`
    start: int
    end: int
    bounds: Box  # shapely bounds of the footprint (never crosses the antimeridian)
    needs_exact: bool  # the footprint is not simply its own bounding rectangle
    crosses: bool  # the footprint crosses the antimeridian
    boxes: list[Box]  # R*Tree entries
    wkb: bytes
    content: str
    access: AccessColumns
    props: str  # the `properties` object as JSON: what CQL2 filters and sorts read


def prepare_items(items: Iterable[StacItem]) -> list[ItemRow]:
    """Validate and convert a batch; `InvalidRequest` naming the first bad item.

    Field checks run per item; geometry work runs vectorised over the whole batch.
    """
    heads = [_head(n, item) for n, item in enumerate(items)]
    if not heads:
        return []
    geoms = _geometries(heads)
    bounds = shapely.bounds(geoms)
    bad = ~((bounds[:, 0] >= -180 - _EPS) & (bounds[:, 2] <= 180 + _EPS)
            & (bounds[:, 1] >= -90 - _EPS) & (bounds[:, 3] <= 90 + _EPS))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InvalidRequest(
            f"{heads[k].label} has a footprint reaching {bounds[k].tolist()}, outside lon [-180, 180] / "
            "lat [-90, 90]; split footprints that cross the antimeridian into a MultiPolygon (RFC 7946 §3.1.9)"
        )
    valid = shapely.is_valid(geoms)
    tested = geoms.copy()
    if not valid.all():
        tested[~valid] = shapely.make_valid(geoms[~valid])
    wkbs = shapely.to_wkb(tested)
    full = (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
    own_bbox = (
        (shapely.get_type_id(geoms) == 3)
        & (shapely.get_num_interior_rings(geoms) == 0)
        & (full > 0)
        & (np.abs(shapely.area(geoms) - full) <= 1e-12 * full)
    )
    parts, owner = shapely.get_parts(geoms, return_index=True)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(heads)))]).tolist()
    part_bounds = shapely.bounds(parts).tolist()
    rows = []
    for k, h in enumerate(heads):
        own = part_bounds[offsets[k]:offsets[k + 1]]
        boxes = [tuple(b) for b in own] if len(own) <= MAX_BOXES else part_boxes(geoms[k])
        if h.geometry is PLACELESS:  # no R*Tree box, and bounds that overlap no query box
            rows.append(ItemRow(
                collection=h.collection, id=h.id, dt=h.dt, start=h.start, end=h.end,
                bounds=NO_PLACE_BOUNDS, needs_exact=False, crosses=False, boxes=[],
                wkb=wkbs[k], content=h.content, access=h.access, props=h.props,
            ))  # fmt: skip
            continue
        rows.append(ItemRow(
            collection=h.collection,
            id=h.id,
            dt=h.dt,
            start=h.start,
            end=h.end,
            bounds=tuple(bounds[k].tolist()),  # type: ignore[arg-type]
            needs_exact=not own_bbox[k],
            crosses=h.crosses or _touches_both_sides(own),
            boxes=boxes,  # type: ignore[arg-type]
            wkb=wkbs[k],
            content=h.content,
            access=h.access,
            props=h.props,
        ))
    return rows


#: the stand-in footprint of an item with `"geometry": null` and no bbox (valid STAC: a
#: raw camera image whose label says nothing of where it looked); such an item is found
#: by time, collection and properties, never by place
PLACELESS = shapely.Point(0.0, 0.0)
#: bounds of a placeless row: west > east and south > north, so no bbox test overlaps it
NO_PLACE_BOUNDS: Box = (1e9, 1e9, -1e9, -1e9)


@dataclass(slots=True)
class _Head:
    """What one item contributes before the batch's geometry work."""

    label: str
    collection: str
    id: str
    dt: int
    start: int
    end: int
    geometry: str | shapely.Geometry  # GeoJSON text, or a box made from the item's bbox
    crosses: bool
    content: str
    access: AccessColumns
    props: str


def _label(n: int, item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        coll = item.get("collection")
        where = f" of collection {coll!r}" if isinstance(coll, str) else ""
        return f"item {item['id']!r}{where}"
    return f"item #{n} of the batch"


def _head(n: int, item: Any) -> _Head:
    label = _label(n, item)
    if not isinstance(item, dict):
        raise InvalidRequest(f"{label} is a {type(item).__name__}, expected a STAC Item (a JSON object)")
    item_id, coll = item.get("id"), item.get("collection")
    if not isinstance(item_id, str) or not item_id:
        raise InvalidRequest(f"{label} has no 'id' (a non-empty string is required)")
    if not isinstance(coll, str) or not coll:
        raise InvalidRequest(f"{label} has no 'collection'; set it to the id of an existing collection")
    props = item.get("properties")
    if not isinstance(props, dict):
        raise InvalidRequest(f"{label} has no 'properties' object")
    dt, start, end = _times(label, props)
    geometry, bbox = item.get("geometry"), item.get("bbox")
    if geometry is not None:
        try:
            footprint: str | shapely.Geometry = json.dumps(geometry)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"{label} has a geometry that is not valid GeoJSON: {exc}") from None
        crosses = _bbox_crosses(bbox)
    elif bbox is None:  # STAC allows it: a product whose footprint is not known
        footprint, crosses = PLACELESS, False
    else:
        w, s, e, nn = _bbox4(label, bbox)
        crosses = w > e
        footprint = (shapely.MultiPolygon([box(w, s, 180.0, nn), box(-180.0, s, e, nn)])
                     if crosses else box(w, s, e, nn))
    content = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    access = access_columns(props, label)
    props_json = json.dumps(props, separators=(",", ":"), ensure_ascii=False)
    return _Head(label, coll, item_id, dt, start, end, footprint, crosses, content, access, props_json)


def _geometries(heads: list[_Head]) -> np.ndarray:
    """Every head's footprint; PLACELESS items (no geometry, no bbox) get a stand-in point
    whose row `prepare_items` then marks as found by no place."""
    geoms = np.empty(len(heads), dtype=object)
    texts = [k for k, h in enumerate(heads) if isinstance(h.geometry, str)]
    for k, h in enumerate(heads):
        if not isinstance(h.geometry, str):
            geoms[k] = h.geometry
    if texts:
        try:
            geoms[texts] = shapely.from_geojson(np.array([heads[k].geometry for k in texts], dtype=object))
        except (shapely.errors.GEOSException, ValueError):
            for k in texts:  # find the culprit to name it
                try:
                    shapely.from_geojson(heads[k].geometry)
                except (shapely.errors.GEOSException, ValueError) as exc:
                    raise InvalidRequest(
                        f"{heads[k].label} has a geometry that is not valid GeoJSON: {exc}"
                    ) from None
            raise
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        label = heads[int(np.flatnonzero(empty)[0])].label
        raise InvalidRequest(f"{label} has an empty geometry; give its footprint or a bbox")
    return geoms


def _parse_time(label: str, name: str, value: Any) -> int:
    if not isinstance(value, str):
        raise InvalidRequest(f"{label}: properties.{name} is {value!r}, expected RFC 3339 text")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise InvalidRequest(
            f"{label}: properties.{name} {value!r} is not an RFC 3339 time such as 2024-05-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(
            f"{label}: properties.{name} {value!r} has no time zone; RFC 3339 needs one, e.g. append 'Z' for UTC"
        )
    return to_us(parsed)


def _times(label: str, props: dict[str, Any]) -> tuple[int, int, int]:
    raw_dt, raw_start, raw_end = (props.get(k) for k in ("datetime", "start_datetime", "end_datetime"))
    dt = None if raw_dt is None else _parse_time(label, "datetime", raw_dt)
    if raw_start is not None and raw_end is not None:
        start = _parse_time(label, "start_datetime", raw_start)
        end = _parse_time(label, "end_datetime", raw_end)
        if start > end:
            raise InvalidRequest(f"{label}: start_datetime {raw_start} is after end_datetime {raw_end}")
        return (start if dt is None else dt), start, end
    if dt is None:
        raise InvalidRequest(
            f"{label} has no time: set properties.datetime, or both start_datetime and end_datetime"
        )
    return dt, dt, dt


def _bbox4(label: str, bbox: Any) -> Box:
    ok = isinstance(bbox, list | tuple) and len(bbox) in (4, 6)
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
    if not ok:
        raise InvalidRequest(f"{label} has bbox {bbox!r}; expected [west, south, east, north] numbers")
    if len(bbox) == 6:
        return float(bbox[0]), float(bbox[1]), float(bbox[3]), float(bbox[4])
    return float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])


def _bbox_crosses(bbox: Any) -> bool:
    if not isinstance(bbox, list | tuple) or len(bbox) not in (4, 6):
        return False
    w, e = (bbox[0], bbox[3]) if len(bbox) == 6 else (bbox[0], bbox[2])
    return isinstance(w, int | float) and isinstance(e, int | float) and w > e


def _touches_both_sides(parts: list[list[float]]) -> bool:
    """A multi-part footprint with one part ending at +180° and another starting at -180°."""
    if len(parts) < 2 or any(b[0] <= -180 + _EPS and b[2] >= 180 - _EPS for b in parts):
        return False
    return any(b[2] >= 180 - _EPS for b in parts) and any(b[0] <= -180 + _EPS for b in parts)


def distinct_values(fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, list[Any]]:
    """Per field, the sorted distinct scalar values of `rows` (one value per field a row, a
    list counting each element; None, objects and nested lists are skipped); a field no row
    has a value for is left out. Shared by both backends' `collection_summaries`."""
    found: dict[str, set[Any]] = {name: set() for name in fields}
    for row in rows:
        for name, value in zip(fields, row, strict=True):
            for v in value if isinstance(value, list) else (value,):
                if v is not None and not isinstance(v, dict | list):
                    found[name].add(v)
    return {name: sorted(values, key=lambda v: (type(v).__name__, v)) for name, values in found.items() if values}
