"""Lon/lat geometry of products that are not map-projected: landing sites, traverses, tracks."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, box

from datacenter.errors import CorruptProduct, LabelError


def check_lonlat(lon: np.ndarray, lat: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes wrapped to [-180, 180]; CorruptProduct for impossible positions."""
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (lon < -180) | (lon > 360)
    if bad.any():
        i = int(np.argmax(bad))
        raise CorruptProduct(
            f"{source} gives an impossible position at record {i}: longitude {lon[i]!r}, latitude "
            f"{lat[i]!r}; expected latitude in [-90, 90] and longitude in [-180, 360] degrees: "
            "fix the product's coordinates"
        )
    return np.where(lon > 180, lon - 360, lon), lat


def track_geometry(
    lonlat: tuple[np.ndarray, np.ndarray] | None,
    *,
    site: tuple[float, float] | None,
    line: bool,
    source: str,
) -> dict[str, Any]:
    """GeoJSON for a product's positions: a point (one position or a landing site), a line
    (a rover traverse, when `line`) or the box around an orbiter's ground track."""
    if lonlat is not None and len(lonlat[0]):
        lon, lat = check_lonlat(*lonlat, source)
        points = np.unique(np.column_stack([lon, lat]), axis=0)
        if len(points) == 1:
            return _geojson(Point(float(lon[0]), float(lat[0])))
        if line:
            keep = np.r_[True, (np.diff(lon) != 0) | (np.diff(lat) != 0)]
            return _geojson(LineString(np.column_stack([lon[keep], lat[keep]]).tolist()))
        return _geojson(box(lon.min(), lat.min(), lon.max(), lat.max()))
    if site is not None:
        lon, lat = check_lonlat(np.array([site[0]]), np.array([site[1]]), source)
        return _geojson(Point(float(lon[0]), float(lat[0])))
    raise LabelError(
        f"{source} carries no position: expected longitude/latitude fields, or a Lander_Location / "
        "Rover_Location (or '# longitude:' / '# latitude:' header lines in a CSV): add the "
        "landing site or the positions"
    )


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    return dict(json.loads(shapely.to_geojson(geom)))
