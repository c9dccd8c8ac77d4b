"""Subset options -> a lazy selection of a `Source`, and the size of what it would write.

Selection works on coordinates (pixel centres) and `isel` slices, so the Dask chunks of
the result are the stored chunks cut at the edges: nothing is read until it is written.
Errors name the problem: an unknown variable (with the list of those there are), a bbox
that misses the item, a time window outside the product, a band range matching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.warp import calculate_default_transform

from api.subset.request import SubsetOptions
from api.subset.source import RasterReader, Source, WarpSpec, raster_variable
from datacenter.access import parse_time
from datacenter.errors import InvalidRequest, TooLarge

SPATIAL_NAMES = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"))


class OutputTooLarge(TooLarge):
    """The selection's output would exceed the size `select` was allowed to build; `nbytes`
    is its estimate (the caller words the answer: submit a job, or narrow it)."""

    def __init__(self, nbytes: int, limit: int, what: str) -> None:
        super().__init__(f"{what} would be about {human_bytes(nbytes)} ({nbytes} bytes), "
                         f"above the {human_bytes(limit)} allowed")
        self.nbytes, self.limit = nbytes, limit


@dataclass
class Selection:
    """A lazy subset of one item, ready to be written."""

    source: Source
    dataset: xr.Dataset
    crs: CRS | None
    options: SubsetOptions

    @property
    def nbytes(self) -> int:
        """Uncompressed size of the selected values (from shapes and dtypes; nothing is read)."""
        return int(sum(v.nbytes for v in self.dataset.data_vars.values()))

    @property
    def assets(self) -> list[str]:
        """The item's assets this selection reads (what a job result is made from)."""
        origins = self.source.origins
        return sorted({origins.get(str(n), str(n)) for n in self.dataset.data_vars})


def spatial_dims(ds: xr.Dataset | xr.DataArray) -> tuple[str, str] | None:
    for x, y in SPATIAL_NAMES:
        if x in ds.dims and y in ds.dims:
            return x, y
    return None


def _variables(source: Source, options: SubsetOptions) -> list[str]:
    names = sorted(source.variables)
    if not options.variables:
        return names
    unknown = [v for v in options.variables if v not in source.variables]
    if unknown:
        raise InvalidRequest(
            f"item {source.label} has no variable {', '.join(map(repr, unknown))}; its variables "
            f"are: {', '.join(names)}"
        )
    return list(dict.fromkeys(options.variables))


def _bands(ds: xr.Dataset, source: Source, tokens: list[str]) -> xr.Dataset:
    if "band" not in ds.dims:
        raise InvalidRequest(
            f"item {source.label} has no band dimension; drop bands= or choose variables="
        )
    coord = np.asarray(ds["band"].values, dtype=float)
    keep = np.zeros(coord.shape, dtype=bool)
    for token in tokens:
        lo_text, sep, hi_text = token.partition("-") if not token.startswith("-") else (token, "", "")
        try:
            lo = float(lo_text)
            hi = float(hi_text) if sep else lo
        except ValueError:
            raise InvalidRequest(
                f"bands: {token!r} is neither a band value nor a range like 900-1200"
            ) from None
        if lo > hi:
            raise InvalidRequest(f"bands: range {token!r} is inverted; write low-high")
        keep |= (coord >= lo) & (coord <= hi)
    if not keep.any():
        raise InvalidRequest(
            f"bands {','.join(tokens)} match no band of item {source.label}; its bands run from "
            f"{coord.min():g} to {coord.max():g}"
            + (f" {ds['band'].attrs['units']}" if "units" in ds["band"].attrs else "")
        )
    return ds.isel(band=np.nonzero(keep)[0])


