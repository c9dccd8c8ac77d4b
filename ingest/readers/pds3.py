"""PDS3 products: an ODL label, detached (`.lbl` beside `.img`) or attached to the image.

The image object is `IMAGE` at the top of the label, or nested in `UNCOMPRESSED_FILE` /
`FILE` (LOLA LDEM), or named for its content (`RDN_IMAGE` of an M3 L1B product), or a
`QUBE` / `SPECTRAL_QUBE`. Its pointer may count records (`^IMAGE = 12`), bytes
(`^IMAGE = 6425 <BYTES>`) or name a file (`"F.IMG"`, `("F.IMG", 12)`, `("F.IMG", 12 <BYTES>)`).
GDAL's PDS driver reads the pixels when it can; otherwise they are read through a VRT
of raw bands at the offset, type and interleave the label gives (`ingest.readers.raw`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from datacenter.errors import LabelError
from ingest.product import RasterProduct, body_name, stac_id
from ingest.readers.base import (
    Reader,
    check_data_size,
    gdal_georef,
    head,
    label_time,
    probe_raster,
    text_or_none,
)
from ingest.readers.label_footprint import bounds_footprint, corner_footprint
from ingest.readers.odl import as_int, is_sequence, load_label, names, plain, values
from ingest.readers.raw import RawLayout, gdal_type, vrt_xml

_MAGIC = (b"PDS_VERSION_ID", b"CCSD3ZF", b"ODL_VERSION_ID")
_CONTAINERS = ("UNCOMPRESSED_FILE", "FILE", "COMPRESSED_FILE")
_QUBES = ("QUBE", "SPECTRAL_QUBE")
#: PDS3 SAMPLE_TYPE / CORE_ITEM_TYPE -> numpy kind and byte order
_SAMPLE_TYPES = {
    "MSB_INTEGER": ">i", "INTEGER": ">i", "SUN_INTEGER": ">i", "MAC_INTEGER": ">i",
    "LSB_INTEGER": "<i", "PC_INTEGER": "<i", "VAX_INTEGER": "<i",
    "MSB_UNSIGNED_INTEGER": ">u", "UNSIGNED_INTEGER": ">u", "SUN_UNSIGNED_INTEGER": ">u",
    "MAC_UNSIGNED_INTEGER": ">u", "LSB_UNSIGNED_INTEGER": "<u", "PC_UNSIGNED_INTEGER": "<u",
    "VAX_UNSIGNED_INTEGER": "<u", "IEEE_REAL": ">f", "REAL": ">f", "FLOAT": ">f",
    "MSB_IEEE_REAL": ">f", "SUN_REAL": ">f", "MAC_REAL": ">f", "PC_REAL": "<f",
    "LSB_IEEE_REAL": "<f",
}  # fmt: skip
_STORAGE = {"BAND_SEQUENTIAL": "BSQ", "LINE_INTERLEAVED": "BIL", "SAMPLE_INTERLEAVED": "BIP"}
_QUBE_AXES = {("SAMPLE", "LINE", "BAND"): "BSQ", ("SAMPLE", "BAND", "LINE"): "BIL",
              ("BAND", "SAMPLE", "LINE"): "BIP"}  # fmt: skip
_CORNERS = ("UPPER_LEFT", "UPPER_RIGHT", "LOWER_RIGHT", "LOWER_LEFT")


class Pds3Reader(Reader):
    name = "PDS3"
    extensions = (".lbl", ".img", ".qub")

    def can_open(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        start = head(path, 64).lstrip() if suffix in (".img", ".qub") else b""
        # .lbl is unambiguous (read() reports a bad label); .img may be VICAR or raw data
        return suffix == ".lbl" or (suffix in (".img", ".qub") and start.startswith(_MAGIC))

    def read(self, path: Path) -> RasterProduct:
        label = load_label(path, self.name)
        obj_name, image, container = find_image(label, path)
        layout, unsupported = self._layout(label, obj_name, image, container, path)
        check_data_size(layout.file, layout.offset + layout.size, label=path, fmt=self.name)
        shape = probe_raster(path, (layout.width, layout.height, layout.bands))
        source = None
        if shape is None:  # GDAL's PDS driver cannot read it: the label's own layout
            if unsupported or gdal_type(layout.dtype) is None:
                raise LabelError(
                    f"PDS3 label {path}: {unsupported or f'{obj_name} is {layout.dtype.name}, a sample type GDAL has no raw band for'}; "
                    "this layout is not supported: convert the product with ISIS (pds2isis) and ingest the cube"
                )
            georef = gdal_georef(path, (layout.width, layout.height, layout.bands))
            source = vrt_xml(layout, srs_wkt=georef[0] if georef else None,
                             geotransform=georef[1] if georef else None)  # fmt: skip
            shape = probe_raster(source, (layout.width, layout.height, layout.bands))
            if shape is None:  # pragma: no cover - the size check above makes this a bug
                raise LabelError(f"PDS3 label {path}: the pixels of {obj_name} cannot be read")
        geometry, note = (None, None) if shape.has_crs else label_geometry(label, image)
        product_id = text_or_none(plain(label.get("PRODUCT_ID")))
        platform = names(label.get("INSTRUMENT_HOST_NAME") or label.get("SPACECRAFT_NAME"))
        start = self._time(label, path, "START_TIME", "CORRECTED_START_TIME", "IMAGE_TIME")
        stop = self._time(label, path, "STOP_TIME", "CORRECTED_STOP_TIME")
        extra = {
            f"pds:{k.lower()}": text_or_none(plain(label[k]))
            for k in ("DATA_SET_ID", "PRODUCER_ID", "PRODUCT_VERSION_ID")
            if text_or_none(plain(label.get(k)))
        }
        if product_id:
            extra["dc:product_id"] = product_id
        extra.update(_observation(label))
        return RasterProduct(
            id=stac_id(product_id or path.stem),
            path=path,
            format="PDS3",
            label=path,
            files=tuple(dict.fromkeys((path, layout.file))),
            start=start,
            end=stop or start,
            title=text_or_none(plain(label.get("PRODUCT_NAME"))) or product_id or path.stem,
            platform=platform[0] if platform else None,
            instruments=names(label.get("INSTRUMENT_NAME") or label.get("INSTRUMENT_ID")),
            mission=text_or_none(plain(label.get("MISSION_NAME"))),
            targets=tuple(body_name(t) for t in names(label.get("TARGET_NAME"))),
            processing_level=text_or_none(plain(label.get("PROCESSING_LEVEL_ID"))),
            width=shape.width,
            height=shape.height,
            count=shape.count,
            dtype=shape.dtype,
            extra_properties=extra,
            source=source,
            geometry=geometry,
            footprint_note=note,
        )

    def _time(self, label: Any, path: Path, *keys: str):
        for key in keys:
            value = label.get(key)
            if text_or_none(plain(value)):
                return label_time(plain(value), key=key, label=path, fmt=self.name)
        return None

    def _layout(
        self, label: Any, obj_name: str, image: Any, container: Any, path: Path
    ) -> tuple[RawLayout, str | None]:
        """Where the label puts the pixels of `image`, checked for sense, and why a VRT of
        raw bands cannot read them (None when it can)."""
        pointer = container.get(f"^{obj_name}") if container is not None else None
        top = label.get(f"^{obj_name}")
        if pointer is None or (top is not None and _names_missing_file(pointer, path)):
            # a label re-written around its data (USGS cropped LOLA's LDEM into the label's
            # own file) keeps the container's pointer at the original file and adds a pointer
            # into itself at the top, which GDAL reads: take that one when the other's file
            # is not there
            pointer = top
        if pointer is None:
            raise LabelError(
                f"PDS3 label {path} has an {obj_name} object but no ^{obj_name} pointer; expected "
                f'^{obj_name} = "FILE.IMG" (detached) or ^{obj_name} = <record> (attached): fix the label'
            )
        record_bytes = as_int(label, "RECORD_BYTES", label=path, fmt=self.name, default=1)
        if container is not None and "RECORD_BYTES" in container:
            record_bytes = as_int(container, "RECORD_BYTES", label=path, fmt=self.name)
        data_file, offset = path, 0
        if is_sequence(pointer):
            parts = list(pointer)
            data_file = path.parent / str(plain(parts[0]))
            if len(parts) > 1:
                offset = _pointer_offset(parts[1], record_bytes)
        elif isinstance(plain(pointer), str):
            data_file = path.parent / str(plain(pointer))
        else:
            offset = _pointer_offset(pointer, record_bytes)
        data_file = _same_name(data_file)
        unsupported: str | None = None
        get = lambda key, default=None: as_int(image, key, label=path, fmt=self.name, default=default)  # noqa: E731
        if obj_name.endswith("QUBE"):
            axes = tuple(str(plain(a)).upper() for a in values(image.get("AXIS_NAME")))
            items = [int(plain(v)) for v in values(image.get("CORE_ITEMS"))]
            suffix = [int(plain(v)) for v in values(image.get("SUFFIX_ITEMS"))] or [0]
            interleave = _QUBE_AXES.get(axes)
            if interleave is None or len(items) != 3:
                raise LabelError(
                    f"PDS3 label {path} has a {obj_name} with AXIS_NAME = {axes} and CORE_ITEMS = {items}; "
                    "expected three axes SAMPLE, LINE, BAND in some order: not supported"
                )
            dims = dict(zip(axes, items, strict=True))
            width, height, bands = dims["SAMPLE"], dims["LINE"], dims["BAND"]
            kind = str(plain(image.get("CORE_ITEM_TYPE", ""))).upper()
            bits = 8 * get("CORE_ITEM_BYTES")
            prefix = post = 0
            if any(suffix):
                unsupported = (
                    f"its {obj_name} has suffix planes (SUFFIX_ITEMS = {tuple(suffix)}), which only "
                    "GDAL's PDS driver reads, and it cannot read this one"
                )
            nodata = _number(image.get("CORE_NULL"))
            scale = _number(image.get("CORE_MULTIPLIER")) or 1.0
            add = _number(image.get("CORE_BASE")) or 0.0
        else:
            width, height = get("LINE_SAMPLES"), get("LINES")
            bands = get("BANDS", 1)
            kind = str(plain(image.get("SAMPLE_TYPE", ""))).upper()
            bits = get("SAMPLE_BITS")
            prefix, post = get("LINE_PREFIX_BYTES", 0), get("LINE_SUFFIX_BYTES", 0)
            storage = str(plain(image.get("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL"))).upper()
            interleave = _STORAGE.get(storage, "BSQ")
            nodata = _number(image.get("MISSING_CONSTANT", image.get("NULL")))
            scale = _number(image.get("SCALING_FACTOR")) or 1.0
            add = _number(image.get("OFFSET")) or 0.0
        prefix_kind = _SAMPLE_TYPES.get(kind.replace(" ", "_"))
        if prefix_kind is None or bits not in (8, 16, 32, 64):
            raise LabelError(
                f"PDS3 label {path} gives {obj_name} the sample type {kind!r} of {bits} bits; expected "
                f"one of {', '.join(sorted(_SAMPLE_TYPES))} of 8, 16, 32 or 64 bits: not supported"
            )
        if min(width, height, bands) <= 0:
            raise LabelError(
                f"PDS3 label {path} gives {obj_name} {width} samples, {height} lines and {bands} bands; "
                "expected positive sizes: fix the label"
            )
        order, kind_char = prefix_kind
        if kind_char == "f" and bits not in (32, 64):
            raise LabelError(
                f"PDS3 label {path} gives {obj_name} {bits}-bit reals; expected 32 or 64: not supported"
            )
        dtype = np.dtype(("u1" if kind_char == "u" else "i1") if bits == 8 else f"{order}{kind_char}{bits // 8}")
        return RawLayout(
            file=data_file, offset=offset, width=width, height=height, bands=bands, dtype=dtype,
            interleave=interleave, line_prefix=prefix, line_suffix=post, nodata=nodata,
            scale=scale, add_offset=add,
        ), unsupported  # fmt: skip


def find_image(label: Any, path: Path) -> tuple[str, Any, Any]:
    """(object name, image object, containing object or None) of the label's raster."""
    if _is_object(label.get("IMAGE")):
        return "IMAGE", label["IMAGE"], None
    for key, block in label.items():
        if not (key.upper() in _CONTAINERS or key.upper().endswith("_FILE")):
            continue
        for sub in values(block) if is_sequence(block) else [block]:
            if not _is_object(sub):
                continue
            for name, obj in sub.items():
                if _is_object(obj) and _image_name(name) and (f"^{name}" in sub or f"^{name}" in label):
                    return name, obj, sub
    for key, value in label.items():
        if _is_object(value) and _image_name(key) and f"^{key}" in label:
            return key, value, None
    for key, value in label.items():
        if _is_object(value) and (key.upper() in _QUBES or key.upper().endswith("_QUBE")):
            return key, value, None
    objects = [k for k, v in label.items() if _is_object(v)]
    raise LabelError(
        f"PDS3 label {path} has no IMAGE or QUBE object (objects: {', '.join(objects) or 'none'}); "
        "expected an image product: tables and spectra are not rasters, this reader does not take them"
    )


