"""PDS4 products: an XML label (`.xml`) beside its data file.

The label is parsed tolerantly by local element names, so labels with other namespace
prefixes, missions' own classes (Chang'e `Mission_Area`, Chandrayaan-2 `isda:`) or
missing optional classes still read.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from lxml import etree

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

_DATA_TYPE_BYTES = {
    "SignedByte": 1, "UnsignedByte": 1,
    "SignedLSB2": 2, "SignedMSB2": 2, "UnsignedLSB2": 2, "UnsignedMSB2": 2,
    "SignedLSB4": 4, "SignedMSB4": 4, "UnsignedLSB4": 4, "UnsignedMSB4": 4,
    "SignedLSB8": 8, "SignedMSB8": 8, "UnsignedLSB8": 8, "UnsignedMSB8": 8,
    "IEEE754LSBSingle": 4, "IEEE754MSBSingle": 4, "IEEE754LSBDouble": 8, "IEEE754MSBDouble": 8,
    "ComplexLSB8": 8, "ComplexMSB8": 8, "ComplexLSB16": 16, "ComplexMSB16": 16,
}  # fmt: skip
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
        files = self._check_data_files(root, path)
        shape = open_raster(path, self.name)
        return replace(
            self.describe(root, path), files=(path, *files), width=shape.width,
            height=shape.height, count=shape.count, dtype=shape.dtype,
        )  # fmt: skip

    def describe(self, root: etree._Element, path: Path) -> RasterProduct:
        """Identity, times, platform and targets of a parsed label (no data file read)."""
        ident = _children(root, "Identification_Area")[0]
        lid = _text(ident, "logical_identifier")
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
            targets=targets or ("Moon",),
            processing_level=level,
            extra_properties={
                "pds:logical_identifier": lid,
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
