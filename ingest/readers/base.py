"""The reader contract every product format fulfils, and the checks they share."""

from __future__ import annotations

import abc
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import CRSError, NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from datacenter.errors import CorruptProduct, LabelError
from ingest.product import utc_datetime


class Reader(abc.ABC):
    """One product format: cheap recognition, then a full read into a `RasterProduct`.

    `can_open` looks only at the extension, and at a few header bytes when the extension
    is ambiguous (`.img`, `.xml`). `read` parses the label, checks the data file holds as
    many bytes as the label says (CorruptProduct otherwise), opens the pixels with
    rasterio, and raises LabelError for a malformed label.
    """

    name: str
    #: lowercase suffixes of the files this reader takes as a product's entry file
    extensions: tuple[str, ...]

    @abc.abstractmethod
    def can_open(self, path: Path) -> bool: ...

    @abc.abstractmethod
    def read(self, path: Path) -> Any: ...  # -> RasterProduct

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


@dataclass(frozen=True)
class RasterShape:
    width: int
    height: int
    count: int
    dtype: str
    has_crs: bool = False


def probe_raster(source: Path | str, expected: tuple[int, int, int]) -> RasterShape | None:
    """GDAL's view of `source` (a file, or VRT text) when it opens with the `expected`
    (width, height, bands) and its first line reads; None when it does not.

    A label GDAL's own driver misreads (another object of the label, a quoted file name it
    does not follow, a pointer it gets wrong) gives None, and the reader then reads the
    pixels from the label's own layout instead.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(source) as ds:
                if (ds.width, ds.height, ds.count) != tuple(expected):
                    return None
                ds.read(1, window=Window(0, 0, ds.width, 1))
                try:
                    has_crs = ds.crs is not None and bool(ds.crs.to_wkt())
                except CRSError:
                    has_crs = False
                return RasterShape(ds.width, ds.height, ds.count, ds.dtypes[0], has_crs)
    except (RasterioError, ValueError):
        return None


def head(path: Path, n: int = 64) -> bytes:
    """The first `n` bytes of `path` (b"" when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def open_raster(path: Path, fmt: str) -> RasterShape:
    """Open `path` with rasterio to prove GDAL can read it; CorruptProduct otherwise."""
    try:
        with rasterio.open(path) as ds:
            if ds.width <= 0 or ds.height <= 0 or ds.count <= 0:
                raise CorruptProduct(
                    f"{fmt} product {path} opens with {ds.count} bands of {ds.width}x{ds.height} pixels; "
                    "expected a raster with at least one band and pixel: check the file is complete"
                )
            return RasterShape(ds.width, ds.height, ds.count, ds.dtypes[0])
    except RasterioError as exc:
        raise CorruptProduct(
            f"GDAL cannot open {fmt} product {path}: {exc}. Expected a readable {fmt} raster; "
            "check the file is complete (re-download or re-export it)"
        ) from exc


def gdal_georef(source: Path | str, expected: tuple[int, int, int]) -> tuple[str, tuple[float, ...]] | None:
    """(CRS as WKT, GDAL geotransform) GDAL's driver reads from a label of the `expected`
    size, even when it cannot read the pixels; None when it gives no CRS."""
    try:
        with rasterio.open(source) as ds:
            if (ds.width, ds.height, ds.count) != tuple(expected) or ds.crs is None:
                return None
            return ds.crs.to_wkt(), tuple(ds.transform.to_gdal())
    except (RasterioError, CRSError, ValueError):
        return None


def check_data_size(data_file: Path, expected: int, *, label: Path, fmt: str) -> None:
    """Raise CorruptProduct if `data_file` is missing or shorter than `expected` bytes."""
    if not data_file.is_file():
        raise CorruptProduct(
            f"{fmt} label {label} points at data file {data_file.name}, which is not beside it; "
            "expected the label and its data file in the same folder: copy the data file there"
        )
    size = data_file.stat().st_size
    if size < expected:
        raise CorruptProduct(
            f"{fmt} data file {data_file} holds {size} bytes but its label {label.name} describes "
            f"{expected} bytes; the file is truncated (or the label is wrong): re-download the product"
        )


def label_time(value: Any, *, key: str, label: Path, fmt: str) -> datetime | None:
    """A label time as UTC datetime; LabelError naming the key when it is not a time."""
    try:
        return utc_datetime(value)
    except (ValueError, TypeError) as exc:
        raise LabelError(
            f"{fmt} label {label} has {key} = {value!r}, which is not a time; expected ISO 8601 "
            "such as 2019-01-03T02:26:00Z: fix the label or pass --datetime"
        ) from exc


def text_or_none(value: Any) -> str | None:
    """A label string with quotes and placeholders removed; None when empty or N/A."""
    if value is None:
        return None
    text = " ".join(str(value).split()).strip('"').strip()
    if not text or text.upper() in {"N/A", "NULL", "UNK", "UNKNOWN", "NONE"} or "${" in text:
        return None
    return text
