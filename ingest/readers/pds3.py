"""PDS3 products: an ODL label, detached (`.lbl` beside `.img`) or attached to the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from ingest.readers.odl import as_int, load_label, names, plain

_MAGIC = (b"PDS_VERSION_ID", b"CCSD3ZF")


class Pds3Reader(Reader):
    name = "PDS3"
    extensions = (".lbl", ".img")

    def can_open(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        start = head(path, 64).lstrip() if suffix == ".img" else b""
        # .lbl is unambiguous (read() reports a bad label); .img may be VICAR or raw data
        return suffix == ".lbl" or (suffix == ".img" and start.startswith(_MAGIC))

    def read(self, path: Path) -> RasterProduct:
        label = load_label(path, self.name)
        image = label.get("IMAGE")
        if image is None:
            raise LabelError(
                f"PDS3 label {path} has no OBJECT = IMAGE; expected an image product "
                "(tables and spectra are not rasters): ingest it with another command"
            )
        data_file = self._check_data(label, image, path)
        shape = open_raster(path, self.name)
        product_id = text_or_none(plain(label.get("PRODUCT_ID")))
        platform = names(label.get("INSTRUMENT_HOST_NAME") or label.get("SPACECRAFT_NAME"))
        start = label_time(label.get("START_TIME"), key="START_TIME", label=path, fmt=self.name)
        stop = label_time(label.get("STOP_TIME"), key="STOP_TIME", label=path, fmt=self.name)
        extra = {
            f"pds:{k.lower()}": text_or_none(plain(label[k]))
            for k in ("DATA_SET_ID", "PRODUCER_ID", "PRODUCT_VERSION_ID")
            if text_or_none(plain(label.get(k)))
        }
        extra.update(_view_angles(label))
        return RasterProduct(
            id=stac_id(product_id or path.stem),
            path=path,
            format="PDS3",
            label=path,
            files=tuple(dict.fromkeys((path, data_file))),
            start=start,
            end=stop or start,
            title=text_or_none(plain(label.get("PRODUCT_NAME"))) or product_id or path.stem,
            platform=platform[0] if platform else None,
            instruments=names(label.get("INSTRUMENT_NAME") or label.get("INSTRUMENT_ID")),
            mission=text_or_none(plain(label.get("MISSION_NAME"))),
            targets=tuple(body_name(t) for t in names(label.get("TARGET_NAME"))) or ("Moon",),
            processing_level=text_or_none(plain(label.get("PROCESSING_LEVEL_ID"))),
            width=shape.width,
            height=shape.height,
            count=shape.count,
            dtype=shape.dtype,
            extra_properties=extra,
        )

    def _check_data(self, label: Any, image: Any, path: Path) -> Path:
        """The data file the label points at, after checking it holds the whole image."""
        pointer = label.get("^IMAGE")
        record_bytes = as_int(label, "RECORD_BYTES", label=path, fmt=self.name, default=1)
        if pointer is None:
            raise LabelError(
                f"PDS3 label {path} has an IMAGE object but no ^IMAGE pointer; expected "
                '^IMAGE = "FILE.IMG" (detached) or ^IMAGE = <record> (attached): fix the label'
            )
        data_file, offset = path, 0
        if isinstance(pointer, list | tuple):
            data_file = path.parent / str(pointer[0])
            if len(pointer) > 1:
                offset = _pointer_offset(pointer[1], record_bytes)
        elif isinstance(pointer, str):
            data_file = path.parent / pointer
        else:
            offset = _pointer_offset(pointer, record_bytes)
        if not data_file.exists():  # labels often name files in another case
            twins = [p for p in path.parent.iterdir() if p.name.lower() == data_file.name.lower()]
            data_file = twins[0] if twins else data_file
        lines = as_int(image, "LINES", label=path, fmt=self.name)
        samples = as_int(image, "LINE_SAMPLES", label=path, fmt=self.name)
        bands = as_int(image, "BANDS", label=path, fmt=self.name, default=1)
        bits = as_int(image, "SAMPLE_BITS", label=path, fmt=self.name)
        prefix = as_int(image, "LINE_PREFIX_BYTES", label=path, fmt=self.name, default=0)
        suffix = as_int(image, "LINE_SUFFIX_BYTES", label=path, fmt=self.name, default=0)
        needed = offset + bands * lines * (prefix + samples * bits // 8 + suffix)
        check_data_size(data_file, needed, label=path, fmt=self.name)
        return data_file


def _pointer_offset(value: Any, record_bytes: int) -> int:
    """Byte offset of a PDS3 pointer: records are 1-based; `<BYTES>` units are 1-based bytes."""
    units = str(getattr(value, "units", "") or "").upper()
    number = int(plain(value))
    return number - 1 if units == "BYTES" else (number - 1) * record_bytes


#: PDS3 geometry keywords (degrees) -> STAC view extension fields
_VIEW_KEYS = {"INCIDENCE_ANGLE": "view:incidence_angle", "EMISSION_ANGLE": "view:emission_angle",
              "SOLAR_ELEVATION": "view:sun_elevation", "SUB_SOLAR_AZIMUTH": "view:sun_azimuth"}  # fmt: skip


def _view_angles(label: Any) -> dict[str, float]:
    """The view extension's angles a PDS3 label gives (centre-of-image values, degrees); the sun
    elevation from the incidence angle when only that is given (flat terrain)."""
    found: dict[str, float] = {}
    for key, field in _VIEW_KEYS.items():
        raw = plain(label.get(key))
        try:
            found[field] = float(raw)
        except (TypeError, ValueError):
            continue
    if "view:incidence_angle" in found and "view:sun_elevation" not in found:
        found["view:sun_elevation"] = round(90.0 - found["view:incidence_angle"], 6)
    return found
