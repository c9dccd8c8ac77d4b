"""Small but realistic sample products: numpy-made bodies under real label structures.

Used by the tests and by `datacenter demo`. Every product has known times, platform,
instruments and id (see the `SAMPLES` table), and is at most 1024 x 1024 pixels.
Helpers at the end make broken inputs (truncated data, lying labels, garbage TIFFs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from lxml import etree
from rasterio.crs import CRS
from rasterio.transform import from_origin

MOON_RADIUS = 1_737_400.0
METRES_PER_DEGREE = 2 * math.pi * MOON_RADIUS / 360.0
LOLA_SCALE, LOLA_OFFSET, LOLA_NODATA = 0.5, 1_737_400.0, -32768


@dataclass(frozen=True)
class SampleInfo:
    """What a sample product carries, for tests to compare against."""

    id: str
    start: datetime
    end: datetime
    platform: str
    instrument: str
    proj_code: str


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


SAMPLES = {
    "geotiff": SampleInfo("kaguya_tc_ortho_n05e020", _utc("2008-02-14T03:12:45Z"),
                          _utc("2008-02-14T03:12:45Z"), "SELENE", "TC", "IAU_2015:30100"),
    "wac": SampleInfo("wac_mosaic_e180_643m", _utc("2010-01-01T00:00:00Z"),
                      _utc("2010-01-01T00:00:00Z"), "LRO", "LROC WAC", "IAU_2015:30115"),
    "pds4": SampleInfo("ldem_87s_40m", _utc("2009-07-13T17:33:17Z"), _utc("2013-07-01T00:00:00Z"),
                       "Lunar Reconnaissance Orbiter", "Lunar Orbiter Laser Altimeter",
                       "IAU_2015:30135"),
    "pds3": SampleInfo("ldem_16_00n_30n_000_030", _utc("2009-07-13T17:33:17Z"),
                       _utc("2012-05-01T00:00:00Z"), "LUNAR RECONNAISSANCE ORBITER",
                       "LUNAR ORBITER LASER ALTIMETER", "IAU_2015:30110"),
    "isis3": SampleInfo("ce2_ccd_north_polar_dom", _utc("2010-10-24T08:05:12.5Z"),
                        _utc("2010-10-24T08:19:40Z"), "CHANG'E-2", "CCD", "IAU_2015:30130"),
    "vicar": SampleInfo("kaguya_mi_vis_s10e165", _utc("2008-05-02T11:20:05Z"),
                        _utc("2008-05-02T11:20:15Z"), "SELENE", "MI-VIS", "IAU_2015:30110"),
}  # fmt: skip


# -- bodies -------------------------------------------------------------------------------


def dem_heights(height: int, width: int, seed: int = 1) -> np.ndarray:
    """Heights in metres: a basin, a few craters and rough noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    z = -2500.0 * np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.08)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.02, 0.12)
        d = np.hypot(x - cx, y - cy) / r
        z += np.where(
            d < 1, -800 * r * 10 * (1 - d**2), 300 * r * 10 * np.exp(-((d - 1) ** 2) / 0.05)
        )
    return z + rng.normal(0, 8, size=z.shape)


def image_dn(height: int, width: int, seed: int = 2) -> np.ndarray:
    """An 8-bit reflectance-like image: shaded relief of a DEM plus noise."""
    z = dem_heights(height, width, seed)
    gy, gx = np.gradient(z)
    shade = 0.6 + 0.004 * (gx - gy)
    rng = np.random.default_rng(seed)
    return np.clip(shade * 160 + rng.normal(0, 6, z.shape), 1, 255).astype(np.uint8)


def lola_dn(heights: np.ndarray) -> np.ndarray:
    """LOLA int16 DN: radius = DN * 0.5 + 1737400, so DN = height / 0.5."""
    return np.clip(np.round(heights / LOLA_SCALE), -32767, 32767).astype(np.int16)


# -- GeoTIFF --------------------------------------------------------------------------------