def _item_time_span(item: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    props = item.get("properties", {})
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    return (parse_time(start) if start else None, parse_time(end) if end else None)


def _time(ds: xr.Dataset, source: Source, options: SubsetOptions) -> xr.Dataset:
    start, end = options.time_range() or (None, None)
    if "time" in ds.dims:
        times = pd.DatetimeIndex(ds["time"].values)
        tz = lambda t: None if t is None else pd.Timestamp(t).tz_convert(None)  # noqa: E731
        lo, hi = tz(start), tz(end)
        keep = np.ones(len(times), dtype=bool)
        if lo is not None:
            keep &= times >= lo
        if hi is not None:
            keep &= times <= hi
        if not keep.any():
            raise InvalidRequest(
                f"datetime {options.datetime} is outside product {source.label}, whose times run "
                f"from {times.min().isoformat()}Z to {times.max().isoformat()}Z"
            )
        return ds.isel(time=np.nonzero(keep)[0])
    item_start, item_end = _item_time_span(source.item)
    if (end is not None and item_start is not None and end < item_start) or (
        start is not None and item_end is not None and start > item_end
    ):
        raise InvalidRequest(
            f"datetime {options.datetime} is outside product {source.label}, acquired "
            f"{item_start.isoformat() if item_start else '?'} to {item_end.isoformat() if item_end else '?'}"
        )
    return ds


def native_bounds(bbox: list[float], crs: CRS | None, bbox_crs: str) -> tuple[float, float, float, float]:
    """The (minx, miny, maxx, maxy) in `crs` covering a lon/lat bbox on the body.

    The box is sampled on a grid (edges and interior, so a pole inside it counts) and the
    longitudes unwrapped when west > east (across the antimeridian).
    """
    west, south, east, north = bbox
    if bbox_crs == "native" or crs is None:
        return west, south, east, north
    if east < west:
        east += 360.0
    lons = np.linspace(west, east, 61)
    lats = np.linspace(south, north, 61)
    lon, lat = np.meshgrid(lons, lats)
    if crs.is_geographic:
        return west, south, east, north
    to_native = _from_lonlat(_key(crs))
    x, y = to_native.transform(((lon + 180.0) % 360.0) - 180.0, lat)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise InvalidRequest(f"bbox {bbox} cannot be expressed in the item's CRS {crs.name}")
    return float(x[ok].min()), float(y[ok].min()), float(x[ok].max()), float(y[ok].max())


def _key(crs: CRS) -> str:
    """The text `crs` was made from (an item's code or WKT), else its WKT: a cache key."""
    return crs.srs or crs.to_wkt()


# Each transformer is a PROJ operation search (1-10 ms of Python-held time); a job's plan
# needed two to four, for CRSs a catalog holds a few of. pyproj's transformers are safe to
# share between threads (3.1+).
@lru_cache(maxsize=128)
def _from_lonlat(srs: str) -> Transformer:
    crs = CRS.from_user_input(srs)
    return Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)


