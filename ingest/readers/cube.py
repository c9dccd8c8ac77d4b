"""Spectral cubes: PDS4 `Array_3D_Spectrum` (or `Array_3D_Image` with band bins) and ISIS3
cubes of several bands with a distinct wavelength each, read as (band, y, x) with band
centres in nm; map-projected or not (raw spectrometer cubes keep pixel indices).

The label is read by the raster reader of the same format (identity, times, size check);
the pixels come through GDAL one chunk at a time, so a 10 GB cube never sits in memory.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from datacenter.errors import LabelError
from ingest.chunking import chunk_shape
from ingest.crs import to_pyproj
from ingest.product import ArrayProduct, RasterProduct
from ingest.readers.base import Reader, head
from ingest.readers.isis3 import Isis3Reader, isis_band_centres
from ingest.readers.odl import load_label, plain
from ingest.readers.pds4 import Pds4Reader, _descendants, _local, _text, parse_label

if TYPE_CHECKING:  # xarray / pandas / dask.array load on first use (~0.7 s of every CLI start otherwise)
    import xarray as xr

_TO_NM = {"nm": 1.0, "nanometer": 1.0, "nanometers": 1.0, "micrometer": 1000.0,
          "micrometers": 1000.0, "micron": 1000.0, "microns": 1000.0, "um": 1000.0, "µm": 1000.0,
          "mm": 1e6, "m": 1e9}  # fmt: skip


#: GDAL settings for chunk reads: raw formats (PDS4, PDS3, ISIS3, VICAR) read the window
#: straight from the file instead of caching whole lines of every band in GDAL's block
#: cache, which costs memory and a copy and, for a window narrower than the image, reads
#: each line several times (once per chunk across it) when the cache cannot hold them all.
CHUNK_READ_OPTIONS = {"GDAL_ONE_BIG_READ": "YES"}


class GdalBands:
    """A lazy (band, y, x) array over a GDAL-readable file, for `dask.array.from_array`."""

    def __init__(self, path: Path | str, count: int, height: int, width: int, dtype: str):
        self.path, self.shape, self.dtype = path, (count, height, width), np.dtype(dtype)
        self.ndim = 3

    def __getitem__(self, key: tuple[slice, slice, slice]) -> np.ndarray:
        b, y, x = (k.indices(n) for k, n in zip(key, self.shape, strict=True))
        window = Window(x[0], y[0], x[1] - x[0], y[1] - y[0])
        # one handle per chunk (GDAL handles are not thread-safe; an open costs ~1 ms)
        with _quiet(), rasterio.Env(**CHUNK_READ_OPTIONS), rasterio.open(self.path) as ds:
            return ds.read(list(range(b[0] + 1, b[1] + 1)), window=window)


def cube_dataset(product: RasterProduct, centres_nm: list[float], fwhm_nm: list[float] | None) -> xr.Dataset:
    """The cube as a lazy Dataset: `reflectance`-like variable on (band, y, x); x/y are map
    coordinates of pixel centres when the cube is map-projected, pixel indices otherwise."""
    import dask.array as da
    import xarray as xr

    with _quiet(), rasterio.open(product.gdal_source) as src:
        transform, count, h, w, dtype = src.transform, src.count, src.height, src.width, src.dtypes[0]
        unit = (src.units or [None])[0] or None
    chunks = chunk_shape(("band", "y", "x"), (count, h, w), np.dtype(dtype).itemsize)
    data = da.from_array(GdalBands(product.gdal_source, count, h, w, dtype), chunks=chunks, lock=False,
                         asarray=False, name=f"cube-{product.id}")  # fmt: skip
    coords: dict[str, Any] = {
        "band": ("band", np.asarray(centres_nm, dtype="float64"),
                 {"units": "nm", "long_name": "band centre wavelength",
                  "standard_name": "radiation_wavelength"}),
    }  # fmt: skip
    if product.crs_known:
        x = transform.c + transform.a * (np.arange(w) + 0.5)
        y = transform.f + transform.e * (np.arange(h) + 0.5)
        coords["x"] = ("x", x, {"units": "m", "standard_name": "projection_x_coordinate",
                                "long_name": "x coordinate of pixel centre"})  # fmt: skip
        coords["y"] = ("y", y, {"units": "m", "standard_name": "projection_y_coordinate",
                                "long_name": "y coordinate of pixel centre"})  # fmt: skip
    else:  # not map-projected: pixel indices (sample, line), no map coordinates
        coords["x"] = ("x", np.arange(w), {"long_name": "sample (pixel column) index"})
        coords["y"] = ("y", np.arange(h), {"long_name": "line (pixel row) index"})
    if fwhm_nm:
        coords["band_width"] = ("band", np.asarray(fwhm_nm, dtype="float64"),
                                {"units": "nm", "long_name": "band full width at half maximum"})  # fmt: skip
    attrs = {"long_name": f"{product.instruments[0] if product.instruments else 'spectrometer'} values"}
    if unit:
        attrs["units"] = unit
    return xr.Dataset({"data": (("band", "y", "x"), data, attrs)}, coords=coords)


def _as_array_product(product: RasterProduct, centres: list[float], fwhm: list[float] | None) -> ArrayProduct:
    """The spectral cube of `product`: map-projected (x/y in its CRS) or not (pixel
    indices, with the footprint its label gives, or none)."""
    with _quiet(), rasterio.open(product.gdal_source) as src:
        crs = to_pyproj(src.crs) if src.crs else None
    raster = replace(product, crs_known=crs is not None)
    return ArrayProduct(
        id=product.id, path=product.path, format=product.format, kind="cube",
        open_dataset=lambda: cube_dataset(raster, centres, fwhm), label=product.label,
        files=product.files, start=product.start, end=product.end, title=product.title,
        platform=product.platform, instruments=product.instruments, mission=product.mission,
        targets=product.targets, processing_level=product.processing_level, crs=crs,
        geometry=None if crs is not None else product.geometry,
        footprint_note=None if crs is not None else product.footprint_note,
        extra_properties=product.extra_properties,
    )  # fmt: skip


@contextmanager
def _quiet() -> Iterator[None]:
    """No NotGeoreferencedWarning for cubes that are not map-projected (they have no CRS)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def _check_bands(centres: list[float], count: int, label: Path, fmt: str) -> None:
    if len(centres) != count:
        raise LabelError(
            f"{fmt} label {label} lists {len(centres)} band centres for a cube of {count} bands; "
            "expected one centre wavelength per band: fix the band bin list"
        )


