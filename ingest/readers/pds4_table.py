"""PDS4 tables (`Table_Binary`, `Table_Character`): orbiter and lander time series, spectra
(APXS-like: a `Group_Field_Binary` of channels per record) and radargrams (Yutu-2 LPR-like:
per-trace header fields, then a group of samples in two-way time).

    record dimension   kind        when
    time               series      no repeated group; a time field becomes the index
    spectrum, channel  spectra     a repeated group, not a radar instrument
    trace, sample      radargram   a repeated group and the instrument is a radar (LPR/GPR)

Geometry: a rover's traverse line (lon/lat fields of a radargram or rover series), a
landing site point (`Lander_Location` / `Rover_Location` of Chang'e labels, or constant
lon/lat fields), or the box of an orbiter's ground track.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lxml import etree

from datacenter.errors import CorruptProduct, LabelError
from ingest.product import ArrayProduct, RasterProduct
from ingest.readers.base import Reader, head
from ingest.readers.geometry import track_geometry
from ingest.readers.pds4 import Pds4Reader, _children, _descendants, _local, _text, parse_label
from ingest.readers.table_data import series_dataset

_BINARY = {
    "SignedByte": "i1", "UnsignedByte": "u1",
    "SignedLSB2": "<i2", "SignedMSB2": ">i2", "UnsignedLSB2": "<u2", "UnsignedMSB2": ">u2",
    "SignedLSB4": "<i4", "SignedMSB4": ">i4", "UnsignedLSB4": "<u4", "UnsignedMSB4": ">u4",
    "SignedLSB8": "<i8", "SignedMSB8": ">i8", "UnsignedLSB8": "<u8", "UnsignedMSB8": ">u8",
    "IEEE754LSBSingle": "<f4", "IEEE754MSBSingle": ">f4",
    "IEEE754LSBDouble": "<f8", "IEEE754MSBDouble": ">f8",
}  # fmt: skip
_RADAR = re.compile(r"\b(lpr|gpr|radar|penetrating)\b", re.IGNORECASE)
DEFAULT_LPR_SAMPLING_NS = 0.3125  # Yutu-2 LPR channel 2


@dataclass(frozen=True)
class Field:
    name: str
    offset: int  # 0-based byte offset in the record (or the column for character tables)
    length: int
    data_type: str
    unit: str | None
    description: str | None


@dataclass(frozen=True)
class Group:
    repetitions: int
    offset: int
    length: int
    field: Field  # the one field repeated (a sample, a channel count)


@dataclass(frozen=True)
class TableSpec:
    data_file: Path
    kind: str  # "binary" | "character"
    offset: int
    records: int
    record_length: int
    fields: tuple[Field, ...]
    group: Group | None


def _int(el: etree._Element | None, name: str, label: Path, default: int | None = None) -> int:
    text = _text(el, name)
    if text is None and default is not None:
        return default
    try:
        return int(float(text or ""))
    except ValueError as exc:
        raise LabelError(
            f"PDS4 label {label} has {name} = {text!r} in a table description; expected a whole "
            "number: fix the label"
        ) from exc


def _field(el: etree._Element, label: Path, base: int = 0) -> Field:
    name = _text(el, "name") or ""
    unit = _children(el, "unit")
    return Field(
        name=name, offset=base + _int(el, "field_location", label) - 1,
        length=_int(el, "field_length", label), data_type=_text(el, "data_type") or "",
        unit=unit[0].text.strip() if unit and unit[0].text else None,
        description=_text(el, "description"),
    )  # fmt: skip


def table_spec(root: etree._Element, label: Path) -> TableSpec:
    """The first Table_Binary / Table_Character of the label, with its fields."""
    for area in _descendants(root, "File_Area_Observational"):
        name = _text(area, "File", "file_name")
        for table in area:
            kind = {"Table_Binary": "binary", "Table_Character": "character"}.get(_local(table))
            if kind is None:
                continue
            rec = next((c for c in table if _local(c).startswith("Record_")), None)
            if not name or rec is None:
                raise LabelError(
                    f"PDS4 label {label} has a {_local(table)} without a file_name or Record_ class; "
                    "expected File/file_name and Record_Binary or Record_Character: fix the label"
                )
            fields = [_field(f, label) for f in rec if _local(f).startswith("Field_")]
            group = None
            for g in (c for c in rec if _local(c).startswith("Group_Field_")):
                inner = [c for c in g if _local(c).startswith("Field_")]
                if len(inner) != 1:
                    raise LabelError(
                        f"PDS4 label {label} has a group field with {len(inner)} fields (nested groups "
                        "or records of several fields); this reader takes one repeated field per group "
                        "(samples, channels): such tables are not supported"
                    )
                start = _int(g, "group_location", label) - 1
                group = Group(_int(g, "repetitions", label), start, _int(g, "group_length", label),
                              _field(inner[0], label, base=start))  # fmt: skip
            return TableSpec(
                data_file=label.parent / name, kind=kind, offset=_int(table, "offset", label, 0),
                records=_int(table, "records", label),
                record_length=_int(rec, "record_length", label),
                fields=tuple(fields), group=group,
            )  # fmt: skip
    raise LabelError(f"PDS4 label {label} has no Table_Binary or Table_Character")


def read_columns(spec: TableSpec, label: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Every field as a numpy column (bytes for ASCII fields), and the group as (records, n)."""
    needed = spec.offset + spec.records * spec.record_length
    size = spec.data_file.stat().st_size if spec.data_file.is_file() else -1
    if size < 0:
        raise CorruptProduct(
            f"PDS4 label {label} points at data file {spec.data_file.name}, which is not beside it: "
            "copy the data file next to the label"
        )
    if size < needed:
        raise CorruptProduct(
            f"PDS4 table {spec.data_file} holds {size} bytes but its label {label.name} describes "
            f"{spec.records} records of {spec.record_length} bytes from offset {spec.offset} "
            f"({needed} bytes); the file is truncated (or the label is wrong): re-download the product"
        )
    raw = np.fromfile(spec.data_file, dtype="u1", count=needed)[spec.offset:]
    recs = raw.reshape(spec.records, spec.record_length)
    columns: dict[str, np.ndarray] = {}
    for f in spec.fields:
        cell = np.ascontiguousarray(recs[:, f.offset:f.offset + f.length])
        columns[f.name] = _decode(cell, f, spec.kind, label)
    group = None
    if spec.group is not None:
        g, f = spec.group, spec.group.field
        dtype = _BINARY.get(f.data_type)
        if dtype is None or np.dtype(dtype).itemsize * g.repetitions != g.length:
            raise LabelError(
                f"PDS4 label {label} describes group field {f.name!r} as {g.repetitions} x "
                f"{f.data_type} in {g.length} bytes; expected a binary numeric type filling the "
                "group: fix the label"
            )
        cell = np.ascontiguousarray(recs[:, g.offset:g.offset + g.length])
        group = cell.view(dtype).reshape(spec.records, g.repetitions).astype(np.dtype(dtype).newbyteorder("="))
    return columns, group


