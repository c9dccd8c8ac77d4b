"""Writers: a selection to NetCDF-4, a Cloud-Optimized GeoTIFF or a zipped Zarr (v3) store.

Each writer returns a Dask graph (`delayed`) that writes chunk by chunk to a local temp
path; `api.subset.compute` runs it on the configured scheduler. Only `finish` steps (COG
layout, zipping) run afterwards in this process, streaming with bounded buffers.

Outputs carry CF metadata: a ``spatial_ref`` grid-mapping variable (CF parameters plus
``crs_wkt`` WKT2 and GDAL's ``spatial_ref``), coordinate standard names and units, each
variable's units / scale / fill value, and provenance attributes (source item ids, their
asset checksums and the request).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling

from api.subset.request import OutputFormat
from api.subset.select import Selection, spatial_dims
from datacenter import __version__
from datacenter.errors import InvalidRequest

GDAL_WRITE_ENV = {"GDAL_CACHEMAX": 128, "GDAL_NUM_THREADS": "ALL_CPUS"}


def provenance(selections: list[Selection]) -> dict[str, str]:
    """Global attributes naming the sources (ids + checksums) and the request."""
    return {
        "Conventions": "CF-1.8",
        "institution": "Lunar & Deep-Space Science Data Center",
        "source_items": json.dumps([s.source.label for s in selections]),
        "source_checksums": json.dumps({s.source.label: s.source.checksums for s in selections}),
        "subset_request": json.dumps(selections[0].options.describe()),
        "history": f"{datetime.now(UTC).isoformat(timespec='seconds')} subset by lunar-datacenter {__version__}",
    }


def decorate(ds: xr.Dataset, crs: CRS | None, attrs: dict[str, str]) -> xr.Dataset:
    """CF grid mapping + provenance on a copy of `ds`."""
    ds = ds.copy()
    ds.attrs = dict(attrs)
    if crs is not None and spatial_dims(ds):
        try:
            cf = crs.to_cf()
        except Exception:  # a CRS without a CF grid mapping still gets its WKT
            cf = {"crs_wkt": crs.to_wkt()}
        cf["crs_wkt"] = crs.to_wkt("WKT2_2019")
        cf["spatial_ref"] = cf["crs_wkt"]
        if crs.to_authority("IAU_2015") or crs.to_authority():
            cf["crs_code"] = ":".join(crs.to_authority("IAU_2015") or crs.to_authority())
        ds = ds.assign_coords(spatial_ref=xr.Variable((), np.int32(0), cf))
        for name in ds.data_vars:
            ds[name].attrs["grid_mapping"] = "spatial_ref"
    return ds


def _encode_fill(ds: xr.Dataset) -> xr.Dataset:
    """`_FillValue` goes to `encoding` (xarray writes it); `scale_factor` / `add_offset` stay
    plain attributes: the values are the stored integers, already packed, written as is."""
    for name in ds.data_vars:
        var = ds[name]
        if "_FillValue" in var.attrs:
            var.encoding["_FillValue"] = var.attrs.pop("_FillValue")
    return ds


def _uniform_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Zarr needs equal chunks (a short last one allowed): re-cut to each dim's largest chunk."""
    chunks = {}
    for dim, sizes in ds.chunks.items():
        chunks[dim] = max(sizes) if sizes else -1
    return ds.chunk(chunks)


def netcdf_graph(ds: xr.Dataset, path: Path, lock: Any = False) -> Any:
    """NetCDF-4 (zlib 1 + shuffle, chunks of at most 1024 per dim) whose chunks are
    compressed by the Dask tasks in parallel (`api.subset.netcdf`); `lock` guards the file
    (a `distributed.Lock` on a cluster, a thread lock otherwise)."""
    from api.subset.netcdf import parallel_netcdf_graph

    return parallel_netcdf_graph(_encode_fill(ds), path, lock or threading.Lock())


def zarr_graph(ds: xr.Dataset, path: Path) -> Any:
    ds = _uniform_chunks(_encode_fill(ds))
    for name in ds.data_vars:
        ds[name].encoding.pop("chunks", None)
    return ds.to_zarr(path, mode="w", zarr_format=3, consolidated=False, compute=False)


