"""VICAR images (`.vic`, or `.img` starting with `LBLSIZE=`): a text label of KEY=VALUE
items, optionally grouped by PROPERTY= / TASK=, then the pixel records."""

from __future__ import annotations

import re
from pathlib import Path

from datacenter.errors import LabelError
from ingest.product import RasterProduct, body_name, stac_id
from ingest.readers.base import (
    Reader,
    check_data_size,
    head,
    label_time,
    open_raster,
    text_or_none,
)

_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=('(?:[^']|'')*'|\([^)]*\)|[^\s]+)")
_PIXEL_BYTES = {
    "BYTE": 1,
    "HALF": 2,
    "FULL": 4,
    "REAL": 4,
    "DOUB": 8,
    "COMP": 8,
    "WORD": 2,
    "LONG": 4,
}


def parse_vicar_label(path: Path) -> dict[str, str]:
    """The label items of a VICAR file; first occurrence of a key wins (system label first)."""
    start = head(path, 64)
    m = re.match(rb"LBLSIZE=\s*(\d+)", start)
    if not m:
        raise LabelError(
            f"VICAR file {path} does not start with LBLSIZE= (found {start[:16]!r}); "
            "expected a VICAR label: check the file is a VICAR image"
        )
    text = head(path, int(m[1])).split(b"\0", 1)[0].decode("latin-1")
    items: dict[str, str] = {}
    for key, value in _ITEM.findall(text):
        items.setdefault(key.upper(), value.strip("'").replace("''", "'"))
    return items


class VicarReader(Reader):
    name = "VICAR"
    extensions = (".vic", ".vicar", ".img")

    def can_open(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        return suffix in (".vic", ".vicar") or (suffix == ".img" and head(path, 8) == b"LBLSIZE=")

    def read(self, path: Path) -> RasterProduct:
        items = parse_vicar_label(path)
        self._check_data(items, path)
        shape = open_raster(path, self.name)

        def get(*keys: str) -> str | None:
            for key in keys:
                if text_or_none(items.get(key)):
                    return text_or_none(items[key])
            return None

        start = label_time(
            get("START_TIME", "IMAGE_TIME"), key="START_TIME", label=path, fmt=self.name
        )
        stop = label_time(get("STOP_TIME"), key="STOP_TIME", label=path, fmt=self.name)
        instrument = get("INSTRUMENT_NAME", "INSTRUMENT_ID")
        target = get("TARGET_NAME")
        return RasterProduct(
            id=stac_id(get("PRODUCT_ID") or path.stem),
            path=path,
            format="VICAR",
            label=path,
            files=(path,),
            start=start,
            end=stop or start,
            title=get("PRODUCT_ID") or path.stem,
            platform=get("SPACECRAFT_NAME", "INSTRUMENT_HOST_NAME", "MISSION_NAME"),
            instruments=(instrument,) if instrument else (),
            mission=get("MISSION_NAME"),
            targets=(body_name(target),) if target else ("Moon",),
            processing_level=get("PROCESSING_LEVEL_ID"),
            width=shape.width,
            height=shape.height,
            count=shape.count,
            dtype=shape.dtype,
        )

    def _check_data(self, items: dict[str, str], path: Path) -> None:
        try:
            lblsize, recsize = int(items["LBLSIZE"]), int(items["RECSIZE"])
            nl, nb = int(items.get("NL", 0)), int(items.get("NB", 1))
            nlb = int(items.get("NLB", 0))
            int(items["NS"])
            _PIXEL_BYTES[items.get("FORMAT", "BYTE").upper()]
        except (KeyError, ValueError) as exc:
            raise LabelError(
                f"VICAR label of {path} lacks or garbles {exc}; expected LBLSIZE, RECSIZE, NL, NS, "
                "NB and FORMAT (BYTE/HALF/FULL/REAL/DOUB): fix the label"
            ) from exc
        check_data_size(path, lblsize + recsize * (nlb + nl * nb), label=path, fmt=self.name)
