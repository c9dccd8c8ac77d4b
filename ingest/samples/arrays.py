"""Sample array products (for tests and the demo): cubes, series, spectra, a radargram.

Each maker writes a small real product in `directory` and returns its entry file; the
values are reproducible (seeded) so tests can compare what Zarr gives back with the
source. Re-exported by `ingest.samples`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from lxml import etree
from rasterio.crs import CRS
from rasterio.transform import from_origin

from ingest.samples.images import _insert_isis_label_text

PDS_NS = "http://pds.nasa.gov/pds4/pds/v1"
IMG_NS = "http://pds.nasa.gov/pds4/img/v1"
CE4_SITE = (177.5991, -45.4446)  # Chang'e-4 landing site, Von Karman crater (lon, lat)
T0 = datetime(2019, 1, 3, 2, 26, tzinfo=UTC)


def band_centres(bands: int) -> np.ndarray:
    """M3-like band centres in nm, 540 .. 2980 nm."""
    return np.round(np.linspace(540.0, 2980.0, bands), 3)


def cube_band(band: int, bands: int, height: int, width: int, seed: int = 7) -> np.ndarray:
    """Band `band` (0-based) of a reflectance-like cube: a base albedo times a spectral slope,
    plus small noise; each band is made on its own, so large cubes stream to disk."""
    base = np.random.default_rng(seed).uniform(0.05, 0.3, size=(height, width)).astype("float32")
    slope = np.float32(1.0 + 0.6 * band / max(bands - 1, 1))
    noise = np.random.default_rng(seed * 1000 + band).normal(0, 0.002, (height, width))
    return (base * slope + noise).astype("float32")


def cube_values(bands: int, height: int, width: int, seed: int = 7) -> np.ndarray:
    return np.stack([cube_band(b, bands, height, width, seed) for b in range(bands)])


# -- cubes ----------------------------------------------------------------------------------


def make_pds4_spectral_cube(directory: Path, *, bands: int = 24, height: int = 48, width: int = 64,
                            name: str = "m3g20090203_l2_cube") -> Path:
    """An M3-like reflectance cube (band, y, x) in IAU_2015:30110 with a PDS4
    `Array_3D_Spectrum` label written by GDAL and an `img:Band_Bin_Set` of centres in um."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.xml"
    with rasterio.open(
        path, "w", driver="PDS4", width=width, height=height, count=bands, dtype="float32",
        crs=CRS.from_user_input("IAU_2015:30110"),
        transform=from_origin(20 * 30323.0, 10 * 30323.0, 140.0, 140.0),
        VAR_TARGET="Moon", VAR_TARGET_TYPE="Satellite",
        VAR_LOGICAL_IDENTIFIER=f"urn:isro:ch1_m3:data:{name}",
        VAR_TITLE="M3 global mode reflectance strip", ARRAY_TYPE="Array_3D_Spectrum",
    ) as ds:  # fmt: skip
        for b in range(bands):
            ds.write(cube_band(b, bands, height, width), b + 1)
        ds.units = ("1",) * bands
    tree = etree.parse(str(path))
    ns = {"pds": PDS_NS}
    _times(tree, T0 - timedelta(days=3600), T0 - timedelta(days=3600) + timedelta(minutes=9))
    _observing_system(tree, "Chandrayaan-1", "Spacecraft", ["Moon Mineralogy Mapper"], "Chandrayaan-1")
    disc = tree.find(".//pds:Discipline_Area", ns)
    if disc is None:
        obs = tree.find(".//pds:Observation_Area", ns)
        disc = etree.SubElement(obs, f"{{{PDS_NS}}}Discipline_Area")
    bins = etree.SubElement(disc, f"{{{IMG_NS}}}Band_Bin_Set", nsmap={"img": IMG_NS})
    for i, centre in enumerate(band_centres(bands), start=1):
        b = etree.SubElement(bins, f"{{{IMG_NS}}}Band_Bin")
        etree.SubElement(b, f"{{{IMG_NS}}}band_number").text = str(i)
        etree.SubElement(b, f"{{{IMG_NS}}}center_wavelength", unit="micrometer").text = f"{centre / 1000:.6f}"
        etree.SubElement(b, f"{{{IMG_NS}}}bandwidth", unit="micrometer").text = "0.020000"
    tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return path


