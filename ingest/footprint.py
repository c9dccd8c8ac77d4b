"""Footprints in lon/lat degrees on the body, per RFC 7946 and STAC.

The raster's edge is densified and transformed to the geodetic CRS of the raster's own
body (never to Earth's WGS 84), longitudes wrapped to [-180, 180]. Two cases need care:

* a raster containing a pole (south-polar stereographic tiles around Shackleton) gets a
  polygon covering the whole polar cap: edge points sorted by longitude from -180 to 180,
  closed through the pole; bbox spans all longitudes and reaches +-90;
* a raster crossing the 180 deg meridian gets a MultiPolygon split there, and a bbox
  with west > east.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import pyproj
import shapely
from affine import Affine
from pyproj.enums import TransformDirection
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.geometry.polygon import orient

from ingest.crs import crs_key, to_pyproj

Bbox = tuple[float, float, float, float]
POINTS_PER_SIDE = 64
_DIGITS = 9


def footprint(crs: Any, transform: Affine, width: int, height: int) -> tuple[dict[str, Any], Bbox]:
    """GeoJSON geometry and (west, south, east, north) bbox of a raster, in body lon/lat."""
    to_lonlat = _to_lonlat(crs)
    cols, rows = _edge(width, height)
    xs, ys = transform @ (cols, rows)
    lon, lat = to_lonlat.transform(np.asarray(xs, float), np.asarray(ys, float))
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = _wrap(lon[ok]), np.clip(lat[ok], -90.0, 90.0)
    if lon.size < 3:
        raise ValueError("the raster edge does not transform to longitude/latitude on its body")
    pole = _pole_inside(to_lonlat, transform, width, height)
    if pole is not None:
        return _polar_cap(lon, lat, pole)
    return _split_at_antimeridian(lon, lat)


_local = threading.local()


def _to_lonlat(crs: Any) -> pyproj.Transformer:
    """The transformer from `crs` to its body's lon/lat (run backwards for lon/lat to `crs`),
    kept per thread (a pyproj Transformer is not to be shared between threads) for the last
    CRSs seen. One transformer, not two: building one costs PROJ an operation search
    (~20 ms on a real product, a tenth of its ingest)."""
    key = crs_key(crs)
    cache: dict[str, pyproj.Transformer] = _local.__dict__.setdefault("transformers", {})
    found = cache.get(key) if key is not None else None
    if found is None:
        src = to_pyproj(crs)
        found = pyproj.Transformer.from_crs(src, src.geodetic_crs, always_xy=True)
        if key is not None:
            if len(cache) >= 32:
                cache.pop(next(iter(cache)))
            cache[key] = found
    return found


def _edge(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-corner coordinates around the raster, clockwise from the top-left corner."""
    t = np.linspace(0.0, 1.0, POINTS_PER_SIDE, endpoint=False)
    cols = np.concatenate([t * width, np.full_like(t, width), (1 - t) * width, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * height, np.full_like(t, height), (1 - t) * height])
    return cols, rows


def _wrap(lon: np.ndarray) -> np.ndarray:
    wrapped = (lon + 180.0) % 360.0 - 180.0
    # keep an exact +180 as +180 (not -180) so edges on the meridian stay where they are
    return np.where(
        np.isclose(lon, 180.0) | (np.isclose(wrapped, -180.0) & (lon > 0)), 180.0, wrapped
    )


def _pole_inside(to_lonlat: pyproj.Transformer, transform: Affine, width: int, height: int) -> float | None:
    """+90 or -90 when that pole maps to a single point strictly inside the raster."""
    inverse = ~transform
    backwards = TransformDirection.INVERSE
    for pole in (90.0, -90.0):
        try:
            x, y = to_lonlat.transform(0.0, pole, errcheck=True, direction=backwards)
            x2, y2 = to_lonlat.transform(90.0, pole, errcheck=True, direction=backwards)
        except pyproj.exceptions.ProjError:
            continue
        if not (math.isfinite(x) and math.isfinite(y)) or math.hypot(x - x2, y - y2) > 1e-3:
            continue  # the pole is a line in this projection (cylindrical), not a point
        col, row = inverse @ (x, y)
        if 0.0 < col < width and 0.0 < row < height:
            return pole
    return None


def _polar_cap(lon: np.ndarray, lat: np.ndarray, pole: float) -> tuple[dict[str, Any], Bbox]:
    order = np.argsort(lon, kind="stable")
    lon, lat = lon[order], lat[order]
    # latitude where the edge crosses the antimeridian: interpolate across the seam
    gap = (lon[0] + 360.0) - lon[-1]
    seam = lat[-1] + (lat[0] - lat[-1]) * ((180.0 - lon[-1]) / gap) if gap > 0 else lat[0]
    ring = [(-180.0, seam), *zip(lon.tolist(), lat.tolist(), strict=True), (180.0, seam),
            (180.0, pole), (-180.0, pole)]  # fmt: skip
    polygon = orient(Polygon(ring), 1.0)
    lats = [p[1] for p in ring]
    return _geojson(polygon), (-180.0, min(lats), 180.0, max(lats))


def _split_at_antimeridian(lon: np.ndarray, lat: np.ndarray) -> tuple[dict[str, Any], Bbox]:
    unwrapped = np.concatenate(
        [[lon[0]], lon[0] + np.cumsum((np.diff(lon) + 180.0) % 360.0 - 180.0)]
    )
    south, north = float(lat.min()), float(lat.max())
    west, east = float(unwrapped.min()), float(unwrapped.max())
    if east - west >= 360.0 - 1e-6:  # goes all the way round
        return _geojson(orient(box(-180.0, south, 180.0, north), 1.0)), (
            -180.0,
            south,
            180.0,
            north,
        )
    shift = 360.0 * math.floor((west + 180.0) / 360.0)  # bring the west end into [-180, 180)
    unwrapped, west, east = unwrapped - shift, west - shift, east - shift
    polygon = shapely.make_valid(Polygon(zip(unwrapped.tolist(), lat.tolist(), strict=True)))
    if east <= 180.0:
        return _geojson(orient(polygon, 1.0)), (west, south, east, north)
    parts = []
    for offset in (0.0, -360.0):
        piece = affinity.translate(polygon, xoff=offset).intersection(
            box(-180.0, -90.0, 180.0, 90.0)
        )
        parts.extend(
            p for p in getattr(piece, "geoms", [piece]) if isinstance(p, Polygon) and not p.is_empty
        )
    multi = MultiPolygon([orient(p, 1.0) for p in parts])
    return _geojson(multi), (west, south, east - 360.0, north)


def _geojson(geometry: Polygon | MultiPolygon) -> dict[str, Any]:
    """GeoJSON with lists (not tuples) and rounded coordinates."""

    def rounded(obj: Any) -> Any:
        if isinstance(obj, (tuple, list)):
            if obj and isinstance(obj[0], float | int):
                return [round(float(v), _DIGITS) for v in obj]
            return [rounded(o) for o in obj]
        return obj

    doc = mapping(geometry)
    return {"type": doc["type"], "coordinates": rounded(doc["coordinates"])}
