"""Footprint boxes and query geometries: lon/lat on the body, as both backends read them.

An item gets one box per polygon part, so a MultiPolygon split at the antimeridian (RFC 7946)
is found by boxes on either side of 180°. A search's ``bbox`` crossing the antimeridian
(west > east) becomes two boxes.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from shapely.geometry import box

from datacenter.errors import InvalidRequest

MAX_BOXES = 64  # more polygon parts than this: two hemisphere boxes instead (still conservative)

Box = tuple[float, float, float, float]  # (west, south, east, north), west <= east


def is_own_bbox(geom: shapely.Geometry, bounds: Box) -> bool:
    """True when the footprint is exactly its bounding rectangle (so a box test is exact)."""
    if shapely.get_type_id(geom) != 3 or shapely.get_num_interior_rings(geom) != 0:
        return False
    w, s, e, n = bounds
    full = (e - w) * (n - s)
    return full > 0 and abs(float(shapely.area(geom)) - full) <= 1e-12 * full


def part_boxes(geom: shapely.Geometry) -> list[Box]:
    parts = shapely.get_parts(geom)
    bounds = shapely.bounds(parts)
    if len(parts) <= MAX_BOXES:
        return [tuple(map(float, b)) for b in bounds]  # type: ignore[misc]
    east, west = bounds[bounds[:, 0] >= 0], bounds[bounds[:, 0] < 0]
    out: list[Box] = []
    for group in (east, west):
        if len(group):
            out.append((float(group[:, 0].min()), float(group[:, 1].min()),
                        float(group[:, 2].max()), float(group[:, 3].max())))
    return out


def box_geometry(b: Box) -> shapely.Geometry:
    """The box as a polygon, or as the line / point it is when it has no height or width
    (GEOS finds nothing intersecting a zero-area polygon)."""
    w, s, e, n = b
    if w == e and s == n:
        return shapely.Point(w, s)
    if w == e or s == n:
        return shapely.LineString([(w, s), (e, n)])
    return box(w, s, e, n)


def query_boxes(bbox: Any) -> list[Box]:
    try:
        values = [float(v) for v in bbox]
    except (TypeError, ValueError):
        raise InvalidRequest(f"bbox {bbox!r} must be four numbers: west, south, east, north") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or any(v != v for v in values):
        raise InvalidRequest(f"bbox {bbox!r} must be four numbers: west, south, east, north")
    w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidRequest(
            f"bbox {bbox!r} is not west,south,east,north in degrees with -180 <= lon <= 180 and "
            "-90 <= south <= north <= 90 (west > east means the box crosses the antimeridian)"
        )
    if w > e:
        return [(w, s, 180.0, n), (-180.0, s, e, n)]
    return [(w, s, e, n)]


def query_geometry(geojson: Any) -> shapely.Geometry:
    if isinstance(geojson, dict) and geojson.get("type") == "Feature":
        geojson = geojson.get("geometry")
    try:
        geom = shapely.from_geojson(json.dumps(geojson))
    except (shapely.errors.GEOSException, TypeError, ValueError) as exc:
        raise InvalidRequest(f"intersects is not a GeoJSON geometry: {exc}") from None
    if geom is None or geom.is_empty:
        raise InvalidRequest("intersects is an empty geometry")
    return geom if shapely.is_valid(geom) else shapely.make_valid(geom)
