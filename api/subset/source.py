"""An item's data assets as one lazy xarray Dataset, chunked on the stored chunks.

COG assets become one variable each (named by the asset key; dims ``band, y, x`` or
``y, x``) read window by window through `RasterReader`, a picklable array whose Dask
chunks are whole multiples of the COG's internal tiles. Zarr assets are opened with
``xarray.open_zarr`` (Dask chunks = Zarr chunks) and contribute their data variables.
Bytes are reached only through the `Store` (a local folder or S3), and only assets present
in the item the caller was given (so assets an access filter removed do not exist here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from catalog.base import StacItem
from datacenter.errors import CorruptProduct, InvalidRequest
from datacenter.storage import Store, check_key

#: Dask chunk target: big enough for few tasks and few object-store requests, small enough
#: that (threads x chunk) stays far below the server's memory budget.
CHUNK_BYTES = 32 * 1024 * 1024
GDAL_ENV = {"GDAL_CACHEMAX": 64, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


@dataclass(frozen=True)
class WarpSpec:
    """A target grid: the COG is read through a WarpedVRT onto it (nearest neighbour)."""

    crs_wkt: str
    transform: tuple[float, ...]
    width: int
    height: int


@dataclass(frozen=True)
class RasterReader:
    """A lazily read raster (bands, rows, cols); ``reader[b, y, x]`` reads one window.

    Holds only a path and an fsspec opener, so Dask can ship it to worker processes.
    """

    path: str
    opener: Any
    shape: tuple[int, int, int]
    dtype: str
    warp: WarpSpec | None = None

    @property
    def ndim(self) -> int:
        return 3

    def __getitem__(self, key: tuple[slice, slice, slice]) -> np.ndarray:
        bands, rows, cols = key
        indexes = list(range(bands.start + 1, bands.stop + 1))
        window = Window.from_slices(rows, cols)
        with rasterio.Env(**GDAL_ENV), rasterio.open(self.path, opener=self.opener) as src:
            if self.warp is None:
                return src.read(indexes, window=window)
            w = self.warp
            with WarpedVRT(
                src, crs=CRS.from_wkt(w.crs_wkt).to_wkt(), transform=Affine(*w.transform[:6]),
                width=w.width, height=w.height, resampling=Resampling.nearest,
                nodata=src.nodata,
            ) as vrt:
                return vrt.read(indexes, window=window)

    def to_dask(self, block: tuple[int, int]) -> da.Array:
        count, height, width = self.shape
        itemsize = np.dtype(self.dtype).itemsize
        side = math.sqrt(CHUNK_BYTES / max(1, itemsize * count))
        by, bx = block
        cy = max(by, int(side // by) * by)
        cx = max(bx, int(side // bx) * bx)
        return da.from_array(
            self, chunks=(count, min(cy, height), min(cx, width)), lock=False, asarray=True,
            fancy=False, meta=np.empty((0, 0, 0), dtype=self.dtype), inline_array=True,
            name=f"read-{abs(hash((self.path, self.warp)))}",
        )


@dataclass
class Source:
    """One item's data, lazily: the Dataset on its native grid and how to re-read it."""

    item: StacItem
    variables: dict[str, xr.DataArray]
    crs: CRS | None
    readers: dict[str, RasterReader] = field(default_factory=dict)  # COG variables
    checksums: dict[str, str] = field(default_factory=dict)  # asset key -> file:checksum
    origins: dict[str, str] = field(default_factory=dict)  # variable -> the asset it is read from

    @property
    def label(self) -> str:
        return f"{self.item.get('collection')}/{self.item['id']}"

    def dataset(self, names: list[str] | None = None) -> xr.Dataset:
        """The named variables (all by default) as one Dataset; they must share one grid."""
        chosen = names or sorted(self.variables)
        try:
            xr.align(*(self.variables[n] for n in chosen), join="exact")
            return xr.Dataset({n: self.variables[n] for n in chosen})
        except ValueError:
            raise InvalidRequest(
                f"variables {', '.join(chosen)} of item {self.label} lie on different grids; "
                "ask for one of them at a time with variables="
            ) from None


def item_crs(item: StacItem) -> CRS | None:
    props = item.get("properties", {})
    for key in ("proj:code", "proj:wkt2"):
        if props.get(key):
            return CRS.from_user_input(props[key])
    if props.get("proj:projjson"):
        return CRS.from_json_dict(props["proj:projjson"])
    return None


def _is_cog(asset: dict[str, Any]) -> bool:
    return "image/tiff" in str(asset.get("type", "")) and "data" in (asset.get("roles") or ["data"])


def _is_zarr(asset: dict[str, Any]) -> bool:
    return "zarr" in str(asset.get("type", "")).lower()


