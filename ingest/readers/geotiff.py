"""GeoTIFF (and COG) products: times from the TIFF DateTime tag or GDAL metadata."""

from __future__ import annotations

from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from datacenter.errors import CorruptProduct
from ingest.product import RasterProduct, body_name, stac_id
from ingest.readers.base import Reader, head, label_time, open_raster, text_or_none

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

#: GDAL metadata keys we understand, besides TIFFTAG_DATETIME
_KEYS = {
    "platform": ("platform", "PLATFORM", "SPACECRAFT_NAME", "INSTRUMENT_HOST_NAME"),
    "instruments": ("instruments", "instrument", "INSTRUMENT", "INSTRUMENT_NAME"),
    "mission": ("mission", "MISSION", "MISSION_NAME"),
    "title": ("title", "TITLE", "TIFFTAG_IMAGEDESCRIPTION"),
    "target": ("target", "TARGET", "TARGET_NAME"),
    "processing_level": ("processing_level", "PROCESSING_LEVEL", "processing:level"),
    "id": ("id", "PRODUCT_ID"),
}


class GeoTiffReader(Reader):
    name = "GeoTIFF"
    extensions = (".tif", ".tiff")

    def can_open(self, path: Path) -> bool:
        # the extension is unambiguous: a .tif that is not a TIFF is a corrupt product,
        # which read() reports, not a file to skip
        return path.suffix.lower() in self.extensions

    def read(self, path: Path) -> RasterProduct:
        if head(path, 4) not in _TIFF_MAGIC:
            raise CorruptProduct(
                f"{path} has a GeoTIFF extension but does not start with a TIFF header "
                f"(found {head(path, 4)!r}, expected II*\\0 or MM\\0*): re-export it as GeoTIFF"
            )
        shape = open_raster(path, self.name)
        try:
            with rasterio.open(path) as ds:
                tags = ds.tags()
        except RasterioError as exc:  # pragma: no cover - open_raster already succeeded
            raise CorruptProduct(f"GDAL cannot read the metadata of {path}: {exc}") from exc

        def first(kind: str) -> str | None:
            for key in _KEYS[kind]:
                if text_or_none(tags.get(key)):
                    return text_or_none(tags[key])
            return None

        def when(*keys: str):
            for key in keys:
                if text_or_none(tags.get(key)):
                    return label_time(tags[key], key=key, label=path, fmt=self.name)
            return None

        start = when("start_datetime", "START_TIME", "datetime", "TIFFTAG_DATETIME")
        end = when("end_datetime", "STOP_TIME") or start
        instruments = first("instruments")
        target = first("target")
        return RasterProduct(
            id=stac_id(first("id") or path.stem),
            path=path,
            format="GeoTIFF",
            label=None,
            files=(path,),
            start=start,
            end=end,
            title=first("title") or path.stem,
            platform=first("platform"),
            instruments=tuple(i.strip() for i in instruments.split(",")) if instruments else (),
            mission=first("mission"),
            targets=(body_name(target),) if target else ("Moon",),
            processing_level=first("processing_level"),
            width=shape.width,
            height=shape.height,
            count=shape.count,
            dtype=shape.dtype,
        )
