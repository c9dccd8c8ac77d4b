"""ISIS3 cubes (`.cub`): a PVL label at the start of the file, pixels after it.

Cube or image is decided by the bands and what the label says about them, not by a
`BandBin` group (single-band cubes and DEMs carry one too): a cube of several bands
whose centres are distinct wavelengths (`BandBin/Center` in any unit, or GDAL band
descriptions such as ``540 nm``) is a spectral cube (`isis_band_centres`); every other
cube is an image of one or more bands.

ISIS special pixels keep their values: GDAL marks only NULL as nodata, and the item
records what every special value means (`isis:special_pixels`), so low/high
saturation (LRS, LIS, HIS, HRS) stays distinguishable from missing data.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import shapely

from datacenter.errors import LabelError
from ingest.product import RasterProduct, body_name, stac_id
from ingest.readers.base import (
    Reader,
    check_data_size,
    label_time,
    open_raster,
    probe_raster,
    text_or_none,
)
from ingest.readers.label_footprint import polygon_footprint
from ingest.readers.odl import as_int, load_label, names, plain, units, values

_PIXEL_BYTES = {"UnsignedByte": 1, "SignedByte": 1, "SignedWord": 2, "UnsignedWord": 2,
                "SignedInteger": 4, "UnsignedInteger": 4, "Real": 4, "Double": 8}  # fmt: skip
#: ISIS special pixel values by pixel type (ISIS SpecialPixel.h; the 4- and 8-byte reals are
#: the largest negative values, 0xFF7FFFFB..0xFF7FFFFF and 0xFFEFFFFFFFFFFFFB..F)
SPECIAL_PIXELS: dict[str, dict[str, float]] = {
    "UnsignedByte": {"NULL": 0, "LRS": 0, "LIS": 0, "HIS": 255, "HRS": 255},
    "SignedWord": {"NULL": -32768, "LRS": -32767, "LIS": -32766, "HIS": -32765, "HRS": -32764},
    "UnsignedWord": {"NULL": 0, "LRS": 1, "LIS": 2, "HIS": 65534, "HRS": 65535},
    "Real": {"NULL": -3.4028226550889045e38, "LRS": -3.4028228579130005e38,
             "LIS": -3.4028230607370965e38, "HIS": -3.4028232635611926e38,
             "HRS": -3.4028234663852886e38},
    "Double": {"NULL": -1.797693134862315e308, "LRS": -1.7976931348623151e308,
               "LIS": -1.7976931348623153e308, "HIS": -1.7976931348623155e308,
               "HRS": -1.7976931348623157e308},
}  # fmt: skip
_MEANINGS = {"NULL": "no data", "LRS": "low representation saturation",
             "LIS": "low instrument saturation", "HIS": "high instrument saturation",
             "HRS": "high representation saturation"}  # fmt: skip
_TO_NM = {"nm": 1.0, "nanometer": 1.0, "nanometers": 1.0, "micrometer": 1000.0,
          "micrometers": 1000.0, "micron": 1000.0, "microns": 1000.0, "um": 1000.0,
          "µm": 1000.0, "mm": 1e6, "m": 1e9}  # fmt: skip
_WAVELENGTH = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*(nm|um|µm|micrometers?|microns?|nanometers?)\s*$", re.I)


def isis_band_centres(label: Any, descriptions: tuple[str | None, ...] = ()) -> tuple[list[float], list[float] | None] | None:
    """Band centres (and widths) in nm when the cube is spectral: several bands, one
    distinct wavelength each; None when it is an image of one or more bands."""
    cube: Any = label.get("IsisCube", {})
    bands = int(plain(cube.get("Core", {}).get("Dimensions", {}).get("Bands", 1)))
    if bands < 2:
        return None
    bandbin: Any = cube.get("BandBin", {})
    centres = _in_nm(bandbin.get("Center"), bandbin.get("Unit"))
    if centres is None and descriptions:
        parsed = [_WAVELENGTH.match(d or "") for d in descriptions]
        if all(parsed):
            centres = [float(m[1]) * _TO_NM[_unit_key(m[2])] for m in parsed if m]
    if centres is None or len(centres) != bands or len(set(centres)) != bands:
        return None
    widths = _in_nm(bandbin.get("Width"), bandbin.get("Unit"), like=bandbin.get("Center"))
    return centres, widths if widths and len(widths) == bands else None


def _unit_key(unit: str) -> str:
    key = unit.strip().lower()
    return {"micrometer": "micrometers", "micron": "microns", "nanometer": "nanometers"}.get(key, key)


def _in_nm(raw: Any, unit_value: Any, like: Any = None) -> list[float] | None:
    """Numbers of a BandBin keyword in nm; units from the values, the group's Unit, or
    (none given, all below 50) micrometres, as thermal-infrared cameras (THEMIS) write them."""
    items = values(raw)
    if not items:
        return None
    try:
        numbers = [float(plain(v)) for v in items]
    except (TypeError, ValueError):
        return None
    unit = units(items[0]) or units(raw) or text_or_none(plain(unit_value))
    if unit is None and like is not None:
        unit = units(values(like)[0]) if values(like) else None
    if unit is None:
        factor = 1000.0 if max(numbers) < 50 else 1.0
    else:
        factor = _TO_NM.get(_unit_key(unit))  # type: ignore[assignment]
        if factor is None:
            return None
    if not all(math.isfinite(n) and n > 0 for n in numbers):
        return None
    return [n * factor for n in numbers]


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
        data_file, kind = self._check_data(cube["Core"], path)
        shape = open_raster(path, self.name)
        probed = probe_raster(path, (shape.width, shape.height, shape.count))
        has_crs = bool(probed and probed.has_crs)
        inst: Any = cube.get("Instrument", {})
        mapping: Any = cube.get("Mapping", {})
        archive: Any = cube.get("Archive", {})
        start = label_time(plain(inst.get("StartTime")), key="StartTime", label=path, fmt=self.name)
        stop = label_time(plain(inst.get("StopTime")), key="StopTime", label=path, fmt=self.name)
        target = text_or_none(plain(inst.get("TargetName") or mapping.get("TargetName")))
        product_id = text_or_none(plain(archive.get("ProductId")))
        extra: dict[str, Any] = {}
        if kind in SPECIAL_PIXELS:
            extra["isis:special_pixels"] = {
                name: {"value": value, "meaning": _MEANINGS[name], "nodata": name == "NULL"}
                for name, value in SPECIAL_PIXELS[kind].items()
            }
        if mapping:
            extra["isis:projection"] = text_or_none(plain(mapping.get("ProjectionName")))
        if product_id:
            extra["dc:product_id"] = product_id
        geometry, note = (None, None)
        if not has_crs:
            geometry = footprint_polygon(label, path)
            if geometry is None:
                note = ("not map-projected and its label has no footprint Polygon (run ISIS "
                        "footprintinit to add one), so the item has no footprint (geometry null)")
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
            targets=(body_name(target),) if target else (),
            processing_level=text_or_none(plain(archive.get("ProcessingLevel"))),
            width=shape.width,
            height=shape.height,
            count=shape.count,
            dtype=shape.dtype,
            extra_properties=extra,
            geometry=geometry,
            footprint_note=note,
        )

    def _check_data(self, core: Any, path: Path) -> tuple[Path, str]:
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
        return data_file, kind


def footprint_polygon(label: Any, path: Path) -> dict[str, Any] | None:
    """The footprint of the `Polygon` blob (ISIS footprintinit) as lon/lat GeoJSON, or None."""
    for key, obj in label.items():
        if key != "Polygon" or not hasattr(obj, "get"):
            continue
        try:
            start, size = int(plain(obj["StartByte"])), int(plain(obj["Bytes"]))
            with open(path, "rb") as fh:
                fh.seek(start - 1)
                wkt = fh.read(size).decode("ascii", "replace").strip("\0 \n")
            return polygon_footprint(shapely.from_wkt(wkt))
        except (KeyError, ValueError, OSError, shapely.errors.GEOSException):
            return None
    return None
