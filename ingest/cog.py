"""Convert a product's pixels into a Cloud-Optimized GeoTIFF, exactly and atomically."""

from __future__ import annotations

import math
import os
import shutil
import uuid
import warnings
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rio_cogeo.cogeo import cog_validate

from datacenter.errors import CorruptProduct, DiskFull
from datacenter.storage import file_sha256
from ingest.product import RasterProduct

BLOCK_SIZE = 512
_PREDICTORS = {"f": "FLOATING_POINT", "i": "HORIZONTAL", "u": "HORIZONTAL"}


@dataclass(frozen=True)
class CogResult:
    path: Path
    size: int
    sha256: str
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    crs: CRS | None
    transform: Affine
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    units: tuple[str | None, ...] = ()
    descriptions: tuple[str | None, ...] = ()


#: below this many free bytes, a failed write is taken as a full disk
_NEARLY_FULL = 16 * 1024 * 1024


def disk_full(folder: Path, message: str) -> bool:
    """Whether a GDAL failure while writing in `folder` comes from a full disk: GDAL says so,
    or the disk has (almost) no space left at the moment of the failure (GDAL often only
    says "Write failed")."""
    if "No space left" in message or "disk space" in message.lower():
        return True
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL
    except OSError:
        return False


def overview_levels(width: int, height: int) -> int:
    """Internal overviews halving until the longer side fits one block: any COG wider or
    taller than a block has at least one (rio-cogeo's default looks at the shorter side)."""
    return max(0, math.ceil(math.log2(max(width, height) / BLOCK_SIZE)))


def write_cog(product: RasterProduct, out_path: Path) -> CogResult:
    """Write `product` as a COG at `out_path`: deflate, internal 512 tiles, overviews.

    GDAL's COG driver writes the file in one pass over the source (the layout
    `gdal_translate -of COG` gives), with our options: DEFLATE, predictor 2 (integers) or 3
    (floats), 512 tiles, nearest-neighbour overviews down to one tile (as many levels as
    rio-cogeo's rule gives). Pixels, nodata, band scale/offset, units, descriptions, tags
    and the CRS are kept exactly (no reprojection, never EPSG:4326). Every pixel is read
    once during conversion, so a truncated or corrupt source raises CorruptProduct with
    GDAL's message; on any failure nothing is left at `out_path`.
    """
    with warnings.catch_warnings():
        # a raw camera image has no geotransform: it stays a COG without a CRS
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return _write_cog(product, Path(out_path))


def _write_cog(product: RasterProduct, out_path: Path) -> CogResult:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".tmp-{uuid.uuid4().hex}-{out_path.name}")
    try:
        with rasterio.open(product.gdal_source) as src:
            units = tuple(u or None for u in src.units)
            # GDAL's COG driver straight from the source: every value is kept exactly (a
            # warped copy, as rio-cogeo makes, turns values near nodata into nodata: the
            # ISIS special pixels LRS/LIS/HIS/HRS became NULL)
            levels = overview_levels(src.width, src.height)
            overviews = {"OVERVIEW_COUNT": levels} if levels else {"OVERVIEWS": "NONE"}
            rasterio.shutil.copy(
                src, str(tmp), driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=BLOCK_SIZE,
                PREDICTOR=_PREDICTORS.get(np.dtype(src.dtypes[0]).kind, "NO"),
                OVERVIEW_RESAMPLING="NEAREST", BIGTIFF="IF_SAFER", **overviews,
            )  # fmt: skip
        report = cog_validate(str(tmp), quiet=True)
        if not report[0]:
            raise CorruptProduct(
                f"the COG written from {product.path} does not validate ({'; '.join(report[1])}); "
                "expected a valid Cloud-Optimized GeoTIFF: report this as a bug"
            )
        os.replace(tmp, out_path)
    except (RasterioError, CPLE_BaseError) as exc:  # GDAL's own errors (a full disk) come as CPLE_*
        if disk_full(tmp.parent, str(exc)):
            raise DiskFull(
                f"no space left in the temporary folder {tmp.parent.parent} while writing the COG of "
                f"{product.path} ({exc}); free space there or point TMPDIR at a larger disk, then "
                "re-run (the product itself is fine)"
            ) from exc
        if not isinstance(exc, RasterioError):
            raise  # as the real-archive readers expect: reported in one line by the pipeline
        raise CorruptProduct(
            f"GDAL could not read every pixel of {product.format} product {product.path}: {exc}. "
            "The file is truncated or corrupt: re-download the product"
        ) from exc
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
    with rasterio.open(out_path) as cog:
        return CogResult(
            path=out_path,
            size=out_path.stat().st_size,
            sha256=file_sha256(out_path),
            width=cog.width,
            height=cog.height,
            count=cog.count,
            dtype=cog.dtypes[0],
            nodata=cog.nodata,
            crs=cog.crs,
            transform=cog.transform,
            scales=tuple(cog.scales),
            offsets=tuple(cog.offsets),
            units=units,
            descriptions=tuple(cog.descriptions),
        )
