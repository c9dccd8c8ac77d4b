"""CF NetCDF-4 / HDF5 products (`.nc`, `.nc4`, `.h5`, `.hdf5`): passed through to Zarr as
they are (variables, attributes, CF encodings), re-chunked by the chunking rule.

Identity and times come from the ACDD global attributes (`id`, `title`, `platform`,
`instrument`, `project`, `time_coverage_start/end`) or the `time` coordinate; the CRS
from a grid-mapping variable's `crs_wkt` / `spatial_ref`; the footprint from x/y and that
CRS, else from lon/lat coordinates, else from `geospatial_lon/lat_min/max`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj

from datacenter.errors import CorruptProduct, LabelError
from ingest.product import ArrayProduct, body_name, stac_id
from ingest.readers.base import Reader, head, label_time, text_or_none
from ingest.readers.geometry import track_geometry

if TYPE_CHECKING:  # xarray / pandas / dask.array load on first use (~0.7 s of every CLI start otherwise)
    import xarray as xr

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def open_netcdf(path: Path) -> xr.Dataset:
    import xarray as xr

    try:
        return xr.open_dataset(path, engine="h5netcdf", chunks={}, decode_timedelta=False)
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptProduct(
            f"cannot open NetCDF/HDF5 product {path}: {exc}. Expected a complete NetCDF-4/HDF5 "
            "file: the file is truncated or corrupt, re-download it"
        ) from exc


def _crs(ds: xr.Dataset, path: Path) -> pyproj.CRS | None:
    names = {str(v.attrs["grid_mapping"]) for v in ds.data_vars.values() if "grid_mapping" in v.attrs}
    for name in names:
        if name in ds.variables:
            attrs = ds[name].attrs
            wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
            try:
                return pyproj.CRS.from_wkt(wkt) if wkt else pyproj.CRS.from_cf(attrs)
            except pyproj.exceptions.CRSError as exc:
                raise LabelError(
                    f"NetCDF product {path} has grid mapping {name!r} that pyproj cannot read ({exc}); "
                    "expected CF grid-mapping attributes or crs_wkt: fix the file"
                ) from exc
    return None


class NetcdfReader(Reader):
    name = "NetCDF"
    extensions = (".nc", ".nc4", ".h5", ".hdf5", ".he5")

    def can_open(self, path: Path) -> bool:
        return path.suffix.lower() in self.extensions

    def read(self, path: Path) -> ArrayProduct:
        if head(path, 8) != _HDF5_MAGIC:
            raise CorruptProduct(
                f"{path} does not start with the HDF5 signature (starts with {head(path, 8)!r}); "
                "expected a NetCDF-4/HDF5 file (classic NetCDF-3 is not supported): convert it with "
                "nccopy -k nc4"
            )
        ds = open_netcdf(path)
        attrs: dict[str, Any] = ds.attrs
        crs = _crs(ds, path)
        start = label_time(attrs.get("time_coverage_start"), key="time_coverage_start", label=path, fmt="NetCDF")
        end = label_time(attrs.get("time_coverage_end"), key="time_coverage_end", label=path, fmt="NetCDF")
        if start is None and "time" in ds.coords and ds["time"].size and np.issubdtype(ds["time"].dtype, np.datetime64):
            import pandas as pd

            times = pd.DatetimeIndex(ds["time"].values)
            start = times.min().tz_localize("UTC").to_pydatetime()
            end = times.max().tz_localize("UTC").to_pydatetime()
        geometry = None
        if crs is None or not {"x", "y"} <= set(ds.dims):
            crs = None
            lon = next((ds[n] for n in ("lon", "longitude") if n in ds.variables), None)
            lat = next((ds[n] for n in ("lat", "latitude") if n in ds.variables), None)
            if lon is not None and lat is not None:
                lon_v, lat_v = np.asarray(lon.values, "float64"), np.asarray(lat.values, "float64")
                if lon.dims != lat.dims:  # a regular lon/lat grid: its corners
                    lon_v, lat_v = np.array([lon_v.min(), lon_v.max()]), np.array([lat_v.min(), lat_v.max()])
                lonlat = (lon_v.ravel(), lat_v.ravel())
            elif all(f"geospatial_{k}" in attrs for k in ("lon_min", "lon_max", "lat_min", "lat_max")):
                lonlat = (np.array([attrs["geospatial_lon_min"], attrs["geospatial_lon_max"]], float),
                          np.array([attrs["geospatial_lat_min"], attrs["geospatial_lat_max"]], float))  # fmt: skip
            else:
                lonlat = None
            geometry = track_geometry(lonlat, site=None, line=False, source=str(path))
        kind = "grid" if crs is not None else "series"
        instruments = tuple(i.strip() for i in str(attrs.get("instrument", "")).split(",") if i.strip())
        target = text_or_none(attrs.get("target"))
        return ArrayProduct(
            id=stac_id(str(attrs.get("id") or path.stem)), path=path, format="NetCDF", kind=kind,
            open_dataset=lambda: open_netcdf(path), files=(path,), start=start, end=end,
            title=text_or_none(attrs.get("title")), platform=text_or_none(attrs.get("platform")),
            instruments=instruments, mission=text_or_none(attrs.get("project")),
            targets=(body_name(target),) if target else ("Moon",),
            processing_level=text_or_none(attrs.get("processing_level")), crs=crs, geometry=geometry,
        )  # fmt: skip