def make_isis3_spectral_cube(directory: Path, *, bands: int = 12, size: int = 40) -> Path:
    """A multispectral south-polar cube (IAU_2015:30135) written by GDAL's ISIS3 driver with
    a `BandBin` group (centres in nm) and Instrument / Archive groups."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ce1_iim_south_cube.cub"
    with rasterio.open(
        path, "w", driver="ISIS3", width=size, height=size, count=bands, dtype="float32",
        crs=CRS.from_user_input("IAU_2015:30135"),
        transform=from_origin(-size / 2 * 200.0, size / 2 * 200.0, 200.0, 200.0),
        ADD_GDAL_HISTORY="NO",  # GDAL's History object holds the time and host: not reproducible
    ) as ds:  # fmt: skip
        ds.write(cube_values(bands, size, size, seed=8))
    centres = ", ".join(f"{c:.1f}" for c in np.linspace(480.0, 946.0, bands))
    groups = f"""  Group = Instrument
    SpacecraftName = "CHANG'E-1"
    InstrumentId   = IIM
    TargetName     = Moon
    StartTime      = 2008-03-01T10:00:00.000
    StopTime       = 2008-03-01T10:04:00.000
  End_Group

  Group = Archive
    ProductId       = CE1_IIM_SOUTH_CUBE
    MissionName     = "Chang'e-1"
    ProcessingLevel = 2C
  End_Group

  Group = BandBin
    Unit   = nm
    Center = ({centres})
  End_Group

"""
    _insert_isis_label_text(path, groups, before="  Group = Mapping")
    return path


# -- PDS4 tables ----------------------------------------------------------------------------


def _label(product_id: str, title: str, start: datetime, stop: datetime, host: tuple[str, str],
           instrument: str, mission: str, file_area: str, mission_area: str = "") -> str:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="{PDS_NS}">
  <Identification_Area>
    <logical_identifier>urn:cnsa:pds:{product_id}</logical_identifier>
    <version_id>1.0</version_id>
    <title>{title}</title>
    <information_model_version>1.11.0.0</information_model_version>
    <product_class>Product_Observational</product_class>
  </Identification_Area>
  <Observation_Area>
    <Time_Coordinates>
      <start_date_time>{start.strftime(fmt)}</start_date_time>
      <stop_date_time>{stop.strftime(fmt)}</stop_date_time>
    </Time_Coordinates>
    <Primary_Result_Summary><processing_level>Calibrated</processing_level></Primary_Result_Summary>
    <Investigation_Area><name>{mission}</name><type>Mission</type></Investigation_Area>
    <Observing_System>
      <Observing_System_Component><name>{host[0]}</name><type>{host[1]}</type></Observing_System_Component>
      <Observing_System_Component><name>{instrument}</name><type>Instrument</type></Observing_System_Component>
    </Observing_System>
    <Target_Identification><name>Moon</name><type>Satellite</type></Target_Identification>
    {mission_area}
  </Observation_Area>
  {file_area}
</Product_Observational>
"""


def _field_binary(name: str, loc: int, dtype: str, length: int, unit: str | None = None) -> str:
    u = f"<unit>{unit}</unit>" if unit else ""
    return (f"<Field_Binary><name>{name}</name><field_location unit=\"byte\">{loc}</field_location>"
            f"<data_type>{dtype}</data_type><field_length unit=\"byte\">{length}</field_length>{u}</Field_Binary>")  # fmt: skip


