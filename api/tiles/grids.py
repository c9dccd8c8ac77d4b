"""The lunar tile matrix sets (morecantile), all on the IAU 2015 Moon sphere (R = 1,737,400 m).

* ``MoonEquirectangular`` (``IAU_2015:30110``): 2 x 1 tiles at zoom 0, -180..180 E, like
  WebMercatorQuad's grid in equirectangular metres (tile 256 px, halving per zoom);
* ``MoonNorthPolar`` / ``MoonSouthPolar`` (``IAU_2015:30130`` / ``IAU_2015:30135``): one
  tile at zoom 0 centred on the pole, reaching 45 deg of latitude at the edge midpoints.

planetcantile ships Moon grids too, but its polar sets are not centred on the pole; these
are built with ``morecantile.TileMatrixSet.custom`` so the page and the server agree on one
simple definition (see `api/static/browse/map.js`, which mirrors the numbers).
"""

from __future__ import annotations

import math
from functools import cache

import morecantile
import numpy as np
from morecantile import TileMatrixSet
from pyproj import CRS, Transformer

from datacenter.errors import InvalidRequest, TileNotFound

MOON_RADIUS = 1_737_400.0
GEOGRAPHIC = "IAU_2015:30100"
#: half-width of the polar grids: the stereographic radius of latitude 45 deg
POLAR_HALF = 2 * MOON_RADIUS * math.tan(math.radians(45 / 2))
MAX_ZOOM = 18

GRIDS: dict[str, tuple[str, str, tuple[float, float, float, float], list[int]]] = {
    "MoonEquirectangular": (
        "IAU_2015:30110", "Moon equirectangular (IAU 2015 sphere), 2 x 1 tiles at zoom 0",
        (-math.pi * MOON_RADIUS, -math.pi * MOON_RADIUS / 2, math.pi * MOON_RADIUS,
         math.pi * MOON_RADIUS / 2), [2, 1]),
    "MoonNorthPolar": (
        "IAU_2015:30130", "Moon north polar stereographic (IAU 2015 sphere), to 45 N",
        (-POLAR_HALF, -POLAR_HALF, POLAR_HALF, POLAR_HALF), [1, 1]),
    "MoonSouthPolar": (
        "IAU_2015:30135", "Moon south polar stereographic (IAU 2015 sphere), to 45 S",
        (-POLAR_HALF, -POLAR_HALF, POLAR_HALF, POLAR_HALF), [1, 1]),
}  # fmt: skip


@cache
def tile_matrix_set(tms_id: str) -> TileMatrixSet:
    """The grid named `tms_id`; an unknown name is a 400 listing the known ones."""
    if tms_id not in GRIDS:
        raise InvalidRequest(
            f"tile matrix set {tms_id!r} is not known; use one of: {', '.join(GRIDS)}"
        )
    code, title, extent, scale = GRIDS[tms_id]
    return TileMatrixSet.custom(
        list(extent), CRS.from_user_input(code), matrix_scale=scale, id=tms_id, title=title,
        geographic_crs=CRS.from_user_input(GEOGRAPHIC), maxzoom=MAX_ZOOM,
    )  # fmt: skip


def check_tile(tms: TileMatrixSet, z: int, x: int, y: int) -> morecantile.Tile:
    """The tile, or `TileNotFound` when it lies outside the grid."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileNotFound(f"zoom {z} is outside {tms.id} (0..{MAX_ZOOM})")
    matrix = tms.matrix(z)
    if not (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight):
        raise TileNotFound(
            f"tile {z}/{x}/{y} is outside {tms.id}: at zoom {z} x is 0..{matrix.matrixWidth - 1} "
            f"and y 0..{matrix.matrixHeight - 1}"
        )
    return morecantile.Tile(x, y, z)


@cache
def _to_lonlat(tms_id: str) -> Transformer:
    return Transformer.from_crs(tile_matrix_set(tms_id).rasterio_crs, GEOGRAPHIC, always_xy=True)


def tile_lonlat_bbox(tms: TileMatrixSet, tile: morecantile.Tile) -> tuple[float, float, float, float]:
    """The tile's extent in lon/lat (west, south, east, north) from its densified edges; a
    tile that holds a pole reaches it across every longitude."""
    b = tms.xy_bounds(tile)
    t = np.linspace(0.0, 1.0, 33)
    xs = np.concatenate([b.left + (b.right - b.left) * t, np.full(33, b.right),
                         b.right - (b.right - b.left) * t, np.full(33, b.left)])  # fmt: skip
    ys = np.concatenate([np.full(33, b.bottom), b.bottom + (b.top - b.bottom) * t,
                         np.full(33, b.top), b.top - (b.top - b.bottom) * t])  # fmt: skip
    lon, lat = _to_lonlat(tms.id).transform(xs, ys)
    west, east = max(float(np.min(lon)), -180.0), min(float(np.max(lon)), 180.0)
    south, north = float(np.max([np.min(lat), -90.0])), float(np.min([np.max(lat), 90.0]))
    if tms.id != "MoonEquirectangular":
        if b.left <= 0 <= b.right and b.bottom <= 0 <= b.top:  # the pole is inside
            west, east = -180.0, 180.0
            south, north = (south, 90.0) if tms.id == "MoonNorthPolar" else (-90.0, north)
        elif east - west > 180:  # the edges cross the 180 meridian: take every longitude
            west, east = -180.0, 180.0
    return west, south, east, north
