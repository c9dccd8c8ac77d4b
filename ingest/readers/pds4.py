"""PDS4 products: an XML label (`.xml`) beside its data file.

The label is parsed tolerantly by local element names, so labels with other namespace
prefixes, missions' own classes (Chang'e `Mission_Area`, Chandrayaan-2 `isda:`) or
missing optional classes still read.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from lxml import etree

from datacenter.errors import CorruptProduct, LabelError
from ingest.product import RasterProduct, body_name, stac_id
from ingest.readers.base import (
    Reader,
    check_data_size,
    head,
    label_time,
    probe_raster,
    text_or_none,
)
from ingest.readers.label_footprint import bounds_footprint, corner_footprint
from ingest.readers.raw import RawLayout, vrt_xml

_DATA_TYPE_BYTES = {
    "SignedByte": 1, "UnsignedByte": 1,
    "SignedLSB2": 2, "SignedMSB2": 2, "UnsignedLSB2": 2, "UnsignedMSB2": 2,
    "SignedLSB4": 4, "SignedMSB4": 4, "UnsignedLSB4": 4, "UnsignedMSB4": 4,
    "SignedLSB8": 8, "SignedMSB8": 8, "UnsignedLSB8": 8, "UnsignedMSB8": 8,
    "IEEE754LSBSingle": 4, "IEEE754MSBSingle": 4, "IEEE754LSBDouble": 8, "IEEE754MSBDouble": 8,
    "ComplexLSB8": 8, "ComplexMSB8": 8, "ComplexLSB16": 16, "ComplexMSB16": 16,
}  # fmt: skip
_PLACEHOLDERS = {"TBD", "TBC", "UNK", "UNKNOWN", "NULL", "N/A"}
_HOST_TYPES = {"host", "spacecraft", "rover", "lander", "aircraft", "spacecraft bus"}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _descendants(el: etree._Element, name: str) -> list[etree._Element]:
    return [d for d in el.iter() if _local(d) == name]


def _text(el: etree._Element | None, *path: str) -> str | None:
    """Text of the first descendant following the local-name `path`, or None (nil too)."""
    for name in path:
        if el is None:
            return None
        found = _descendants(el, name)
        el = found[0] if found else None
    if el is None or el.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true":
        return None
    return text_or_none(el.text)


def parse_label(label: Path) -> etree._Element:
    try:
        root = etree.parse(
            str(label), etree.XMLParser(resolve_entities=False, no_network=True)
        ).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise LabelError(
            f"PDS4 label {label} is not well-formed XML ({exc}); expected a PDS4 product label: "
            "fix or re-download the label"
        ) from exc
    if not _children(root, "Identification_Area"):
        raise LabelError(
            f"PDS4 label {label} has no Identification_Area (root element <{_local(root)}>); "
            "expected a PDS4 Product_Observational label: check this is the product's label"
        )
    return root


class Pds4Reader(Reader):
    name = "PDS4"
    extensions = (".xml",)

    def can_open(self, path: Path) -> bool:
        if path.suffix.lower() != ".xml" or path.name.lower().endswith(".aux.xml"):
            return False
        start = head(path, 2048)
        return b"pds.nasa.gov/pds4" in start or b"Product_Observational" in start

    def read(self, path: Path) -> RasterProduct:
        root = parse_label(path)
        refuse_unsupported(root, path)
        files = self._check_data_files(root, path)
        layout = image_layout(root, path)
        expected = (layout.width, layout.height, layout.bands)
        shape, source = probe_raster(path, expected), None
        if shape is None:  # GDAL's PDS4 driver cannot open it: read what the label describes
            source = vrt_xml(layout)
            shape = probe_raster(source, expected)
            if shape is None:
                raise CorruptProduct(
                    f"PDS4 product {path}: the pixels its label describes in {layout.file.name} "
                    "cannot be read; check the file is complete (re-download or re-export it)"
                )
        geometry, note = (None, None) if shape.has_crs else label_geometry(root)
        return replace(
            self.describe(root, path), files=(path, *files), width=shape.width,
            height=shape.height, count=shape.count, dtype=shape.dtype, source=source,
            geometry=geometry, footprint_note=note,
        )  # fmt: skip

    def describe(self, root: etree._Element, path: Path) -> RasterProduct:
        """Identity, times, platform and targets of a parsed label (no data file read)."""
        ident = _children(root, "Identification_Area")[0]
        lid = _text(ident, "logical_identifier")
        if lid and lid.upper() in _PLACEHOLDERS:  # a pre-release label (CaSSIS: "TBD")
            lid = None
        if not lid and _text(ident, "title"):  # the file names the product
            lid = f"urn:unassigned:{path.stem}"
        if not lid:
            raise LabelError(
                f"PDS4 label {path} has no logical_identifier in Identification_Area; expected "
                "e.g. urn:nasa:pds:bundle:collection:product: fix the label"
            )
        obs = (_children(root, "Observation_Area") or [None])[0]
        start = label_time(_text(obs, "Time_Coordinates", "start_date_time"),
                           key="start_date_time", label=path, fmt=self.name)  # fmt: skip
        end = label_time(_text(obs, "Time_Coordinates", "stop_date_time"),
                         key="stop_date_time", label=path, fmt=self.name)  # fmt: skip
        if start is None and end is None:  # a mission's own acquisition time (CaSSIS: UTC)
            stamp = next((el for el in root.iter() if _local(el).lower().endswith(("acquisitiontime",
                          "acquisition_time")) and el.get("Time_Base", "UTC").upper() == "UTC"), None)  # fmt: skip
            if stamp is not None:
                start = label_time(text_or_none(stamp.text), key=_local(stamp), label=path, fmt=self.name)
        if start is None and end is None:  # a date only (Time_Coordinates of a day)
            start = label_time(_text(obs, "Time_Coordinates", "start_date"),
                               key="start_date", label=path, fmt=self.name)  # fmt: skip
            end = label_time(_text(obs, "Time_Coordinates", "stop_date"),
                             key="stop_date", label=path, fmt=self.name)  # fmt: skip
        platform, instruments = None, []
        for comp in _descendants(obs, "Observing_System_Component") if obs is not None else []:
            kind = (_text(comp, "type") or "").lower()
            name = _text(comp, "name")
            if not name:
                continue
            if kind in _HOST_TYPES and platform is None:
                platform = name
            elif kind == "instrument":
                instruments.append(name)
        targets = tuple(
            body_name(t)
            for t in (_text(ti, "name") for ti in _descendants(root, "Target_Identification"))
            if t
        )
        level = _text(root, "Primary_Result_Summary", "processing_level") or _text(
            root, "product_level"
        )
        return RasterProduct(
            id=stac_id(lid.split("::")[0].rsplit(":", 1)[-1]),
            path=path,
            format="PDS4",
            label=path,
            files=(path,),
            start=start,
            end=end or start,
            title=_text(ident, "title"),
            platform=platform,
            instruments=tuple(instruments),
            mission=_text(obs, "Investigation_Area", "name"),
            targets=targets,
            processing_level=level,
            extra_properties={
                "pds:logical_identifier": lid if not lid.startswith("urn:unassigned:") else None,
                "pds:version_id": _text(ident, "version_id"),
            },
        )

    def _check_data_files(self, root: etree._Element, label: Path) -> list[Path]:
        files: list[Path] = []
        for area in _descendants(root, "File_Area_Observational"):
            name = _text(area, "File", "file_name")
            if not name:
                raise LabelError(
                    f"PDS4 label {label} has a File_Area_Observational without File/file_name; "
                    "expected the name of the data file: fix the label"
                )
            data = label.parent / name
            needed = 0
            for arr in area:
                if not _local(arr).startswith("Array"):
                    continue
                try:
                    offset = int(float(_text(arr, "offset") or 0))
                    dims = [int(_text(ax, "elements") or 0) for ax in _children(arr, "Axis_Array")]
                    dtype = _text(arr, "Element_Array", "data_type") or ""
                    size = _DATA_TYPE_BYTES[dtype]
                except (KeyError, ValueError) as exc:
                    raise LabelError(
                        f"PDS4 label {label} describes array {_text(arr, 'local_identifier')!r} in "
                        f"{name} with an unreadable offset, axis size or data_type ({exc}); expected "
                        "numbers and a PDS4 data_type such as SignedLSB2: fix the label"
                    ) from exc
                needed = max(needed, offset + math.prod(dims) * size)
            check_data_size(data, needed, label=label, fmt=self.name)
            files.append(data)
        return files


_NUMPY_TYPES = {
    "SignedByte": "i1", "UnsignedByte": "u1",
    "SignedLSB2": "<i2", "SignedMSB2": ">i2", "UnsignedLSB2": "<u2", "UnsignedMSB2": ">u2",
    "SignedLSB4": "<i4", "SignedMSB4": ">i4", "UnsignedLSB4": "<u4", "UnsignedMSB4": ">u4",
    "SignedLSB8": "<i8", "SignedMSB8": ">i8", "UnsignedLSB8": "<u8", "UnsignedMSB8": ">u8",
    "IEEE754LSBSingle": "<f4", "IEEE754MSBSingle": ">f4", "IEEE754LSBDouble": "<f8",
    "IEEE754MSBDouble": ">f8", "ComplexLSB8": "<c8", "ComplexMSB8": ">c8",
    "ComplexLSB16": "<c16", "ComplexMSB16": ">c16",
}  # fmt: skip
_LINE_AXES = {"line", "lines", "row", "rows", "y"}
_SAMPLE_AXES = {"sample", "samples", "column", "columns", "x"}
_TABLES = ("Table_Binary", "Table_Character", "Table_Delimited")


def refuse_unsupported(root: etree._Element, path: Path) -> None:
    """LabelError, saying exactly what is not supported, for labels that hold no image
    this reader takes: browse products (encoded PNG/JPEG), tables, 1-D arrays."""
    kind = _local(root)
    if kind == "Product_Browse" or _descendants(root, "Encoded_Image"):
        encoding = _text(root, "Encoded_Image", "encoding_standard_id") or "an encoded image"
        raise LabelError(
            f"PDS4 label {path} is a {kind} whose data is an Encoded_Image ({encoding}): a browse "
            "picture, not an observational product; encoded images are not supported: ingest the "
            "product it browses instead"
        )
    arrays = [a for a in _file_arrays(root) if _local(a).startswith("Array")]
    images = [a for a in arrays if 2 <= len(_children(a, "Axis_Array")) <= 3]
    if images:
        return
    found = sorted({_local(a) for a in _file_arrays(root)} - {""})
    tables = [f for f in found if f in _TABLES]
    what = (f"tables ({', '.join(tables)})" if tables and not arrays
            else f"only {', '.join(found) or 'no data object'}")  # fmt: skip
    if arrays:
        axes = sorted({len(_children(a, "Axis_Array")) for a in arrays})
        what = f"only arrays of {'/'.join(map(str, axes))} axes ({', '.join(found)})"
    raise LabelError(
        f"PDS4 label {path} describes {what}, no 2-D or 3-D array; this reader takes images and "
        "cubes (Array_2D*, Array_3D*, or a generic Array of 2 or 3 axes): "
        + ("ingest the table with a time field, or convert it" if tables and not arrays
           else "not supported")
    )


def _file_arrays(root: etree._Element) -> list[etree._Element]:
    return [a for area in _descendants(root, "File_Area_Observational") for a in area
            if _local(a) not in ("File", "")]  # fmt: skip


def image_layout(root: etree._Element, label: Path) -> RawLayout:
    """Where the first 2-D or 3-D array of the label keeps its pixels, as (band, line,
    sample) by the axis names (Line / Sample / Band); unnamed axes are taken in storage
    order (band, line, sample; last index fastest)."""
    for area in _descendants(root, "File_Area_Observational"):
        name = _text(area, "File", "file_name")
        for arr in area:
            axes = _children(arr, "Axis_Array")
            if not _local(arr).startswith("Array") or not 2 <= len(axes) <= 3:
                continue
            dtype_name = _text(arr, "Element_Array", "data_type") or ""
            if dtype_name not in _NUMPY_TYPES:
                raise LabelError(
                    f"PDS4 label {label} gives array {_text(arr, 'local_identifier')!r} the data_type "
                    f"{dtype_name!r}; expected a PDS4 binary type such as SignedLSB2: not supported"
                )
            dtype = np.dtype(_NUMPY_TYPES[dtype_name])
            order = sorted(axes, key=lambda a: int(float(_text(a, "sequence_number") or 0)))
            index_order = (_text(arr, "axis_index_order") or _text(arr, "Element_Array", "order") or "")
            if "first" in index_order.lower():  # First Index Fastest (CaSSIS writes it so)
                order.reverse()
            dims = [int(_text(a, "elements") or 0) for a in order]
            names = [(_text(a, "axis_name") or "").strip().lower() for a in order]
            steps = [dtype.itemsize * int(np.prod(dims[k + 1:])) for k in range(len(dims))]
            line = next((k for k, n in enumerate(names) if n in _LINE_AXES), None)
            sample = next((k for k, n in enumerate(names) if n in _SAMPLE_AXES), None)
            if line is None or sample is None or line == sample:
                line, sample = len(dims) - 2, len(dims) - 1
            band = next((k for k in range(len(dims)) if k not in (line, sample)), None)
            scale = _float(_text(arr, "Element_Array", "scaling_factor")) or 1.0
            add = _float(_text(arr, "Element_Array", "value_offset")) or 0.0
            return RawLayout(
                file=label.parent / (name or ""), offset=int(float(_text(arr, "offset") or 0)),
                width=dims[sample], height=dims[line], bands=dims[band] if band is not None else 1,
                dtype=dtype, nodata=_float(_text(arr, "Special_Constants", "missing_constant")),
                scale=scale, add_offset=add,
                strides=(steps[band] if band is not None else 0, steps[line], steps[sample]),
            )  # fmt: skip
    raise LabelError(f"PDS4 label {label} describes no 2-D or 3-D array: not supported")


def label_geometry(root: etree._Element) -> tuple[dict | None, str | None]:
    """The lon/lat footprint a label gives for a product that is not map-projected:
    Chandrayaan-2 `isda:Refined_Corner_Coordinates` (or any *Corner* class with
    upper/lower left/right latitude/longitude), else `cart:Bounding_Coordinates`."""
    for el in root.iter():
        if "corner" not in _local(el).lower():
            continue
        values = {_local(c).lower(): _float(c.text) for c in el.iter() if c is not el}
        corners = [(values.get(f"{v}_{h}_longitude"), values.get(f"{v}_{h}_latitude"))
                   for v, h in (("upper", "left"), ("upper", "right"), ("lower", "right"), ("lower", "left"))]  # fmt: skip
        if all(lon is not None and lat is not None for lon, lat in corners):
            geom = corner_footprint(corners)  # type: ignore[arg-type]
            if geom is not None:
                return geom, None
    box = [_float(_text(root, "Bounding_Coordinates", k)) for k in
           ("west_bounding_coordinate", "south_bounding_coordinate",
            "east_bounding_coordinate", "north_bounding_coordinate")]  # fmt: skip
    if all(v is not None for v in box):
        geom = bounds_footprint(*box)  # type: ignore[arg-type]
        if geom is not None:
            return geom, None
    return None, (
        "not map-projected and its label gives no Bounding_Coordinates or corner coordinates, "
        "so the item has no footprint (geometry null)"
    )


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