def _decode(cell: np.ndarray, f: Field, kind: str, label: Path) -> np.ndarray:
    if f.data_type in _BINARY:
        dtype = np.dtype(_BINARY[f.data_type])
        return cell.view(dtype).reshape(-1).astype(dtype.newbyteorder("="))
    text = cell.view(f"S{f.length}").reshape(-1)
    if f.data_type.startswith("ASCII_Date_Time") or f.data_type.startswith("ASCII_String"):
        return np.char.strip(text)
    try:
        if f.data_type == "ASCII_Integer":
            return text.astype(np.int64)
        if f.data_type == "ASCII_Real":
            return text.astype(np.float64)
    except ValueError as exc:
        raise CorruptProduct(
            f"PDS4 table field {f.name!r} of {label.name} holds a value that is not a number "
            f"({exc}); the data file disagrees with its label: re-download the product"
        ) from exc
    raise LabelError(
        f"PDS4 label {label} gives field {f.name!r} the data_type {f.data_type!r}, which this "
        f"{kind} table reader does not know (expected ASCII_Real, ASCII_Integer, ASCII_Date_Time_* "
        "or a binary integer or real type): tables with this field type are not supported"
    )


def _site(root: etree._Element) -> tuple[float, float] | None:
    for name in ("Lander_Location", "Rover_Location", "Landing_Site"):
        for el in _descendants(root, name):
            lon, lat = _text(el, "longitude"), _text(el, "latitude")
            if lon is not None and lat is not None:
                return float(lon), float(lat)
    return None


class Pds4TableReader(Reader):
    name = "PDS4 table"
    extensions = (".xml",)

    def can_open(self, path: Path) -> bool:
        if not Pds4Reader().can_open(path):
            return False
        text = head(path, 1 << 20)
        return b"Table_Binary" in text or b"Table_Character" in text

    def read(self, path: Path) -> ArrayProduct:
        root = parse_label(path)
        meta: RasterProduct = Pds4Reader().describe(root, path)
        spec = table_spec(root, path)
        columns, group = read_columns(spec, path)
        units = {f.name: f.unit for f in spec.fields}
        descriptions = {f.name: f.description for f in spec.fields}
        if group is None:
            kind, group_dims = "series", None
        elif any(_RADAR.search(i) for i in meta.instruments):
            kind, group_dims = "radargram", ("trace", "sample")
        else:
            kind, group_dims = "spectra", ("spectrum", "channel")
        group_coord = None
        if kind == "radargram":
            step = float(_text(root, "sampling_interval") or DEFAULT_LPR_SAMPLING_NS)
            group_coord = ("two_way_time", step, "ns", "two-way travel time of the radar echo")
        elif kind == "spectra":
            group_coord = ("channel", 1.0, "1", "spectrometer channel number")
        group_field = spec.group.field if spec.group else None
        ds, start, end, lonlat = series_dataset(
            columns, units=units, descriptions=descriptions, group=group, group_dims=group_dims,
            group_name=group_field.name if group_field else None,
            group_unit=group_field.unit if group_field else None, group_coord=group_coord,
            source=str(path),
        )  # fmt: skip
        rover = kind == "radargram" or (meta.platform or "").lower().find("rover") >= 0 or "yutu" in (
            meta.platform or ""
        ).lower()
        geometry = track_geometry(lonlat, site=_site(root), line=rover, source=str(path))
        return ArrayProduct(
            id=meta.id, path=path, format="PDS4", kind=kind, open_dataset=lambda: ds,  # type: ignore[arg-type]
            label=path, files=(path, spec.data_file), start=meta.start or start, end=meta.end or end,
            title=meta.title, platform=meta.platform, instruments=meta.instruments,
            mission=meta.mission, targets=meta.targets, processing_level=meta.processing_level,
            geometry=geometry, extra_properties=meta.extra_properties,
        )  # fmt: skip