def _image_name(name: str) -> bool:
    upper = name.upper()
    return upper == "IMAGE" or (upper.endswith("_IMAGE") and "BROWSE" not in upper)


def label_geometry(label: Any, image: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A lon/lat footprint from corner or bounding keywords; (None, why) when there is none."""
    corners = []
    for corner in _CORNERS:
        lat, lon = _number(label.get(f"{corner}_LATITUDE")), _number(label.get(f"{corner}_LONGITUDE"))
        if lat is None or lon is None:
            break
        corners.append((lon, lat))
    if len(corners) == 4 and (geom := corner_footprint(corners)) is not None:
        return geom, None
    for block in (label, image, label.get("IMAGE_MAP_PROJECTION") or {}):
        bounds = [_number(block.get(k)) for k in ("WESTERNMOST_LONGITUDE", "MINIMUM_LATITUDE",
                                                  "EASTERNMOST_LONGITUDE", "MAXIMUM_LATITUDE")]  # fmt: skip
        if all(v is not None for v in bounds):
            west, south, east, north = bounds  # type: ignore[misc]
            direction = str(plain(block.get("POSITIVE_LONGITUDE_DIRECTION", "EAST"))).upper()
            if direction == "WEST":
                west, east = -east, -west  # type: ignore[operator]
            if (geom := bounds_footprint(west, south, east, north)) is not None:  # type: ignore[arg-type]
                return geom, None
    return None, (
        "not map-projected and its label gives no corner or bounding coordinates, "
        "so the item has no footprint (geometry null)"
    )


def _is_object(value: Any) -> bool:
    return hasattr(value, "get") and hasattr(value, "items")


def _number(value: Any) -> float | None:
    value = plain(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _same_name(data_file: Path) -> Path:
    """The data file, found in another case when the label names it differently."""
    if data_file.exists() or not data_file.parent.is_dir():
        return data_file
    twins = [p for p in data_file.parent.iterdir() if p.name.lower() == data_file.name.lower()]
    return twins[0] if twins else data_file


def _names_missing_file(pointer: Any, label: Path) -> bool:
    """Whether `pointer` names a data file (``"F.IMG"``, ``("F.IMG", n)``) not beside `label`."""
    name = plain(list(pointer)[0]) if is_sequence(pointer) else plain(pointer)
    return isinstance(name, str) and not _same_name(label.parent / name).exists()


def _pointer_offset(value: Any, record_bytes: int) -> int:
    """Byte offset of a PDS3 pointer: records are 1-based; `<BYTES>` units are 1-based bytes."""
    units = str(getattr(value, "units", "") or "").upper()
    number = int(plain(value))
    return number - 1 if units == "BYTES" else (number - 1) * record_bytes


#: PDS3 geometry keywords (degrees) -> STAC view extension fields, and the emission and phase
#: angles (the view extension has neither, and refuses other `view:` names) as our own `dc:`
_VIEW_KEYS = {"INCIDENCE_ANGLE": "view:incidence_angle", "EMISSION_ANGLE": "dc:emission_angle",
              "SOLAR_ELEVATION": "view:sun_elevation", "SUB_SOLAR_AZIMUTH": "view:sun_azimuth",
              "PHASE_ANGLE": "dc:phase_angle"}  # fmt: skip
_RANGES = {"view:incidence_angle": (0, 90), "dc:emission_angle": (0, 90), "view:sun_elevation": (-90, 90),
           "view:sun_azimuth": (0, 360), "dc:phase_angle": (0, 180)}  # fmt: skip
_LOCAL_TIME = ("LOCAL_TRUE_SOLAR_TIME", "LOCAL_SOLAR_TIME", "LOCAL_TIME")
_HMS = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _observation(label: Any) -> dict[str, Any]:
    """What a planetary user filters by that a PDS3 label gives: the view angles
    (centre-of-image values, degrees; the sun elevation from the incidence angle when only
    that is given, flat terrain), the phase angle, the orbit number (`sat:absolute_orbit`;
    N/A, 0 and the like are left out) and the local solar time (`ssys:local_time`, as the
    label writes it). A value outside its range is left out rather than guessed at."""
    found: dict[str, Any] = {}
    for key, field in _VIEW_KEYS.items():
        try:
            value = float(plain(label.get(key)))
        except (TypeError, ValueError):
            continue
        low, high = _RANGES[field]
        if math.isfinite(value) and low <= value <= high:
            found[field] = value
    if "view:incidence_angle" in found and "view:sun_elevation" not in found:
        found["view:sun_elevation"] = round(90.0 - found["view:incidence_angle"], 6)
    try:
        orbit = int(str(plain(label.get("ORBIT_NUMBER"))).strip())
    except (TypeError, ValueError):
        orbit = 0
    if orbit >= 1:
        found["sat:absolute_orbit"] = orbit
    for key in _LOCAL_TIME:
        raw = plain(label.get(key))
        if isinstance(raw, dt.time):  # pvl reads 12:07:38 as a time in UTC: a local time has no zone
            raw = raw.replace(tzinfo=None).isoformat()
        value = str(raw or "").strip()
        if _HMS.match(value):
            found["ssys:local_time"] = value
            break
    return found