def make_geotiff(
    directory: Path,
    *,
    name: str = "kaguya_tc_ortho_n05e020",
    crs: str = "IAU_2015:30100",
    transform: Affine | None = None,
    data: np.ndarray | None = None,
    nodata: float | None = 0,
    tags: dict[str, str] | None = None,
    timestamp: str | None = "2008:02:14 03:12:45",
) -> Path:
    """A GeoTIFF (default: a Kaguya TC ortho tile in Moon geographic, 20-25E 0-5N at 64 px/deg)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = image_dn(320, 320) if data is None else data
    transform = transform or from_origin(20.0, 5.0, 1 / 64, 1 / 64)
    default_tags = {"PLATFORM": "SELENE", "INSTRUMENT": "TC", "MISSION": "SELENE (Kaguya)",
                    "TARGET": "Moon", "PROCESSING_LEVEL": "L2"}  # fmt: skip
    if timestamp:
        default_tags["TIFFTAG_DATETIME"] = timestamp
    path = directory / f"{name}.tif"
    bands = data[np.newaxis] if data.ndim == 2 else data
    with rasterio.open(path, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1],
                       count=bands.shape[0], dtype=bands.dtype, crs=CRS.from_user_input(crs),
                       transform=transform, nodata=nodata, tiled=True) as ds:  # fmt: skip
        ds.write(bands)
        ds.update_tags(**{**default_tags, **(tags or {})})
    return path


def make_equatorial_mosaic_crossing_antimeridian(directory: Path) -> Path:
    """An LROC WAC-like mosaic in IAU_2015:30115 (equirectangular, clon 180) centred on 180 E:
    170 E to 170 W, 10 S to 10 N at ~643 m/px (960 x 480), dated by TIFFTAG_DATETIME."""
    res = METRES_PER_DEGREE / 47.15  # ~643 m/px, like the WAC global mosaic
    width, height = 944, 472
    transform = from_origin(-width / 2 * res, height / 2 * res, res, res)
    return make_geotiff(
        directory,
        name="wac_mosaic_e180_643m",
        crs="IAU_2015:30115",
        transform=transform,
        data=image_dn(height, width, seed=3),
        tags={
            "PLATFORM": "LRO",
            "INSTRUMENT": "LROC WAC",
            "MISSION": "Lunar Reconnaissance Orbiter",
            "TITLE": "LROC WAC 643 nm mosaic around the 180 deg meridian",
        },  # fmt: skip
        timestamp="2010:01:01 00:00:00",
    )


# -- PDS4 -----------------------------------------------------------------------------------

PDS_NS = "http://pds.nasa.gov/pds4/pds/v1"


def make_pds4_south_polar_dem(directory: Path, *, size: int = 512, with_times: bool = True) -> Path:
    """A LOLA-like south-polar DEM (IAU_2015:30135, 40 m/px, centred on the pole) with a
    PDS4 label written by GDAL and completed the way real archive labels are."""
    directory.mkdir(parents=True, exist_ok=True)
    info = SAMPLES["pds4"]
    res = 40.0
    path = directory / f"{info.id}.xml"
    dn = lola_dn(dem_heights(size, size, seed=4))
    y, x = np.mgrid[0:size, 0:size]
    dn[np.hypot(x - size / 2, y - size / 2) > size * 0.7] = LOLA_NODATA  # corners unmapped
    with rasterio.open(
        path, "w", driver="PDS4", width=size, height=size, count=1, dtype="int16",
        crs=CRS.from_user_input(info.proj_code),
        transform=from_origin(-size / 2 * res, size / 2 * res, res, res), nodata=LOLA_NODATA,
        VAR_TARGET="Moon", VAR_TARGET_TYPE="Satellite",
        VAR_LOGICAL_IDENTIFIER=f"urn:nasa:pds:lro_lola:data_derived:{info.id}",
        VAR_TITLE="LOLA south polar DEM around the pole (89.5 S), 40 m/px",
        ARRAY_TYPE="Array_2D_Image",
    ) as ds:  # fmt: skip
        ds.write(dn, 1)
        ds.scales, ds.offsets = (LOLA_SCALE,), (LOLA_OFFSET,)
        ds.units = ("m",)
    _complete_pds4_label(path, info, with_times=with_times)
    return path


def _complete_pds4_label(path: Path, info: SampleInfo, *, with_times: bool) -> None:
    """Fill what GDAL leaves as placeholders or nil: times, investigation, observing system."""
    tree = etree.parse(str(path))
    ns = {"pds": PDS_NS}
    xsi_nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    for tag, value in (("start_date_time", info.start), ("stop_date_time", info.end)):
        el = tree.find(f".//pds:Time_Coordinates/pds:{tag}", ns)
        if el is not None and with_times:
            el.attrib.pop(xsi_nil, None)
            el.attrib.pop("nilReason", None)
            el.text = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    inv = tree.find(".//pds:Investigation_Area", ns)
    inv.find("pds:name", ns).text = "Lunar Reconnaissance Orbiter"
    inv.find(".//pds:lid_reference", ns).text = "urn:nasa:pds:context:investigation:mission.lro"
    system = tree.find(".//pds:Observing_System", ns)
    for child in list(system):
        system.remove(child)
    for name, kind, lid in (
        (info.platform, "Host", "urn:nasa:pds:context:instrument_host:spacecraft.lro"),
        (info.instrument, "Instrument", "urn:nasa:pds:context:instrument:lola.lro"),
    ):
        comp = etree.SubElement(system, f"{{{PDS_NS}}}Observing_System_Component")
        etree.SubElement(comp, f"{{{PDS_NS}}}name").text = name
        etree.SubElement(comp, f"{{{PDS_NS}}}type").text = kind
        ref = etree.SubElement(comp, f"{{{PDS_NS}}}Internal_Reference")
        etree.SubElement(ref, f"{{{PDS_NS}}}lid_reference").text = lid
        etree.SubElement(ref, f"{{{PDS_NS}}}reference_type").text = "is_" + kind.lower()
    obs = tree.find(".//pds:Observation_Area", ns)
    summary = etree.Element(f"{{{PDS_NS}}}Primary_Result_Summary")
    etree.SubElement(summary, f"{{{PDS_NS}}}purpose").text = "Science"
    etree.SubElement(summary, f"{{{PDS_NS}}}processing_level").text = "Derived"
    obs.insert(1, summary)
    tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)


# -- PDS3 -----------------------------------------------------------------------------------

_PDS3_LABEL = """PDS_VERSION_ID            = PDS3
/* LOLA gridded data record, after LDEM_16 tiles of the LRO LOLA RDR archive */
RECORD_TYPE               = FIXED_LENGTH
RECORD_BYTES              = {record_bytes}
FILE_RECORDS              = {lines}
^IMAGE                    = "{data_name}"
DATA_SET_ID               = "LRO-L-LOLA-4-GDR-V1.0"
PRODUCT_ID                = "{product_id}"
PRODUCT_VERSION_ID        = "V2.0"
INSTRUMENT_HOST_NAME      = "{platform}"
INSTRUMENT_NAME           = "{instrument}"
INSTRUMENT_ID             = LOLA
MISSION_NAME              = "LUNAR RECONNAISSANCE ORBITER"
TARGET_NAME               = MOON
PROCESSING_LEVEL_ID       = 4
START_TIME                = {start}
STOP_TIME                 = {stop}
PRODUCT_CREATION_TIME     = 2013-09-15T00:00:00