def grid_coords(transform: Affine, width: int, height: int, crs: CRS | None) -> dict[str, xr.Variable]:
    """Pixel-centre x / y coordinates with CF attributes for `crs`."""
    xs = transform.c + transform.a * (np.arange(width) + 0.5)
    ys = transform.f + transform.e * (np.arange(height) + 0.5)
    if crs is not None and crs.is_geographic:
        xattrs = {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east"}
        yattrs = {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north"}
    else:
        unit = crs.axis_info[0].unit_name if crs is not None and crs.axis_info else "metre"
        units = "m" if unit in ("metre", "meter") else unit
        xattrs = {"standard_name": "projection_x_coordinate", "long_name": "x", "units": units}
        yattrs = {"standard_name": "projection_y_coordinate", "long_name": "y", "units": units}
    return {"x": xr.Variable("x", xs, xattrs), "y": xr.Variable("y", ys, yattrs)}


def raster_variable(reader: RasterReader, block: tuple[int, int], asset: dict[str, Any],
                    nodata: float | None, transform: Affine, crs: CRS | None) -> xr.DataArray:
    """A COG (or its warped view) as a lazy DataArray with CF attributes from the asset."""
    count, height, width = reader.shape
    data = reader.to_dask(block)
    band_info = (asset.get("raster:bands") or [{}])[0]
    attrs: dict[str, Any] = {}
    if band_info.get("unit"):
        attrs["units"] = band_info["unit"]
    if band_info.get("scale", 1.0) != 1.0 or band_info.get("offset", 0.0) != 0.0:
        attrs["scale_factor"] = float(band_info.get("scale", 1.0))
        attrs["add_offset"] = float(band_info.get("offset", 0.0))
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        attrs["_FillValue"] = np.array(nodata, dtype=reader.dtype).item()
    if asset.get("title"):
        attrs["long_name"] = asset["title"]
    coords: dict[str, Any] = grid_coords(transform, width, height, crs)
    if count == 1:
        return xr.DataArray(data[0], dims=("y", "x"), coords=coords, attrs=attrs)
    coords["band"] = xr.Variable("band", np.arange(1, count + 1), {"long_name": "band number"})
    return xr.DataArray(data, dims=("band", "y", "x"), coords=coords, attrs=attrs)


def _open_cog(store: Store, key: str, name: str, asset: dict[str, Any], crs: CRS | None
              ) -> tuple[xr.DataArray, RasterReader]:
    path = store.path(key)
    opener = None if store.is_local else store.fs
    try:
        with rasterio.Env(**GDAL_ENV), rasterio.open(path, opener=opener) as src:
            reader = RasterReader(path, opener, (src.count, src.height, src.width), src.dtypes[0])
            block = tuple(src.block_shapes[0])
            nodata, transform = src.nodata, src.transform
    except rasterio.errors.RasterioIOError as exc:
        store.info(key)  # a missing object is NotFound, an unreachable store a StorageError (503)
        raise CorruptProduct(
            f"asset {name!r} ({key}) is in the store but GDAL cannot read it as a GeoTIFF ({exc}); "
            "re-ingest the product"
        ) from exc
    return raster_variable(reader, block, asset, nodata, transform, crs), reader  # type: ignore[arg-type]


def _open_zarr(store: Store, key: str) -> xr.Dataset:
    import zarr.storage

    path = store.path(key)
    if store.is_local:
        zstore: Any = zarr.storage.LocalStore(path, read_only=True)
    else:
        zstore = zarr.storage.FsspecStore.from_mapper(store.fs.get_mapper(path), read_only=True)
    try:  # consolidated metadata when the store has it (one read instead of one per array)
        return xr.open_zarr(zstore, chunks={}, consolidated=True, mask_and_scale=False)
    except (KeyError, FileNotFoundError, ValueError):
        return xr.open_zarr(zstore, chunks={}, consolidated=False, mask_and_scale=False)


def open_source(item: StacItem, store: Store) -> Source:
    """The item's data assets as one lazy Dataset (no pixel is read here)."""
    crs = item_crs(item)
    variables: dict[str, xr.DataArray] = {}
    readers: dict[str, RasterReader] = {}
    checksums: dict[str, str] = {}
    origins: dict[str, str] = {}
    for name, asset in sorted((item.get("assets") or {}).items()):
        if not (_is_cog(asset) or _is_zarr(asset)):
            continue
        key = check_key(str(asset.get("href", "")))
        if asset.get("file:checksum"):
            checksums[name] = asset["file:checksum"]
        if _is_cog(asset):
            variables[name], readers[name] = _open_cog(store, key, name, asset, crs)
            origins[name] = name
        else:
            ds = _open_zarr(store, key)
            for var_name, var in ds.data_vars.items():
                variables[str(var_name)] = var
                origins[str(var_name)] = name
    if not variables:
        raise InvalidRequest(
            f"item {item.get('collection')}/{item['id']} has no COG or Zarr data asset to subset; "
            "download its assets instead"
        )
    return Source(item=item, variables=variables, crs=crs, readers=readers, checksums=checksums,
                  origins=origins)
