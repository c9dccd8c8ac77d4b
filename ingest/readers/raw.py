"""Pixels at the offsets and types a label gives, for products GDAL's own drivers refuse.

A label (PDS3 IMAGE / QUBE, PDS4 Array_2D / Array_3D) says where the pixels are: the data
file, the byte offset, the sample type and byte order, the band interleave and line
prefix / suffix bytes. `RawLayout` holds that, and `vrt_xml` turns it into a GDAL VRT of
raw bands (as text, which rasterio opens like a file name), so the rest of the pipeline
reads these pixels through GDAL exactly as it reads any other raster.

    layout = RawLayout(file=img, offset=3638, width=5064, height=10, bands=1,
                       dtype=np.dtype(">u2"), interleave="BSQ")
    with rasterio.open(vrt_xml(layout)) as ds: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

import numpy as np

Interleave = Literal["BSQ", "BIL", "BIP"]

_GDAL_TYPES = {
    ("u", 1): "Byte", ("i", 1): "Int8", ("u", 2): "UInt16", ("i", 2): "Int16",
    ("u", 4): "UInt32", ("i", 4): "Int32", ("u", 8): "UInt64", ("i", 8): "Int64",
    ("f", 4): "Float32", ("f", 8): "Float64", ("c", 8): "CFloat32", ("c", 16): "CFloat64",
}  # fmt: skip


@dataclass(frozen=True)
class RawLayout:
    """Where and how a label stores its pixels (all offsets in bytes, 0-based)."""

    file: Path
    offset: int
    width: int
    height: int
    bands: int
    dtype: np.dtype
    interleave: Interleave = "BSQ"
    line_prefix: int = 0
    line_suffix: int = 0
    nodata: float | None = None
    scale: float = 1.0
    add_offset: float = 0.0
    #: (band, line, pixel) steps in bytes, for orders no interleave names (a PDS4 array
    #: whose Line axis varies fastest); overrides `interleave` and line prefix / suffix
    strides: tuple[int, int, int] | None = None

    @property
    def size(self) -> int:
        """Bytes the pixels span from `offset` to the end of the last line."""
        samples = self.width * self.dtype.itemsize
        if self.strides is not None:
            return self.bands * self.height * samples
        if self.interleave == "BSQ":  # prefix and suffix bytes on every line of every band
            return self.bands * self.height * (self.line_prefix + samples + self.line_suffix)
        return self.height * (self.line_prefix + self.bands * samples + self.line_suffix)

    def band_offsets(self) -> list[tuple[int, int, int]]:
        """(image offset, pixel offset, line offset) of each band, for GDAL raw bands."""
        item, w, b = self.dtype.itemsize, self.width, self.bands
        pre, post = self.line_prefix, self.line_suffix
        if self.strides is not None:
            band, line, pixel = self.strides
            return [(self.offset + k * band, pixel, line) for k in range(b)]
        if self.interleave == "BSQ":
            line = pre + w * item + post
            return [(self.offset + k * self.height * line + pre, item, line) for k in range(b)]
        if self.interleave == "BIL":
            line = pre + b * w * item + post
            return [(self.offset + pre + k * w * item, item, line) for k in range(b)]
        line = pre + w * b * item + post  # BIP
        return [(self.offset + pre + k * item, b * item, line) for k in range(b)]


def gdal_type(dtype: np.dtype) -> str | None:
    """GDAL's name for a numpy sample type, None when GDAL has no raw band of it."""
    return _GDAL_TYPES.get((dtype.kind, dtype.itemsize))


def vrt_xml(layout: RawLayout, *, srs_wkt: str | None = None,
            geotransform: tuple[float, ...] | None = None) -> str:
    """A GDAL VRT (text) of raw bands over `layout.file`; no CRS and no geotransform unless
    given (GDAL's driver may read a label's map projection but not its pixels)."""
    kind = gdal_type(layout.dtype)
    if kind is None:  # callers check first; this is a programming error
        raise ValueError(f"no GDAL raw band type for {layout.dtype}")
    order = "MSB" if layout.dtype.byteorder == ">" else "LSB"
    source = escape(str(Path(layout.file).resolve()))
    bands = []
    for n, (image, pixel, line) in enumerate(layout.band_offsets(), start=1):
        extra = ""
        if layout.nodata is not None:
            extra += f"<NoDataValue>{_number(layout.nodata)}</NoDataValue>"
        if layout.scale != 1.0 or layout.add_offset != 0.0:
            extra += f"<Offset>{_number(layout.add_offset)}</Offset><Scale>{_number(layout.scale)}</Scale>"
        bands.append(
            f'<VRTRasterBand dataType="{kind}" band="{n}" subClass="VRTRawRasterBand">'
            f'<SourceFilename relativetoVRT="0">{source}</SourceFilename>'
            f"<ImageOffset>{image}</ImageOffset><PixelOffset>{pixel}</PixelOffset>"
            f"<LineOffset>{line}</LineOffset><ByteOrder>{order}</ByteOrder>{extra}</VRTRasterBand>"
        )
    georef = ""
    if srs_wkt and geotransform:
        georef = (f"<SRS>{escape(srs_wkt)}</SRS>"
                  f"<GeoTransform>{', '.join(repr(float(v)) for v in geotransform)}</GeoTransform>")  # fmt: skip
    return (f'<VRTDataset rasterXSize="{layout.width}" rasterYSize="{layout.height}">'
            f'{georef}{"".join(bands)}</VRTDataset>')  # fmt: skip


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
