"""Footprints that labels state in lon/lat, for products that are not map-projected.

Raw and calibrated camera images carry no CRS, but many labels say where they are: scene
corners (SELENE `UPPER_LEFT_LATITUDE` ...), bounding longitudes and latitudes (PDS3
`MAXIMUM_LATITUDE` ..., PDS4 `cart:Bounding_Coordinates`), corner coordinates
(Chandrayaan-2 `isda:Refined_Corner_Coordinates`) or a footprint polygon (the ISIS
`Polygon` blob). These become RFC 7946 GeoJSON: longitudes in [-180, 180], a ring that
crosses the 180° meridian split into a MultiPolygon there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient

LonLat = tuple[float, float]
_WORLD = box(-180.0, -90.0, 180.0, 90.0)


def corner_footprint(corners: Sequence[LonLat]) -> dict[str, Any] | None:
    """The polygon through the corners (in ring order: UL, UR, LR, LL); None if unusable."""
    pts = [(float(lon), float(lat)) for lon, lat in corners]
    if len(pts) < 3 or not all(_valid(lon, lat) for lon, lat in pts):
        return None
    lons = np.unwrap(np.radians([p[0] for p in pts]))
    ring = [(math.degrees(lon), lat) for lon, (_, lat) in zip(lons, pts, strict=True)]
    poly = Polygon(ring)
    if not poly.is_valid:  # corners listed in another order: their convex hull
        poly = shapely.MultiPoint(ring).convex_hull
    return _split(poly) if isinstance(poly, Polygon) and poly.area > 0 else None


def bounds_footprint(west: float, south: float, east: float, north: float) -> dict[str, Any] | None:
    """The box between bounding longitudes and latitudes (east < west: crosses 180°)."""
    if not all(math.isfinite(v) for v in (west, south, east, north)) or south >= north:
        return None
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        return None
    if east - west >= 360 or (west, east) in ((0, 360), (-180, 180)):
        return _geojson(orient(box(-180.0, south, 180.0, north), 1.0))
    west, east = _wrap(west), _wrap(east)
    if east <= west:
        east += 360.0
    return _split(box(west, south, east, north))


def polygon_footprint(geom: shapely.Geometry) -> dict[str, Any] | None:
    """A lon/lat footprint polygon (longitudes in [-180, 180] or [0, 360]) as RFC 7946 GeoJSON."""
    if geom is None or geom.is_empty:
        return None
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty]
    if not polys:
        return None
    parts: list[Polygon] = []
    for poly in polys:
        parts.extend(_parts(affinity.translate(poly, xoff=-360.0) if poly.bounds[0] >= 180.0 else poly))
    return _from_parts(parts)


def _split(poly: Polygon) -> dict[str, Any] | None:
    """`poly` (longitudes possibly beyond 180 after unwrapping) cut into [-180, 180]."""
    west = poly.bounds[0]
    shift = 360.0 * math.floor((west + 180.0) / 360.0)
    return _from_parts(_parts(affinity.translate(poly, xoff=-shift)))


def _parts(poly: Polygon) -> list[Polygon]:
    out: list[Polygon] = []
    for offset in (0.0, -360.0, 360.0):
        piece = affinity.translate(poly, xoff=offset).intersection(_WORLD)
        out.extend(p for p in getattr(piece, "geoms", [piece]) if isinstance(p, Polygon) and p.area > 0)
    return out


def _from_parts(parts: list[Polygon]) -> dict[str, Any] | None:
    if not parts:
        return None
    if len(parts) == 1:
        return _geojson(orient(parts[0], 1.0))
    return _geojson(MultiPolygon([orient(p, 1.0) for p in parts]))


def _valid(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -90 <= lat <= 90 and -360 <= lon <= 360


def _wrap(lon: float) -> float:
    wrapped = (lon + 180.0) % 360.0 - 180.0
    return 180.0 if math.isclose(wrapped, -180.0) and lon > 0 else wrapped


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    doc = json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-9)))
    return dict(doc)


def geometry_bbox(geometry: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    """The STAC bbox of a lon/lat footprint; west > east when it is split at 180°."""
    if geometry is None:
        return None
    geom = shapely.geometry.shape(geometry)
    west, south, east, north = (float(v) for v in geom.bounds)
    parts = list(getattr(geom, "geoms", [geom]))
    at_east = [p for p in parts if math.isclose(p.bounds[2], 180.0)]
    at_west = [p for p in parts if math.isclose(p.bounds[0], -180.0)]
    if len(parts) > 1 and at_east and at_west:  # split at 180°: from the east part's west edge
        west = min(p.bounds[0] for p in at_east)
        east = max(p.bounds[2] for p in at_west)
    return west, south, east, north