def make_lpr_radargram(directory: Path, *, traces: int = 40, samples: int = 256) -> Path:
    """A Yutu-2 LPR-like 2B radargram: per trace a UTC time, rover lon/lat, then a group of
    `samples` float32 echo amplitudes 0.3125 ns apart (`Table_Binary`)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = "ce4_gras_lpr-2b_sci_n_20190103_0001"
    rec = np.dtype([("time", "S24"), ("lon", "<f8"), ("lat", "<f8"), ("amp", "<f4", (samples,))])
    data = np.zeros(traces, dtype=rec)
    times = [T0 + timedelta(seconds=2 * i) for i in range(traces)]
    data["time"] = [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23].encode() + b"Z" for t in times]
    data["lon"] = CE4_SITE[0] + np.arange(traces) * 2e-6
    data["lat"] = CE4_SITE[1] + np.arange(traces) * 1e-6
    rng = np.random.default_rng(11)
    t = np.arange(samples) * 0.3125
    data["amp"] = (np.exp(-t / 30.0) * np.sin(t)[None, :] + rng.normal(0, 0.01, (traces, samples))).astype("<f4")
    (directory / f"{name}.2B").write_bytes(data.tobytes())
    group = (f"<Group_Field_Binary><repetitions>{samples}</repetitions><fields>1</fields><groups>0</groups>"
             f"<group_location unit=\"byte\">41</group_location><group_length unit=\"byte\">{samples * 4}</group_length>"
             f"{_field_binary('echo_amplitude', 1, 'IEEE754LSBSingle', 4, 'V')}</Group_Field_Binary>")  # fmt: skip
    fields = (_field_binary("time", 1, "ASCII_Date_Time_YMD_UTC", 24) + _field_binary("longitude", 25, "IEEE754LSBDouble", 8, "deg")
              + _field_binary("latitude", 33, "IEEE754LSBDouble", 8, "deg"))  # fmt: skip
    file_area = f"""<File_Area_Observational><File><file_name>{name}.2B</file_name></File>
    <Table_Binary><offset unit="byte">0</offset><records>{traces}</records>
      <Record_Binary><fields>3</fields><groups>1</groups><record_length unit="byte">{rec.itemsize}</record_length>
        {fields}{group}</Record_Binary></Table_Binary></File_Area_Observational>"""
    mission_area = "<Mission_Area><sampling_interval>0.3125</sampling_interval></Mission_Area>"
    label = directory / f"{name}.2BL.xml"
    label.write_text(_label(name, "Yutu-2 LPR channel 2 radargram", times[0], times[-1],
                            ("Yutu-2", "Rover"), "Lunar Penetrating Radar (LPR)", "Chang'e-4",
                            file_area, mission_area))  # fmt: skip
    return label


def make_apxs_spectra(directory: Path, *, spectra: int = 6, channels: int = 512) -> Path:
    """APXS-like X-ray spectra at the Chang'e-4 site: per record a time, then a group of
    `channels` uint32 counts (`Table_Binary`); geometry from `Lander_Location`."""
    directory.mkdir(parents=True, exist_ok=True)
    name = "ce4_apxs_sci_20190104_0001"
    rec = np.dtype([("time", "S24"), ("live_time", ">f4"), ("counts", ">u4", (channels,))])
    data = np.zeros(spectra, dtype=rec)
    times = [T0 + timedelta(hours=30 + i) for i in range(spectra)]
    data["time"] = [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23].encode() + b"Z" for t in times]
    data["live_time"] = np.linspace(600, 660, spectra)
    data["counts"] = np.random.default_rng(12).poisson(40, (spectra, channels))
    (directory / f"{name}.dat").write_bytes(data.tobytes())
    group = (f"<Group_Field_Binary><repetitions>{channels}</repetitions><fields>1</fields><groups>0</groups>"
             f"<group_location unit=\"byte\">29</group_location><group_length unit=\"byte\">{channels * 4}</group_length>"
             f"{_field_binary('counts', 1, 'UnsignedMSB4', 4, 'count')}</Group_Field_Binary>")  # fmt: skip
    fields = _field_binary("time", 1, "ASCII_Date_Time_YMD_UTC", 24) + _field_binary("live_time", 25, "IEEE754MSBSingle", 4, "s")
    file_area = f"""<File_Area_Observational><File><file_name>{name}.dat</file_name></File>
    <Table_Binary><offset unit="byte">0</offset><records>{spectra}</records>
      <Record_Binary><fields>2</fields><groups>1</groups><record_length unit="byte">{rec.itemsize}</record_length>
        {fields}{group}</Record_Binary></Table_Binary></File_Area_Observational>"""
    mission_area = (f"<Mission_Area><Lander_Location><longitude>{CE4_SITE[0]}</longitude>"
                    f"<latitude>{CE4_SITE[1]}</latitude></Lander_Location></Mission_Area>")  # fmt: skip
    label = directory / f"{name}.xml"
    label.write_text(_label(name, "Chang'e-4 APXS spectra", times[0], times[-1], ("Yutu-2", "Rover"),
                            "Alpha Particle X-ray Spectrometer", "Chang'e-4", file_area, mission_area))  # fmt: skip
    return label


def diviner_records(n: int = 50) -> pd.DataFrame:
    times = pd.date_range("2010-07-05T06:00:00", periods=n, freq="128ms")
    return pd.DataFrame({
        "utc": times, "latitude": np.linspace(-10.0, -9.0, n), "longitude": np.linspace(20.0, 20.1, n),
        "brightness_temperature": np.round(np.random.default_rng(13).uniform(90, 390, n), 3),
    })  # fmt: skip


def make_diviner_series(directory: Path, *, records: int = 50) -> Path:
    """A Diviner-like orbiter record table (`Table_Character`): UTC, lat, lon, Tb."""
    directory.mkdir(parents=True, exist_ok=True)
    name = "dlre_rdr_201007050600_c7"
    df = diviner_records(records)
    lines = [
        f"{t.strftime('%Y-%m-%dT%H:%M:%S.%f')[:23]}Z,{lat:10.5f},{lon:10.5f},{tb:8.3f}\r\n"
        for t, lat, lon, tb in df.itertuples(index=False)
    ]
    (directory / f"{name}.tab").write_text("".join(lines), newline="")
    def fc(name: str, loc: int, dtype: str, length: int, unit: str = "") -> str:
        u = f"<unit>{unit}</unit>" if unit else ""
        return (f"<Field_Character><name>{name}</name><field_location unit=\"byte\">{loc}</field_location>"
                f"<data_type>{dtype}</data_type><field_length unit=\"byte\">{length}</field_length>{u}</Field_Character>")  # fmt: skip
    fields = (fc("utc", 1, "ASCII_Date_Time_YMD_UTC", 24) + fc("latitude", 26, "ASCII_Real", 10, "deg")
              + fc("longitude", 37, "ASCII_Real", 10, "deg") + fc("brightness_temperature", 48, "ASCII_Real", 8, "K"))  # fmt: skip
    file_area = f"""<File_Area_Observational><File><file_name>{name}.tab</file_name></File>
    <Table_Character><offset unit="byte">0</offset><records>{records}</records>
      <record_delimiter>Carriage-Return Line-Feed</record_delimiter>
      <Record_Character><fields>4</fields><groups>0</groups><record_length unit="byte">{len(lines[0])}</record_length>
        {fields}</Record_Character></Table_Character></File_Area_Observational>"""
    label = directory / f"{name}.xml"
    start = df["utc"].iloc[0].to_pydatetime().replace(tzinfo=UTC)
    stop = df["utc"].iloc[-1].to_pydatetime().replace(tzinfo=UTC)
    label.write_text(_label(name, "Diviner channel 7 records", start, stop,
                            ("Lunar Reconnaissance Orbiter", "Spacecraft"),
                            "Diviner Lunar Radiometer Experiment", "Lunar Reconnaissance Orbiter", file_area))  # fmt: skip
    return label


# -- CSV ------------------------------------------------------------------------------------


def lander_series(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(14)
    return pd.DataFrame({
        "time": pd.date_range("2019-01-03T03:00:00", periods=n, freq="10min"),
        "temperature": np.round(rng.uniform(280, 300, n), 2),
        "dose_rate": np.round(rng.uniform(55, 65, n), 3),
    })  # fmt: skip


def make_lander_series_csv(directory: Path, *, name: str = "ce4_lnd_series_20190103") -> Path:
    """A lander environmental series (temperature, dose rate every 10 minutes) as CSV."""
    directory.mkdir(parents=True, exist_ok=True)
    df = lander_series()
    path = directory / f"{name}.csv"
    header = (f"# id: {name}\n# title: Chang'e-4 lander LND dose rate and temperature\n"
              "# mission: Chang'e-4\n# platform: Chang'e-4 lander\n# instrument: LND\n"
              f"# longitude: {CE4_SITE[0]}\n# latitude: {CE4_SITE[1]}\n# kind: series\n"
              "# units: temperature=K, dose_rate=uGy/h\n")  # fmt: skip
    rows = "".join(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{a},{b}\n" for t, a, b in df.itertuples(index=False))
    path.write_text(header + "time,temperature,dose_rate\n" + rows)
    return path


def vnis_spectra(n: int = 4, channels: int = 40) -> tuple[np.ndarray, np.ndarray, list[datetime]]:
    wavelengths = np.round(np.linspace(450.0, 945.0, channels), 1)
    values = np.round(np.random.default_rng(15).uniform(0.05, 0.25, (n, channels)), 5)
    return wavelengths, values, [T0 + timedelta(hours=50 + i) for i in range(n)]


def make_vnis_spectra_csv(directory: Path) -> Path:
    """VNIS-like reflectance spectra (one spectrum a row, one column per wavelength in nm)."""
    directory.mkdir(parents=True, exist_ok=True)
    wl, values, times = vnis_spectra()
    path = directory / "ce4_vnis_spectra_0001.csv"
    header = ("# id: ce4_vnis_spectra_0001\n# mission: Chang'e-4\n# platform: Yutu-2 rover\n"
              f"# instrument: VNIS\n# longitude: {CE4_SITE[0]}\n# latitude: {CE4_SITE[1]}\n"
              "# kind: spectra\n# channel_units: nm\n# variable: reflectance\n# variable_units: 1\n")  # fmt: skip
    head = "time," + ",".join(f"{w:.1f}" for w in wl) + "\n"
    rows = "".join(
        t.strftime("%Y-%m-%dT%H:%M:%SZ") + "," + ",".join(f"{v:.5f}" for v in row) + "\n"
        for t, row in zip(times, values, strict=True)
    )
    path.write_text(header + head + rows)
    return path


# -- NetCDF ---------------------------------------------------------------------------------


def make_cf_netcdf(directory: Path, *, size: int = 32, steps: int = 4) -> Path:
    """A CF NetCDF-4 gridded thermal map series (time, y, x) in IAU_2015:30135 with a
    grid-mapping variable and ACDD attributes."""
    import pyproj

    directory.mkdir(parents=True, exist_ok=True)
    crs = pyproj.CRS.from_user_input("IAU_2015:30135")
    x = (np.arange(size) - size / 2 + 0.5) * 250.0
    y = (size / 2 - 0.5 - np.arange(size)) * 250.0
    times = pd.date_range("2011-01-01T00:00:00", periods=steps, freq="6h")
    values = np.random.default_rng(16).uniform(40, 120, (steps, size, size)).astype("float32")
    ds = xr.Dataset(
        {"surface_temperature": (("time", "y", "x"), values,
                                 {"units": "K", "standard_name": "surface_temperature",
                                  "long_name": "bolometric surface temperature", "grid_mapping": "crs"})},
        coords={"time": times, "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
                "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
                "crs": ((), np.int32(0), {**crs.to_cf(), "crs_wkt": crs.to_wkt("WKT2_2019")})},
        attrs={"Conventions": "CF-1.10, ACDD-1.3", "id": "diviner_polar_tbol_2011",
               "title": "Diviner south-polar bolometric temperature", "platform": "Lunar Reconnaissance Orbiter",
               "instrument": "Diviner", "project": "Lunar Reconnaissance Orbiter", "target": "Moon"},
    )  # fmt: skip
    path = directory / "diviner_polar_tbol_2011.nc"
    ds.to_netcdf(path, engine="h5netcdf", encoding={"surface_temperature": {"zlib": True, "chunksizes": (1, 16, 16)}})
    return path


# -- broken ---------------------------------------------------------------------------------


def make_csv_with_impossible_position(directory: Path) -> Path:
    path = make_lander_series_csv(directory, name="bad_site_series")
    path.write_text(path.read_text().replace(f"# latitude: {CE4_SITE[1]}", "# latitude: -145.0"))
    return path


def make_csv_without_time(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "no_time_series.csv"
    path.write_text(f"# longitude: {CE4_SITE[0]}\n# latitude: {CE4_SITE[1]}\nvalue,other\n1,2\n3,4\n")
    return path


def _times(tree: etree._ElementTree, start: datetime, stop: datetime) -> None:
    ns = {"pds": PDS_NS}
    nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    for tag, value in (("start_date_time", start), ("stop_date_time", stop)):
        el = tree.find(f".//pds:Time_Coordinates/pds:{tag}", ns)
        if el is not None:
            el.attrib.pop(nil, None)
            el.attrib.pop("nilReason", None)
            el.text = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _observing_system(tree: etree._ElementTree, host: str, host_type: str, instruments: list[str],
                      mission: str) -> None:
    ns = {"pds": PDS_NS}
    inv = tree.find(".//pds:Investigation_Area", ns)
    if inv is not None and inv.find("pds:name", ns) is not None:
        inv.find("pds:name", ns).text = mission
    system = tree.find(".//pds:Observing_System", ns)
    if system is None:
        return
    for child in list(system):
        system.remove(child)
    for name, kind in [(host, host_type)] + [(i, "Instrument") for i in instruments]:
        comp = etree.SubElement(system, f"{{{PDS_NS}}}Observing_System_Component")
        etree.SubElement(comp, f"{{{PDS_NS}}}name").text = name
        etree.SubElement(comp, f"{{{PDS_NS}}}type").text = kind


def make_array_sample_set(directory: Path) -> list[Path]:
    """Array products for the demo (they go to Zarr): a spectral cube, a Yutu-2-like radargram,
    APXS spectra, a Diviner-like series and a lander series; their entry files."""
    directory = Path(directory)
    return [
        make_pds4_spectral_cube(directory / "cube"),
        make_lpr_radargram(directory / "lpr"),
        make_apxs_spectra(directory / "apxs"),
        make_diviner_series(directory / "diviner"),
        make_lander_series_csv(directory / "lander"),
    ]
