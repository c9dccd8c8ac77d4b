"""Direct COG: a plain window of local COG assets laid out by GDAL's COG driver in one pass.

When a GeoTIFF subset is only a window of the source COG(s) (one item, no reprojection, no
decimation, assets on the local disk), the output pixels are the source pixels. Then the
cheapest faithful copy is what ``gdal_translate -projwin -of COG`` does: a VRT naming the
source window, read tile by tile by GDAL's COG driver (memory bounded by GDAL's block
cache, whatever the size). It skips the Dask pass into a temporary tiled GeoTIFF that the
general path (`api.subset.write.geotiff_graph` then `finish_geotiff`) needs.

The VRT gets the same georeferencing and metadata as the general path (through
`describe_raster`), so both paths give the same pixels, CRS, tags and band descriptions.
The synchronous route uses it for subsets up to its size limit; jobs keep the Dask path,
which reports progress and can be cancelled.
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from pyproj import CRS
from rasterio.errors import NotGeoreferencedWarning

from api.subset.select import Selection, spatial_dims
from api.subset.write import (
    COG_OPTIONS,
    GDAL_WRITE_ENV,
    band_stack,
    describe_raster,
    grid_transform,
)

_GDAL_TYPES = {
    "uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
    "int32": "Int32", "uint64": "UInt64", "int64": "Int64", "float32": "Float32",
    "float64": "Float64",
}


@dataclass(frozen=True)
class BandWindow:
    """One output band: band `band` (1-based) of the file at `path`, pixels from (col, row)."""

    path: str
    band: int
    col: int
    row: int


def _offset(full: np.ndarray, part: np.ndarray) -> int | None:
    """Where `part` sits in `full` as a contiguous run (None if it is not one)."""
    hits = np.nonzero(full == part[0])[0]
    if hits.size != 1:
        return None
    start = int(hits[0])
    return start if np.array_equal(full[start:start + part.size], part) else None


def window_bands(selection: Selection, ds: xr.Dataset) -> list[BandWindow] | None:
    """The source window behind each output band of `ds` (in `band_stack` order), or None
    when `ds` is not a plain window of local, unwarped COG assets of `selection`."""
    source = selection.source
    dims = spatial_dims(ds)
    if selection.options.crs or dims is None or not ds.data_vars:
        return None
    xdim, ydim = dims
    bands: list[BandWindow] = []
    for name, var in ds.data_vars.items():
        reader = source.readers.get(str(name))
        if reader is None or reader.warp is not None or reader.opener is not None:
            return None
        if set(var.dims) - {"band", xdim, ydim}:
            return None
        full = source.variables[str(name)]
        col = _offset(np.asarray(full[xdim].values), np.asarray(var[xdim].values))
        row = _offset(np.asarray(full[ydim].values), np.asarray(var[ydim].values))
        if col is None or row is None:
            return None
        numbers = [int(b) for b in var["band"].values] if "band" in var.dims else [1]
        path = os.path.abspath(reader.path)
        bands.extend(BandWindow(path, b, col, row) for b in numbers)
    return bands


def _vrt_xml(bands: list[BandWindow], width: int, height: int, dtype: str) -> str:
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    for i, w in enumerate(bands, start=1):
        band = ET.SubElement(root, "VRTRasterBand", dataType=_GDAL_TYPES[dtype], band=str(i))
        src = ET.SubElement(band, "SimpleSource")
        ET.SubElement(src, "SourceFilename", relativeToVRT="0").text = w.path
        ET.SubElement(src, "SourceBand").text = str(w.band)
        ET.SubElement(src, "SrcRect", xOff=str(w.col), yOff=str(w.row), xSize=str(width), ySize=str(height))
        ET.SubElement(src, "DstRect", xOff="0", yOff="0", xSize=str(width), ySize=str(height))
    return ET.tostring(root, encoding="unicode")


def write_window_cog(ds: xr.Dataset, crs: CRS | None, bands: list[BandWindow], work: Path,
                     out: Path, attrs: dict[str, str]) -> None:
    """Write `ds` (a plain window of the sources, see `window_bands`) to `out` as a COG."""
    stack, names, sources = band_stack(ds)
    if stack.dtype.name not in _GDAL_TYPES:
        raise ValueError(f"no GDAL type for {stack.dtype}")  # pragma: no cover (COGs only)
    vrt = work / "window.vrt"
    vrt.write_text(_vrt_xml(bands, stack.shape[2], stack.shape[1], stack.dtype.name))
    with rasterio.Env(**GDAL_WRITE_ENV):
        with warnings.catch_warnings():  # the VRT has no georeferencing until this sets it
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dst = rasterio.open(vrt, "r+")
        with dst:
            describe_raster(dst, crs, grid_transform(ds), attrs, names, sources)
        rasterio.shutil.copy(str(vrt), str(out), driver="COG", **COG_OPTIONS)
