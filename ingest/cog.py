"""Convert a product's pixels into a Cloud-Optimized GeoTIFF, exactly and atomically."""

from __future__ import annotations

import math
import os
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from datacenter.errors import CorruptProduct
from datacenter.storage import file_sha256
from ingest.product import RasterProduct

BLOCK_SIZE = 512


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


def overview_levels(width: int, height: int) -> int:
    """Internal overviews halving until the longer side fits one block: any COG wider or
    taller than a block has at least one (rio-cogeo's default looks at the shorter side)."""
    return max(0, math.ceil(math.log2(max(width, height) / BLOCK_SIZE)))


def write_cog(product: RasterProduct, out_path: Path) -> CogResult:
    """Write `product` as a COG at `out_path`: deflate, internal 512 tiles, overviews.

    Pixels, nodata, band scale/offset, descriptions and the CRS are kept exactly (no
    reprojection, never EPSG:4326). Every pixel is read once during conversion, so a
    truncated or corrupt source raises CorruptProduct with GDAL's message; on any
    failure nothing is left at `out_path`.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".tmp-{uuid.uuid4().hex}-{out_path.name}")
    try:
        with rasterio.open(product.path) as src:
            units = tuple(u or None for u in src.units)
            profile = cog_profiles.get("deflate")
            profile.update(
                blockxsize=BLOCK_SIZE,
                blockysize=BLOCK_SIZE,
                predictor=3 if np.dtype(src.dtypes[0]).kind == "f" else 2,
                BIGTIFF="IF_SAFER",
            )
            cog_translate(
                src,
                str(tmp),
                profile,
                overview_level=overview_levels(src.width, src.height),
                nodata=src.nodata,
                overview_resampling="nearest",
                use_cog_driver=False,
                in_memory=False,
                forward_band_tags=True,
                quiet=True,
            )
        report = cog_validate(str(tmp), quiet=True)
        if not report[0]:
            raise CorruptProduct(
                f"the COG written from {product.path} does not validate ({'; '.join(report[1])}); "
                "expected a valid Cloud-Optimized GeoTIFF: report this as a bug"
            )
        os.replace(tmp, out_path)
    except RasterioError as exc:
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