def zip_folder(folder: Path, out: Path) -> None:
    """A zip of the Zarr store (stored, not deflated: chunks are already compressed), written
    file by file so memory stays small."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                full = Path(root) / name
                zf.write(full, full.relative_to(folder).as_posix())


class _RasterTarget:
    """A `da.store` target that writes (band, row, col) blocks into a tiled GeoTIFF."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def __setitem__(self, key: tuple[slice, slice, slice], value: np.ndarray) -> None:
        bands, rows, cols = key
        window = rasterio.windows.Window.from_slices(rows, cols)
        with self._lock, rasterio.Env(**GDAL_WRITE_ENV), rasterio.open(self.path, "r+") as dst:
            dst.write(value, indexes=list(range(bands.start + 1, bands.stop + 1)), window=window)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_RasterTarget, (self.path,))


def band_stack(ds: xr.Dataset) -> tuple[da.Array, list[str], list[xr.DataArray]]:
    """All variables as one lazy (layer, y, x) stack, with each layer's name and variable."""
    dims = spatial_dims(ds)
    if dims is None:
        raise InvalidRequest("format=geotiff needs a gridded (x, y) product; use netcdf or zarr")
    xdim, ydim = dims
    layers, names, sources = [], [], []
    for name, var in ds.data_vars.items():
        extra = [d for d in var.dims if d not in (xdim, ydim)]
        stacked = var.transpose(*extra, ydim, xdim)
        if extra:
            stacked = stacked.stack(layer=extra)
            stacked = stacked.transpose("layer", ydim, xdim)
            for i in range(stacked.sizes["layer"]):
                labels = [f"{d}={stacked['layer'].values[i][j] if len(extra) > 1 else stacked['layer'].values[i]}"
                          for j, d in enumerate(extra)]
                names.append(f"{name} " + " ".join(labels))
                sources.append(var)
            layers.append(stacked.data)
        else:
            names.append(str(name))
            sources.append(var)
            layers.append(stacked.data[np.newaxis])
    dtype = np.result_type(*[layer.dtype for layer in layers])
    return da.concatenate([layer.astype(dtype) for layer in layers], axis=0), names, sources


def grid_transform(ds: xr.Dataset) -> Affine:
    """The affine transform of the (x, y) pixel-centre coordinates of `ds`."""
    xdim, ydim = spatial_dims(ds)  # type: ignore[misc]
    xs, ys = ds[xdim].values, ds[ydim].values
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else -1.0
    return Affine(dx, 0, float(xs[0]) - dx / 2, 0, dy, float(ys[0]) - dy / 2)


def describe_raster(dst: Any, crs: CRS | None, transform: Affine, attrs: dict[str, str],
                    names: list[str], sources: list[xr.DataArray]) -> None:
    """Georeferencing, nodata, provenance tags and per-band name / units / scale / offset on
    an open writable rasterio dataset (the same for every GeoTIFF we write)."""
    dst.crs = rasterio.crs.CRS.from_wkt(crs.to_wkt()) if crs is not None else None
    dst.transform = transform
    fill = sources[0].attrs.get("_FillValue")
    if fill is not None:
        dst.nodata = fill
    dst.update_tags(**attrs)
    for i, (name, var) in enumerate(zip(names, sources, strict=True), start=1):
        dst.set_band_description(i, name)
        if var.attrs.get("units"):
            dst.update_tags(i, units=var.attrs["units"])
    dst.scales = [float(v.attrs.get("scale_factor", 1.0)) for v in sources]
    dst.offsets = [float(v.attrs.get("add_offset", 0.0)) for v in sources]
    dst.units = [str(v.attrs.get("units", "")) for v in sources]


