"""ISIS3 cubes (`.cub`): a PVL label at the start of the file, pixels after it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from datacenter.errors import LabelError
from ingest.product import RasterProduct, body_name, stac_id
from ingest.readers.base import (
    Reader,
    check_data_size,
    label_time,
    open_raster,
    text_or_none,
)
from ingest.readers.odl import as_int, load_label, names, plain

_PIXEL_BYTES = {"UnsignedByte": 1, "SignedByte": 1, "SignedWord": 2, "UnsignedWord": 2,
                "SignedInteger": 4, "UnsignedInteger": 4, "Real": 4, "Double": 8}  # fmt: skip


class Isis3Reader(Reader):
    name = "ISIS3"
    extensions = (".cub",)

    def can_open(self, path: Path) -> bool:
        return path.suffix.lower() == ".cub"  # unambiguous: read() reports a bad label

    def read(self, path: Path) -> RasterProduct:
        label = load_label(path, self.name)
        cube = label.get("IsisCube")
        if cube is None or "Core" not in cube:
            raise LabelError(
                f"ISIS3 label {path} has no IsisCube/Core object; expected an ISIS3 cube label "
                "(Object = IsisCube, Object = Core): check the file is an ISIS3 cube"
            )
        data_file = self._check_data(cube["Core"], path)
        shape = open_raster(path, self.name)
        inst: Any = cube.get("Instrument", {})
        mapping: Any = cube.get("Mapping", {})
        archive: Any = cube.get("Archive", {})
        start = label_time(inst.get("StartTime"), key="StartTime", label=path, fmt=self.name)
        stop = label_time(inst.get("StopTime"), key="StopTime", label=path, fmt=self.name)
        target = text_or_none(plain(inst.get("TargetName") or mapping.get("TargetName")))
        product_id = text_or_none(plain(archive.get("ProductId")))
        return RasterProduct(
            id=stac_id(product_id or path.stem),
            path=path,
            format="ISIS3",
            label=path,
            files=tuple(dict.fromkeys((path, data_file))),
            start=start,
            end=stop or start,
            title=product_id or path.stem,
            platform=text_or_none(plain(inst.get("SpacecraftName"))),
            instruments=names(inst.get("InstrumentId")),
            mission=text_or_none(plain(archive.get("MissionName") or inst.get("MissionName"))),
            targets=(body_name(target),) if target else ("Moon",),
            processing_level=text_or_none(plain(archive.get("ProcessingLevel"))),
            width=shape.width,
            height=shape.height,
            count=shape.count,
            dtype=shape.dtype,
            extra_properties={"isis:projection": text_or_none(plain(mapping.get("ProjectionName")))}
            if mapping
            else {},
        )

    def _check_data(self, core: Any, path: Path) -> Path:
        dims, pixels = core.get("Dimensions", {}), core.get("Pixels", {})
        kind = str(plain(pixels.get("Type", "")))
        if kind not in _PIXEL_BYTES:
            raise LabelError(
                f"ISIS3 label {path} has Core/Pixels/Type = {kind!r}; expected one of "
                f"{', '.join(_PIXEL_BYTES)}: fix the label"
            )
        samples = as_int(dims, "Samples", label=path, fmt=self.name)
        lines = as_int(dims, "Lines", label=path, fmt=self.name)
        bands = as_int(dims, "Bands", label=path, fmt=self.name, default=1)
        if str(plain(core.get("Format", "BandSequential"))).lower() == "tile":
            ts = as_int(core, "TileSamples", label=path, fmt=self.name)
            tl = as_int(core, "TileLines", label=path, fmt=self.name)
            samples, lines = math.ceil(samples / ts) * ts, math.ceil(lines / tl) * tl
        pointer = core.get("^Core")
        data_file = path.parent / str(plain(pointer)) if pointer else path
        start = 0 if pointer else as_int(core, "StartByte", label=path, fmt=self.name) - 1
        check_data_size(
            data_file,
            start + samples * lines * bands * _PIXEL_BYTES[kind],
            label=path,
            fmt=self.name,
        )
        return data_file