OBJECT                    = IMAGE
  NAME                    = HEIGHT
  DESCRIPTION             = "Each sample represents height relative to a reference radius
                             (OFFSET) and is generated using preliminary LOLA data."
  LINES                   = {lines}
  LINE_SAMPLES            = {samples}
  MAXIMUM                 = 13000
  MINIMUM                 = -18000
  SAMPLE_TYPE             = LSB_INTEGER
  SAMPLE_BITS             = 16
  UNIT                    = METER
  SCALING_FACTOR          = 0.5
  OFFSET                  = 1737400.
  MISSING_CONSTANT        = -32768
END_OBJECT                = IMAGE

OBJECT                    = IMAGE_MAP_PROJECTION
  ^DATA_SET_MAP_PROJECTION     = "DSMAP.CAT"
  MAP_PROJECTION_TYPE          = "SIMPLE CYLINDRICAL"
  COORDINATE_SYSTEM_TYPE       = "BODY-FIXED ROTATING"
  COORDINATE_SYSTEM_NAME       = "MEAN EARTH/POLAR AXIS OF DE421"
  A_AXIS_RADIUS                = 1737.4 <KM>
  B_AXIS_RADIUS                = 1737.4 <KM>
  C_AXIS_RADIUS                = 1737.4 <KM>
  FIRST_STANDARD_PARALLEL      = 'N/A'
  SECOND_STANDARD_PARALLEL     = 'N/A'
  POSITIVE_LONGITUDE_DIRECTION = "EAST"
  CENTER_LATITUDE              = 0.0 <DEG>
  CENTER_LONGITUDE             = 0.0 <DEG>
  REFERENCE_LATITUDE           = 'N/A'
  REFERENCE_LONGITUDE          = 'N/A'
  LINE_FIRST_PIXEL             = 1
  LINE_LAST_PIXEL              = {lines}
  SAMPLE_FIRST_PIXEL           = 1
  SAMPLE_LAST_PIXEL            = {samples}
  MAP_PROJECTION_ROTATION      = 0.0
  MAP_RESOLUTION               = {ppd} <PIX/DEG>
  MAP_SCALE                    = {map_scale:.10f} <KM/PIXEL>
  MAXIMUM_LATITUDE             = {north} <DEG>
  MINIMUM_LATITUDE             = {south} <DEG>
  LINE_PROJECTION_OFFSET       = {line_offset} <PIXEL>
  SAMPLE_PROJECTION_OFFSET     = {sample_offset} <PIXEL>
  EASTERNMOST_LONGITUDE        = {east} <DEG>
  WESTERNMOST_LONGITUDE        = {west} <DEG>