def geotiff_graph(ds: xr.Dataset, crs: CRS | None, path: Path, attrs: dict[str, str],
                  lock: Any = False) -> Any:
    """A tiled GeoTIFF written block by block (`finish_geotiff` then lays it out as a COG)."""
    stack, names, sources = band_stack(ds)
    profile = {
        "driver": "GTiff", "width": stack.shape[2], "height": stack.shape[1],
        "count": stack.shape[0], "dtype": stack.dtype.name, "transform": grid_transform(ds),
        "crs": rasterio.crs.CRS.from_wkt(crs.to_wkt()) if crs is not None else None,
        "nodata": sources[0].attrs.get("_FillValue"), "tiled": True,
        "blockxsize": 512, "blockysize": 512, "compress": "deflate", "BIGTIFF": "IF_SAFER",
        "interleave": "band",  # a tile per band: an 85-band pixel-interleaved tile is 89 MB
    }
    with rasterio.Env(**GDAL_WRITE_ENV), rasterio.open(path, "w", **profile) as dst:
        describe_raster(dst, crs, grid_transform(ds), attrs, names, sources)
    # Align Dask chunks on the 512-px tiles so no two tasks write into one tile.
    stack = stack.rechunk({1: _aligned(stack.chunks[1]), 2: _aligned(stack.chunks[2])})
    return da.store(stack, _RasterTarget(str(path)), lock=lock, compute=False)


def _aligned(chunks: tuple[int, ...], tile: int = 512) -> int:
    return max(tile, (max(chunks) // tile) * tile)


COG_OPTIONS = {"COMPRESS": "DEFLATE", "BLOCKSIZE": 512, "OVERVIEWS": "AUTO", "BIGTIFF": "IF_SAFER"}


#: bytes of one pixel (all bands) above which a COG is written band-interleaved
MAX_PIXEL_BYTES = 32


def finish_geotiff(tmp: Path, out: Path) -> None:
    """Lay the tiled GeoTIFF out as a COG (overviews, IFDs first).

    GDAL 3.10's COG driver interleaves pixels: a 512-px tile of an 85-band float32 cube is
    89 MB, GDAL's block cache holds about one, and building the overviews of a 1 GiB cube
    subset re-read and re-inflated tiles for more than 13 minutes. Above `MAX_PIXEL_BYTES`
    a pixel, the COG is made the classic way instead: overviews built on the band-
    interleaved tiled file, then copied by the GTiff driver with ``COPY_SRC_OVERVIEWS`` (a
    valid COG, one 1 MB tile per band)."""
    with rasterio.Env(**GDAL_WRITE_ENV):
        with rasterio.open(tmp) as src:
            pixel = src.count * np.dtype(src.dtypes[0]).itemsize
            size = max(src.width, src.height)
        if pixel <= MAX_PIXEL_BYTES:
            rasterio.shutil.copy(str(tmp), str(out), driver="COG", **COG_OPTIONS)
            return
        factors = []
        while size / 2 ** (len(factors) + 1) >= COG_OPTIONS["BLOCKSIZE"] / 2:
            factors.append(2 ** (len(factors) + 1))
        if factors:
            with rasterio.Env(COMPRESS_OVERVIEW="DEFLATE", INTERLEAVE_OVERVIEW="BAND"), \
                    rasterio.open(tmp, "r+") as dst:
                dst.build_overviews(factors, Resampling.nearest)
        rasterio.shutil.copy(str(tmp), str(out), driver="GTiff", TILED="YES", BLOCKXSIZE=512,
                             BLOCKYSIZE=512, COMPRESS="DEFLATE", INTERLEAVE="BAND",
                             COPY_SRC_OVERVIEWS="YES", BIGTIFF="IF_SAFER")


def plan_write(selection_ds: xr.Dataset, crs: CRS | None, fmt: OutputFormat, work: Path,
               out: Path, attrs: dict[str, str], lock: Any = False
               ) -> tuple[Any, Callable[[], None]]:
    """The Dask graph writing `selection_ds` in `fmt`, and the step finishing `out` after it."""
    if fmt is OutputFormat.NETCDF:
        return netcdf_graph(selection_ds, out, lock), lambda: None
    if fmt is OutputFormat.ZARR:
        folder = work / "store.zarr"

        def finish_zarr() -> None:
            zip_folder(folder, out)
            shutil.rmtree(folder, ignore_errors=True)

        return zarr_graph(selection_ds, folder), finish_zarr
    tmp = work / "tiled.tif"

    def finish_tif() -> None:
        finish_geotiff(tmp, out)
        tmp.unlink(missing_ok=True)

    return geotiff_graph(selection_ds, crs, tmp, attrs, lock), finish_tif