class Pds4CubeReader(Reader):
    name = "PDS4 cube"
    extensions = (".xml",)

    def can_open(self, path: Path) -> bool:
        if not Pds4Reader().can_open(path):
            return False
        text = head(path, 1 << 20)
        return b"Array_3D_Spectrum" in text or (b"Array_3D_Image" in text and b"Band_Bin" in text)

    def read(self, path: Path) -> ArrayProduct:
        raster = Pds4Reader().read(path)
        root = parse_label(path)
        bins = sorted(
            _descendants(root, "Band_Bin"),
            key=lambda b: int(float(_text(b, "band_number") or 0)),
        )
        centres, widths = [], []
        for b in bins:
            el = next((d for d in b.iter() if _local(d) == "center_wavelength"), None)
            wl = next((d for d in b.iter() if _local(d) == "bandwidth"), None)
            if el is None or not (el.text or "").strip():
                continue
            factor = _TO_NM.get((el.get("unit") or "nm").lower())
            if factor is None:
                raise LabelError(
                    f"PDS4 label {path} gives center_wavelength in unit {el.get('unit')!r}; "
                    "expected nm or micrometer: fix the label"
                )
            centres.append(float(el.text) * factor)
            if wl is not None and wl.text:
                widths.append(float(wl.text) * _TO_NM.get((wl.get("unit") or "nm").lower(), 1.0))
        if not centres:
            raise LabelError(
                f"PDS4 label {path} describes a spectral cube but has no Band_Bin_Set with "
                "center_wavelength per band; expected img:Band_Bin_Set/img:Band_Bin: add the band centres"
            )
        _check_bands(centres, raster.count, path, "PDS4")
        return _as_array_product(raster, centres, widths if len(widths) == len(centres) else None)


class Isis3CubeReader(Reader):
    """ISIS3 cubes of several bands with one distinct wavelength each (see `isis_band_centres`)."""

    name = "ISIS3 cube"
    extensions = (".cub",)

    def can_open(self, path: Path) -> bool:
        if path.suffix.lower() != ".cub":
            return False
        try:
            return self._centres(path) is not None
        except (LabelError, OSError, RasterioError):
            return False  # Isis3Reader takes it and reports the problem

    def read(self, path: Path) -> ArrayProduct:
        raster = Isis3Reader().read(path)
        found = self._centres(path)
        if found is None:  # pragma: no cover - can_open said it is a cube
            raise LabelError(f"ISIS3 cube {path} lists no band centres")
        centres, widths = found
        _check_bands(centres, raster.count, path, "ISIS3")
        return _as_array_product(raster, centres, widths)

    @staticmethod
    def _centres(path: Path) -> tuple[list[float], list[float] | None] | None:
        label = load_label(path, "ISIS3")
        found = isis_band_centres(label)
        bands = int(plain(label.get("IsisCube", {}).get("Core", {}).get("Dimensions", {}).get("Bands", 1)))
        if found is None and bands > 1:  # band descriptions such as "540 nm" (no BandBin)
            with _quiet(), rasterio.open(path) as ds:
                found = isis_band_centres(label, tuple(ds.descriptions))
        return found