END_OBJECT                     = IMAGE_MAP_PROJECTION
END
"""


def make_pds3_image(
    directory: Path, *, lines_in_label: int | None = None, with_times: bool = True
) -> Path:
    """A LOLA LDEM_16-like tile (int16, SCALING_FACTOR 0.5, OFFSET 1737400, 0-30 N,
    0-30 E, 480 x 480): detached ODL label `.lbl` beside a raw `.img`. Returns the label."""
    directory.mkdir(parents=True, exist_ok=True)
    info = SAMPLES["pds3"]
    ppd, west, east, south, north = 16, 0, 30, 0, 30
    lines, samples = (north - south) * ppd, (east - west) * ppd
    stem = info.id.upper()
    data_path = directory / f"{stem}.IMG"
    lola_dn(dem_heights(lines, samples, seed=5)).astype("<i2").tofile(data_path)
    text = _PDS3_LABEL.format(
        record_bytes=samples * 2, lines=lines_in_label or lines, samples=samples,
        data_name=data_path.name, product_id=stem, platform=info.platform,
        instrument=info.instrument,
        start=info.start.strftime("%Y-%m-%dT%H:%M:%S") if with_times else "N/A",
        stop=info.end.strftime("%Y-%m-%dT%H:%M:%S") if with_times else "N/A",
        ppd=ppd, map_scale=METRES_PER_DEGREE / ppd / 1000, north=north, south=south,
        east=east, west=west, line_offset=north * ppd - 0.5, sample_offset=west * ppd - 0.5,
    )  # fmt: skip
    label = directory / f"{stem}.LBL"
    label.write_bytes(text.replace("\n", "\r\n").encode("ascii"))
    return label


# -- ISIS3 ----------------------------------------------------------------------------------


def make_isis3_cube(directory: Path, *, size: int = 600) -> Path:
    """A Chang'e-2 CCD-like north-polar mosaic cube (IAU_2015:30130, 50 m/px, centred on
    the pole) written by GDAL's ISIS3 driver, with Instrument and Archive groups added."""
    directory.mkdir(parents=True, exist_ok=True)
    info = SAMPLES["isis3"]
    path = directory / f"{info.id}.cub"
    res = 50.0
    with rasterio.open(
        path, "w", driver="ISIS3", width=size, height=size, count=1, dtype="uint8",
        crs=CRS.from_user_input(info.proj_code),
        transform=from_origin(-size / 2 * res, size / 2 * res, res, res), nodata=0,
        ADD_GDAL_HISTORY="NO",  # GDAL's History object holds the time and host: not reproducible
    ) as ds:  # fmt: skip
        ds.write(image_dn(size, size, seed=6), 1)
    groups = f"""  Group = Instrument
    SpacecraftName = "{info.platform}"
    InstrumentId   = {info.instrument}
    TargetName     = Moon
    StartTime      = {info.start.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}
    StopTime       = {info.end.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}
  End_Group

  Group = Archive
    DataSetId       = "CE2-L-CCD-5-DOM-NP-V1.0"
    ProductId       = {info.id.upper()}
    MissionName     = "Chang'e-2"
    ProcessingLevel = 2C
  End_Group

"""
    _insert_isis_label_text(path, groups, before="  Group = Mapping")
    return path