@lru_cache(maxsize=128)
def _between(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def _index_range(coord: np.ndarray, lo: float, hi: float) -> slice | None:
    """Pixels whose extent overlaps [lo, hi] (touching an edge is not overlapping)."""
    half = abs(float(coord[1] - coord[0])) / 2 if len(coord) > 1 else 0.0
    runs = _index_runs(coord, lo, hi, half)
    return slice(runs[0].start, runs[-1].stop) if runs else None


def _index_runs(coord: np.ndarray, lo: float, hi: float, half: float) -> list[slice]:
    """Like `_index_range` (`half` = half a pixel), as one slice per contiguous run of pixels
    (two when a wrapped longitude range takes both ends of a longitude grid)."""
    eps = half * 1e-6
    inside = np.nonzero((coord > lo - half + eps) & (coord < hi + half - eps))[0]
    if inside.size == 0:
        return []
    breaks = np.nonzero(np.diff(inside) > 1)[0]
    starts = [int(inside[0]), *(int(inside[b + 1]) for b in breaks)]
    stops = [*(int(inside[b]) + 1 for b in breaks), int(inside[-1]) + 1]
    return [slice(a, b) for a, b in zip(starts, stops, strict=True)]


def _bbox(ds: xr.Dataset, source: Source, options: SubsetOptions) -> xr.Dataset:
    dims = spatial_dims(ds)
    if options.bbox is None or dims is None:
        return ds
    xdim, ydim = dims
    minx, miny, maxx, maxy = native_bounds(options.bbox, source.crs, options.bbox_crs)
    xcoord = np.asarray(ds[xdim].values, dtype=float)
    half = abs(float(xcoord[1] - xcoord[0])) / 2 if len(xcoord) > 1 else 0.0
    geographic = source.crs is not None and source.crs.is_geographic and options.bbox_crs == "lonlat"
    if geographic:  # longitudes into [west, west + 360): -180..180 and 0..360 grids alike
        base = minx - half
        xcoord = base + np.mod(xcoord - base, 360.0)
    runs = _index_runs(xcoord, minx, maxx, half)
    ys = _index_range(np.asarray(ds[ydim].values, dtype=float), miny, maxy)
    if not runs or ys is None:
        raise InvalidRequest(
            f"bbox {options.bbox} does not intersect item {source.label} (its bbox is "
            f"{source.item.get('bbox')}); nothing to subset"
        )
    if len(runs) == 1:
        return ds.isel({xdim: runs[0], ydim: ys})
    # A bbox across the grid's longitude seam (180 on a -180..180 grid, 0 on a 0..360 one):
    # both sides, joined in longitude order on a wrapped coordinate (e.g. 170 .. 190
    # degrees_east), so the grid stays regular.
    parts = []
    for run in sorted(runs, key=lambda r: xcoord[r.start]):
        part = ds.isel({xdim: run, ydim: ys})
        parts.append(part.assign_coords({xdim: part[xdim].copy(data=xcoord[run])}))
    return xr.concat(parts, dim=xdim, data_vars="minimal", coords="minimal", compat="override",
                     join="override", combine_attrs="override")


def _resolution_step(ds: xr.Dataset, options: SubsetOptions) -> int:
    if options.step:
        return options.step
    dims = spatial_dims(ds)
    if options.resolution is None or dims is None or ds.sizes[dims[0]] < 2:
        return 1
    coord = ds[dims[0]].values
    return max(1, round(options.resolution / abs(float(coord[1] - coord[0]))))


def _lonlat_samples(src: CRS, dst: CRS, window: tuple[float, float, float, float]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes (unwrapped around the window's centre, so a window across 180 gives
    170 .. 190 rather than -180 .. 180) and latitudes of a grid of points of `window`, plus
    a pole and every longitude when the window holds one (the arrays' lengths may differ:
    only their ranges are used)."""
    left, bottom, right, top = window
    gx, gy = np.meshgrid(np.linspace(left, right, 61), np.linspace(bottom, top, 61))
    to_dst = _between(_key(src), _key(dst))
    lon, lat = (np.asarray(a, dtype=float) for a in to_dst.transform(gx.ravel(), gy.ravel()))
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    if lon.size == 0:
        raise InvalidRequest(f"the item's grid cannot be expressed in {dst.name}")
    clon, _ = to_dst.transform((left + right) / 2, (bottom + top) / 2)
    if not np.isfinite(clon):
        clon = float(np.median(lon))
    lon = clon + np.mod(lon - clon + 180.0, 360.0) - 180.0
    to_src = _between(_key(dst), _key(src))
    for pole in (90.0, -90.0):
        px, py = to_src.transform(clon, pole)
        if np.isfinite(px) and np.isfinite(py) and left <= px <= right and bottom <= py <= top:
            lat = np.append(lat, pole)  # a pole inside: every longitude
            lon = np.append(lon, [clon - 180.0, clon + 180.0])
    return lon, lat


def _geographic_grid(src: CRS, dst: CRS, window: tuple[float, float, float, float], pixel: float,
                     options: SubsetOptions) -> tuple[Affine, int, int]:
    """A regular lon/lat grid for the source `window` (and a lon/lat `bbox`, when asked):
    longitudes unwrapped across 180 (output coordinates may run past 180, e.g. 170 .. 190,
    as the native path's seam subsets do), pixel size the source's at the window centre
    unless `resolution` (degrees) is given. GDAL's default transform samples the edges and
    across 180 spans the whole -180 .. 180 at a coarse size (issue 15)."""
    lon, lat = _lonlat_samples(src, dst, window)
    west, east, south, north = float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max())
    if options.bbox is not None and options.bbox_crs == "lonlat":
        bw, bs, be, bn = options.bbox
        if be < bw:
            be += 360.0
        shift = 360.0 * np.round(((west + east) / 2 - (bw + be) / 2) / 360.0)
        west, east = max(west, bw + shift), min(east, be + shift)
        south, north = max(south, bs), min(north, bn)
    south, north = max(south, -90.0), min(north, 90.0)
    if east <= west or north <= south:
        raise InvalidRequest(f"bbox {options.bbox} does not intersect the item in {dst.name}; "
                             "nothing to subset")
    if options.resolution is not None:
        res = float(options.resolution)
    elif src.is_geographic:
        res = pixel
    else:  # metres on the body -> degrees of latitude
        res = pixel / (src.ellipsoid.semi_major_metre * np.pi / 180.0) if src.ellipsoid else pixel
    width = max(1, int(np.ceil((east - west) / res - 1e-9)))
    height = max(1, int(np.ceil((north - south) / res - 1e-9)))
    return Affine(res, 0.0, west, 0.0, -res, north), width, height


def _reproject(sel: xr.Dataset, source: Source, options: SubsetOptions,
               max_bytes: int | None = None) -> tuple[xr.Dataset, CRS]:
    """Read the selected window again through a WarpedVRT onto a grid in `options.crs`.

    The output grid is computed first and its size checked against `max_bytes` before any
    array, coordinate or graph is built (``resolution=1e-7`` must not allocate a 10^8-wide
    coordinate, let alone a graph of 10^10 chunks)."""
    try:
        dst = CRS.from_user_input(options.crs)
    except Exception:  # pyproj raises CRSError, a plain Exception subclass
        raise InvalidRequest(
            f"crs {options.crs!r} is not a CRS PROJ knows; use e.g. IAU_2015:30135"
        ) from None
    missing = [n for n in sel.data_vars if n not in source.readers]
    if missing or source.crs is None:
        raise InvalidRequest(
            f"crs= reprojects raster (COG) variables only; {', '.join(map(str, missing)) or 'this item'} "
            "cannot be reprojected: drop crs= to get the native grid"
        )
    xdim, ydim = "x", "y"
    xs, ys = sel[xdim].values, sel[ydim].values
    dx, dy = abs(float(xs[1] - xs[0])) if len(xs) > 1 else 1.0, abs(float(ys[1] - ys[0])) if len(ys) > 1 else 1.0
    left, right = float(xs.min()) - dx / 2, float(xs.max()) + dx / 2
    bottom, top = float(ys.min()) - dy / 2, float(ys.max()) + dy / 2
    if dst.is_geographic:
        transform, width, height = _geographic_grid(source.crs, dst, (left, bottom, right, top),
                                                    min(dx, dy), options)
    else:
        transform, width, height = calculate_default_transform(
            source.crs, dst, len(xs), len(ys), left, bottom, right, top,
            resolution=options.resolution,
        )
    if max_bytes is not None:
        nbytes = sum(int(width) * int(height) * (sel[n].sizes.get("band", 1))
                     * np.dtype(sel[n].dtype).itemsize for n in sel.data_vars)
        if nbytes > max_bytes:
            raise OutputTooLarge(nbytes, max_bytes, f"the subset of item {source.label} reprojected "
                                 f"to {options.crs} ({int(width)} x {int(height)} px)")
    warp = WarpSpec(dst.to_wkt(), tuple(transform)[:6], int(width), int(height))
    variables = {}
    for name in sel.data_vars:
        base = source.readers[str(name)]
        reader = RasterReader(base.path, base.opener, (base.shape[0], warp.height, warp.width),
                              base.dtype, warp)
        var = raster_variable(reader, (512, 512), {}, sel[name].attrs.get("_FillValue"), transform, dst)
        var.attrs = dict(sel[name].attrs)
        if "band" in sel[name].dims:
            var = var.isel(band=sel["band"].values - 1)
        variables[name] = var
    return xr.Dataset(variables), dst


def select(source: Source, options: SubsetOptions, *, max_bytes: int | None = None) -> Selection:
    """The lazy selection `options` ask of `source`; raises `InvalidRequest` naming a problem,
    and `OutputTooLarge` as soon as its output is known to exceed `max_bytes` (before a
    reprojected grid is built)."""
    ds = source.dataset(_variables(source, options))
    if options.bands:
        ds = _bands(ds, source, options.bands)
    ds = _time(ds, source, options)
    ds = _bbox(ds, source, options)
    crs = source.crs
    if options.crs:
        ds, crs = _reproject(ds, source, options, max_bytes)
    elif (step := _resolution_step(ds, options)) > 1 and (dims := spatial_dims(ds)):
        ds = ds.isel({dims[0]: slice(None, None, step), dims[1]: slice(None, None, step)})
    if any(size == 0 for size in ds.sizes.values()):
        raise InvalidRequest(f"the subset of item {source.label} is empty; widen bbox or datetime")
    selection = Selection(source=source, dataset=ds, crs=crs, options=options)
    if max_bytes is not None and selection.nbytes > max_bytes:
        raise OutputTooLarge(selection.nbytes, max_bytes, f"the subset of item {source.label}")
    return selection


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover

