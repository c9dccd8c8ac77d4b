"""Quicklooks of a COG: a ~256 px `thumbnail` and a ~1024 px `overview` PNG, rendered at ingest.

Both are read from the COG's own overviews (decimated, nearest), nodata and masked pixels
transparent. A DEM (one band whose unit is a length) is hillshaded over a colour ramp of
its heights; any other image gets a 2-98 percentile stretch per band (one band: grey;
three or more: the first three as RGB). The pixels are the product's own grid (no
reprojection): a quicklook shows the product as its CRS draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rio_tiler.colormap import cmap
from rio_tiler.utils import render

from datacenter.storage import file_sha256

THUMBNAIL_SIZE = 256
OVERVIEW_SIZE = 1024
MOON_RADIUS = 1_737_400.0
#: units that say a single band holds heights
LENGTH_UNITS = {"m", "metre", "meter", "metres", "meters", "km"}


@dataclass(frozen=True)
class Quicklook:
    """One rendered PNG in a local folder, ready to upload beside its COG."""

    role: str  # "thumbnail" | "overview"
    path: Path
    size: int
    sha256: str
    shape: tuple[int, int]  # rows, cols


def write_quicklooks(cog_path: Path, out_dir: Path, units: Sequence[str | None] = ()
                     ) -> list[Quicklook]:  # fmt: skip
    """Render `thumbnail.png` and `overview.png` of the COG at `cog_path` into `out_dir`.

    `units` are the bands' units (a GeoTIFF may not carry them); a COG no larger than the
    overview size gets an overview at its own size."""
    looks = []
    with rasterio.open(cog_path) as src:
        dem = is_dem(src.count, units or src.units)
        for role, side in (("thumbnail", THUMBNAIL_SIZE), ("overview", OVERVIEW_SIZE)):
            png = render_png(src, side, dem=dem)
            path = Path(out_dir) / f"{role}.png"
            path.write_bytes(png.data)
            looks.append(Quicklook(role, path, path.stat().st_size, file_sha256(path), png.shape))
    return looks


@dataclass(frozen=True)
class Png:
    data: bytes
    shape: tuple[int, int]


def render_png(src: rasterio.io.DatasetReader, side: int, *, dem: bool) -> Png:
    """The dataset fitted into `side` x `side` pixels (aspect kept) as an RGBA PNG; a `dem`
    shaded, anything else stretched."""
    scale = min(1.0, side / max(src.width, src.height))
    rows, cols = max(1, round(src.height * scale)), max(1, round(src.width * scale))
    bands = list(range(1, min(src.count, 3) + 1)) if src.count >= 3 else [1]
    data = src.read(bands, out_shape=(len(bands), rows, cols), masked=True,
                    resampling=rasterio.enums.Resampling.nearest)  # fmt: skip
    valid = ~np.ma.getmaskarray(data).any(axis=0)
    values = data.astype("float64").filled(np.nan)
    valid &= np.isfinite(values).all(axis=0)
    if dem:
        band = values[0] * (src.scales[0] or 1.0) + (src.offsets[0] or 0.0)
        pixel = pixel_size_m(src) / scale
        rgb = shaded_relief(band, valid, pixel)
    else:
        rgb = np.stack([stretch(b, valid) for b in values]) if len(bands) == 3 else None
        if rgb is None:
            grey = stretch(values[0], valid)
            rgb = np.stack([grey, grey, grey])
    mask = np.where(valid, 255, 0).astype("uint8")
    return Png(render(rgb, mask=mask, img_format="PNG"), (rows, cols))


def is_dem(count: int, units: Sequence[str | None]) -> bool:
    """One band whose unit is a length: heights (LOLA, SLDEM ...), shaded rather than stretched."""
    return count == 1 and bool(units) and (units[0] or "").strip().lower() in LENGTH_UNITS


def pixel_size_m(src: rasterio.io.DatasetReader) -> float:
    """The native pixel size in metres (degrees of a geographic CRS on the Moon's sphere)."""
    size = abs(src.transform.a)
    if src.crs is not None and src.crs.is_geographic:
        return size * math.pi / 180.0 * MOON_RADIUS
    return size


def stretch(band: np.ndarray, valid: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """`band` scaled to 0-255 between its `low` and `high` percentiles of valid pixels."""
    out = np.zeros(band.shape, dtype="uint8")
    if not valid.any():
        return out
    lo, hi = np.percentile(band[valid], [low, high])
    span = hi - lo if hi > lo else 1.0
    out[valid] = np.rint(np.clip((band[valid] - lo) / span * 255.0, 0, 255)).astype("uint8")
    return out


def hillshade(heights: np.ndarray, pixel_m: float, azimuth: float = 315.0,
              altitude: float = 45.0) -> np.ndarray:  # fmt: skip
    """Lambertian shading (0..1) of a height grid lit from `azimuth` (clockwise from up)."""
    dy, dx = np.gradient(heights, pixel_m)
    slope = np.arctan(np.hypot(dx, dy))
    aspect = np.arctan2(-dx, dy)
    az, alt = math.radians(360.0 - azimuth + 90.0), math.radians(altitude)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    return np.clip(shade, 0.0, 1.0)


def shaded_relief(heights: np.ndarray, valid: np.ndarray, pixel_m: float) -> np.ndarray:
    """Heights coloured by a ramp (rio-tiler's 'terrain') and multiplied by a hillshade."""
    filled = np.where(valid, heights, np.nanmean(heights[valid]) if valid.any() else 0.0)
    ramp = np.array([cmap.get("terrain")[i][:3] for i in range(256)], dtype="float64")
    level = stretch(filled, valid, 1.0, 99.0)
    shade = 0.35 + 0.65 * hillshade(filled, pixel_m)
    rgb = ramp[level].transpose(2, 0, 1) * shade
    return np.clip(rgb, 0, 255).astype("uint8")