def _insert_isis_label_text(path: Path, text: str, *, before: str) -> None:
    """Insert `text` in the label of an ISIS3 cube, inside its fixed-size label area."""
    raw = bytearray(path.read_bytes())
    label_end = raw.index(b"\0")  # GDAL pads the label area with NULs up to StartByte
    padding = len(raw[label_end:]) - len(raw[label_end:].lstrip(b"\0"))
    if len(text) >= padding:
        raise ValueError(f"label of {path} has no room for {len(text)} more bytes")
    label = raw[:label_end].decode("ascii")
    at = label.index(before)
    new = (label[:at] + text + label[at:]).encode("ascii")
    raw[: len(new)] = new
    path.write_bytes(bytes(raw))


# -- VICAR ----------------------------------------------------------------------------------


def make_vicar_image(directory: Path, *, suffix: str = ".vic") -> Path:
    """A Kaguya MI-VIS-like 16-bit image in VICAR (IAU_2015:30110 equirectangular, 160-170 E
    region around 10 S, 256 x 320) with an IDENTIFICATION property holding times and names."""
    directory.mkdir(parents=True, exist_ok=True)
    info = SAMPLES["vicar"]
    path = directory / f"{info.id}{suffix}"
    tmp = directory / f".{info.id}.gdal.vic"
    res = METRES_PER_DEGREE / 64
    width, height = 320, 256
    data = (image_dn(height, width, seed=7).astype(np.int16) * 40 + 200).astype(np.int16)
    with rasterio.open(
        tmp, "w", driver="VICAR", width=width, height=height, count=1, dtype="int16",
        crs=CRS.from_user_input(info.proj_code),
        transform=from_origin(165.0 * METRES_PER_DEGREE, -8.0 * METRES_PER_DEGREE, res, res),
    ) as ds:  # fmt: skip
        ds.write(data, 1)
    raw = tmp.read_bytes()
    tmp.unlink()
    for sidecar in directory.glob(f".{info.id}.gdal.vic*"):
        sidecar.unlink()
    old_size = int(raw[8 : raw.index(b" ")])
    items = raw[:old_size].split(b"\0", 1)[0].decode("ascii").strip()
    ident = (
        f" PROPERTY='IDENTIFICATION' MISSION_NAME='SELENE' SPACECRAFT_NAME='{info.platform}'"
        f" INSTRUMENT_NAME='{info.instrument}' TARGET_NAME='MOON' PRODUCT_ID='{info.id.upper()}'"
        f" START_TIME='{info.start:%Y-%m-%dT%H:%M:%S}Z' STOP_TIME='{info.end:%Y-%m-%dT%H:%M:%S}Z'"
    )
    recsize = int(items.split("RECSIZE=")[1].split()[0])
    body = items[items.index(" ", 8) :] + ident + "  "
    lblsize = math.ceil((len("LBLSIZE=") + 12 + len(body)) / recsize) * recsize
    label = f"LBLSIZE={lblsize:<12d}{body}".encode("ascii").ljust(lblsize, b"\0")
    path.write_bytes(label + raw[old_size:])
    return path


# -- the demo set and broken inputs ---------------------------------------------------------


def make_sample_set(directory: Path) -> list[Path]:
    """Six small products of every format, for the demo: their entry files."""
    directory = Path(directory)
    return [
        make_pds4_south_polar_dem(directory / "pds4"),
        make_pds3_image(directory / "pds3"),
        make_equatorial_mosaic_crossing_antimeridian(directory / "geotiff"),
        make_geotiff(directory / "geotiff"),
        make_isis3_cube(directory / "isis3"),
        make_vicar_image(directory / "vicar"),
    ]


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    """Cut `path` to a fraction of its size, as an interrupted download would."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * keep_fraction))
    return path


def make_truncated_pds3(directory: Path) -> Path:
    """A PDS3 label whose `.img` lost its second half."""
    label = make_pds3_image(directory)
    truncate(next(label.parent.glob("*.IMG")))
    return label


def make_pds3_label_claiming_more_lines(directory: Path) -> Path:
    """A PDS3 label saying LINES = 600 over an image of 480 lines."""
    return make_pds3_image(directory, lines_in_label=600)


def make_garbage_tif(directory: Path, name: str = "garbage.tif") -> Path:
    """A `.tif` that is not a TIFF at all."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"<html>404 Not Found</html>" + bytes(range(256)) * 8)
    return path


def make_truncated_geotiff(directory: Path) -> Path:
    """A GeoTIFF whose header is intact but whose last tiles are cut off."""
    path = make_geotiff(directory, name="truncated_tc", data=image_dn(1024, 1024), nodata=None)
    return truncate(path, 0.6)
