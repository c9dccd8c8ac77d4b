"""The typed description of one product, whatever format it came in.

Two kinds share one pipeline: a `RasterProduct` (a 2-D image or DEM that becomes a COG)
and an `ArrayProduct` (a cube, a time series, spectra or a radargram that becomes a Zarr
store). Both carry the same identity, time and platform fields; `Product` is either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

ProductFormat = Literal["GeoTIFF", "PDS4", "PDS3", "ISIS3", "VICAR", "NetCDF", "CSV"]
#: what an array product holds, which decides its chunking and its item's geometry
ArrayKind = Literal["cube", "series", "spectra", "radargram", "grid"]

_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class RasterProduct:
    """One raster product as a reader found it.

    `path` is the file GDAL opens for pixels (for PDS3 and PDS4 the label, which GDAL
    follows to the data); `label` is the label file when there is one; `files` lists
    every file the product consists of. Times are timezone-aware UTC, or None when the
    product does not carry them.

    `source`, when set, is what GDAL opens instead of `path`: a VRT (XML text) over the
    data file, built from what the label says when GDAL's own driver cannot read the
    product. `geometry` is the lon/lat footprint the label gives for a product that is not
    map-projected (corner coordinates, bounding coordinates, an ISIS footprint polygon);
    None when the pixels' CRS gives it, or when nothing is known (`footprint_note` says why).
    """

    id: str
    path: Path
    format: ProductFormat
    label: Path | None = None
    files: tuple[Path, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    platform: str | None = None
    instruments: tuple[str, ...] = ()
    mission: str | None = None
    targets: tuple[str, ...] = ("Moon",)
    processing_level: str | None = None
    width: int = 0
    height: int = 0
    count: int = 0
    dtype: str = ""
    extra_properties: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    geometry: dict[str, Any] | None = None
    footprint_note: str | None = None
    #: set by the cube reader: the pixels have a CRS (x/y are map coordinates)
    crs_known: bool = True

    @property
    def gdal_source(self) -> str:
        """What GDAL opens for the pixels: the VRT text when there is one, else `path`."""
        return self.source or str(self.path)


@dataclass(frozen=True)
class ArrayProduct:
    """One n-dimensional product as a reader found it, ready for the Zarr writer.

    `open_dataset` returns the product as an `xarray.Dataset` whose variables are lazy
    (dask-backed, chunked by `ingest.chunking`), with CF attributes (units, long_name,
    standard_name) and, for map-projected products, x/y coordinates in `crs`. It is a
    function so that a product can be described (and skipped when unchanged) without
    reading its values. `geometry` is the lon/lat footprint on the body (GeoJSON) for
    products that are not map-projected: a landing site point, a traverse line, an
    orbit track's box; None when it follows from `crs` and the x/y coordinates.
    """

    id: str
    path: Path
    format: ProductFormat
    kind: ArrayKind
    open_dataset: Callable[[], Any]
    label: Path | None = None
    files: tuple[Path, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    platform: str | None = None
    instruments: tuple[str, ...] = ()
    mission: str | None = None
    targets: tuple[str, ...] = ("Moon",)
    processing_level: str | None = None
    crs: Any = None  # pyproj.CRS of the x/y coordinates, or None
    geometry: dict[str, Any] | None = None
    extra_properties: dict[str, Any] = field(default_factory=dict)
    footprint_note: str | None = None


Product = RasterProduct | ArrayProduct


def stac_id(text: str) -> str:
    """A STAC-safe id from a label field or a file stem: lowercase, [a-z0-9._-] only."""
    safe = _UNSAFE.sub("-", text.strip().lower()).strip("-._")
    if not safe:
        raise ValueError(f"cannot make an item id from {text!r}: no letters or digits in it")
    return safe


def body_name(text: str) -> str:
    """A target body as STAC writes it: 'MOON', 'Moon (2015) - Sphere' -> 'Moon'."""
    name = text.split("(")[0].strip()
    return name.title() if name.isupper() or name.islower() else name


def utc_datetime(value: Any) -> datetime | None:
    """Parse a label time (ISO 8601, PDS 'YYYY-DDDTHH:MM:SS', TIFF 'YYYY:MM:DD HH:MM:SS',
    or a `datetime`) into a timezone-aware UTC datetime; None for empty / N/A / unknown.

    Naive times are taken as UTC, as PDS and ISIS define them. Raises ValueError when the
    text is not a time.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().strip('"').strip()
        if not text or text.upper() in {"N/A", "NULL", "UNK", "UNKNOWN", "NONE"} or "${" in text:
            return None
        text = text.removesuffix("Z").removesuffix("z")
        m = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}:\d{2}:\d{2})", text)
        if m:  # TIFF DateTime tag
            text = f"{m[1]}-{m[2]}-{m[3]}T{m[4]}"
        m = re.fullmatch(r"(\d{4})-(\d{3})(T.*)?", text)
        if m:  # PDS day-of-year form
            dt = datetime.strptime(f"{m[1]}-{m[2]}", "%Y-%j")
            text = dt.date().isoformat() + (m[3] or "")
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
