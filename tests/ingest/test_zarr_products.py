"""Every array product kind goes to Zarr v3 and reads back exactly, with its CRS,
coordinates, time index, CF attributes and STAC datacube fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import xarray as xr

from ingest import samples
from ingest.datacube import build_zarr_item
from ingest.readers import find_reader
from ingest.samples import band_centres, diviner_records, lander_series, vnis_spectra
from ingest.zarr_writer import open_written, write_zarr, zarr_format_of


def _ingest(maker, tmp_path: Path):
    source = maker(tmp_path / "src")
    product = find_reader(source).read(source)
    zres = write_zarr(product, tmp_path / "out" / f"{product.id}.zarr")
    ds = open_written(zres.path)
    item = build_zarr_item(product, zres, ds, collection_id="c", data_key=f"c/{product.id}.zarr")
    return source, product, zres, ds, item


@pytest.mark.parametrize(
    "maker", [samples.make_pds4_spectral_cube, samples.make_isis3_spectral_cube], ids=["pds4", "isis3"]
)
def test_spectral_cube_reads_back_exactly_with_band_wavelengths_and_lunar_crs(maker, tmp_path, stac_offline):
    source, product, zres, ds, item = _ingest(maker, tmp_path)
    with rasterio.open(source) as src:
        expected = src.read()
        crs = pyproj.CRS.from_wkt(src.crs.to_wkt())
        transform = src.transform
    assert zarr_format_of(zres.path) == 3
    assert ds["data"].dims == ("band", "y", "x")
    np.testing.assert_array_equal(ds["data"].values, expected)
    assert ds["band"].attrs["units"] == "nm"
    assert 400 < float(ds["band"][0]) < float(ds["band"][-1]) < 3000
    assert ds["x"].values[0] == pytest.approx(transform.c + transform.a / 2)
    assert ds["y"].values[0] == pytest.approx(transform.f + transform.e / 2)
    assert ds["data"].attrs["grid_mapping"] == "spatial_ref"
    assert pyproj.CRS.from_wkt(ds["spatial_ref"].attrs["crs_wkt"]).equals(crs)
    props = item["properties"]
    assert props["proj:code"] in ("IAU_2015:30110", "IAU_2015:30135")
    assert pyproj.CRS.from_wkt(props["proj:wkt2"]).to_authority("IAU_2015") == tuple(props["proj:code"].split(":"))
    assert pyproj.CRS.from_json_dict(props["proj:projjson"]).equals(pyproj.CRS.from_wkt(props["proj:wkt2"]))
    dims = props["cube:dimensions"]
    assert dims["x"]["type"] == "spatial" and dims["x"]["axis"] == "x"
    assert dims["band"]["values"] == [pytest.approx(v) for v in ds["band"].values]
    assert dims["band"]["unit"] == "nm"
    assert props["cube:variables"]["data"]["dimensions"] == ["band", "y", "x"]
    assert stac_offline.validate_dict(item) == []


def test_pds4_cube_band_centres_come_from_the_band_bin_set_in_micrometres(tmp_path):
    _, _, _, ds, _ = _ingest(samples.make_pds4_spectral_cube, tmp_path)
    np.testing.assert_allclose(ds["band"].values, band_centres(ds.sizes["band"]), atol=1e-6)
    assert ds["band_width"].values[0] == pytest.approx(20.0)


def test_orbiter_series_from_a_pds4_character_table_is_indexed_by_time(tmp_path, stac_offline):
    _, product, _, ds, item = _ingest(samples.make_diviner_series, tmp_path)
    expected = diviner_records()
    assert product.kind == "series" and ds["brightness_temperature"].dims == ("time",)
    np.testing.assert_array_equal(ds["time"].values, expected["utc"].to_numpy().astype("datetime64[ns]"))
    np.testing.assert_array_equal(ds["brightness_temperature"].values, expected["brightness_temperature"].values)
    assert ds["brightness_temperature"].attrs == {
        "long_name": "brightness_temperature", "units": "K", "standard_name": "brightness_temperature"
    }
    np.testing.assert_allclose(ds["lat"].values, expected["latitude"].values, atol=1e-5)
    assert ds["lat"].attrs["standard_name"] == "latitude"
    dims = item["properties"]["cube:dimensions"]
    assert dims["time"]["type"] == "temporal"
    assert dims["time"]["extent"] == ["2010-07-05T06:00:00Z", "2010-07-05T06:00:06.272000Z"]
    assert item["geometry"]["type"] == "Polygon"
    assert item["bbox"] == pytest.approx([20.0, -10.0, 20.1, -9.0])
    assert stac_offline.validate_dict(item) == []


def test_lpr_radargram_is_trace_by_two_way_time_along_the_rover_traverse(tmp_path, stac_offline):
    source, product, _, ds, item = _ingest(samples.make_lpr_radargram, tmp_path)
    raw = np.fromfile(source.parent / "ce4_gras_lpr-2b_sci_n_20190103_0001.2B", dtype=np.dtype(
        [("time", "S24"), ("lon", "<f8"), ("lat", "<f8"), ("amp", "<f4", (256,))]))
    assert product.kind == "radargram"
    assert ds["echo_amplitude"].dims == ("trace", "sample")
    np.testing.assert_array_equal(ds["echo_amplitude"].values, raw["amp"])
    np.testing.assert_allclose(ds["sample"].values[:3], [0.0, 0.3125, 0.625])
    assert ds["sample"].attrs["units"] == "ns"
    np.testing.assert_array_equal(ds["lon"].values, raw["lon"])
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2019-01-03T02:26:00")
    assert item["geometry"]["type"] == "LineString"
    assert item["geometry"]["coordinates"][0] == pytest.approx([177.5991, -45.4446])
    assert item["properties"]["cube:dimensions"]["sample"]["step"] == pytest.approx(0.3125)
    assert item["properties"]["platform"] == "Yutu-2"
    assert stac_offline.validate_dict(item) == []


def test_apxs_spectra_keep_counts_and_sit_at_the_landing_site(tmp_path, stac_offline):
    source, product, _, ds, item = _ingest(samples.make_apxs_spectra, tmp_path)
    raw = np.fromfile(source.with_suffix(".dat"), dtype=np.dtype(
        [("time", "S24"), ("live_time", ">f4"), ("counts", ">u4", (512,))]))
    assert product.kind == "spectra"
    assert ds["counts"].dims == ("spectrum", "channel")
    np.testing.assert_array_equal(ds["counts"].values, raw["counts"])
    assert ds["counts"].dtype == np.uint32
    np.testing.assert_array_equal(ds["live_time"].values, raw["live_time"])
    assert item["geometry"] == {"type": "Point", "coordinates": [177.5991, -45.4446]}
    assert stac_offline.validate_dict(item) == []


def test_lander_series_csv_reads_back_with_units_at_the_landing_site(tmp_path, stac_offline):
    _, product, _, ds, item = _ingest(samples.make_lander_series_csv, tmp_path)
    expected = lander_series()
    np.testing.assert_array_equal(ds["time"].values, expected["time"].to_numpy().astype("datetime64[ns]"))
    np.testing.assert_array_equal(ds["temperature"].values, expected["temperature"].values)
    assert ds["dose_rate"].attrs["units"] == "uGy/h"
    assert item["geometry"]["type"] == "Point"
    assert item["properties"]["start_datetime"] == "2019-01-03T03:00:00Z"
    assert item["properties"]["end_datetime"] == "2019-01-03T07:50:00Z"
    assert stac_offline.validate_dict(item) == []


def test_vnis_spectra_csv_has_a_wavelength_channel_coordinate(tmp_path, stac_offline):
    _, _, _, ds, item = _ingest(samples.make_vnis_spectra_csv, tmp_path)
    wl, values, _ = vnis_spectra()
    np.testing.assert_array_equal(ds["channel"].values, wl)
    assert ds["channel"].attrs["units"] == "nm"
    np.testing.assert_array_equal(ds["reflectance"].values, values)
    assert item["properties"]["cube:dimensions"]["channel"]["unit"] == "nm"
    assert stac_offline.validate_dict(item) == []


def test_cf_netcdf_passes_through_rechunked_with_attributes_and_crs(tmp_path, stac_offline):
    source, product, zres, ds, item = _ingest(samples.make_cf_netcdf, tmp_path)
    with xr.open_dataset(source, engine="h5netcdf") as src:
        xr.testing.assert_identical(ds["surface_temperature"].load(), src["surface_temperature"].load())
        assert ds["surface_temperature"].encoding["chunks"] == (4, 32, 32)  # source chunks were 1x16x16
    assert item["properties"]["proj:code"] == "IAU_2015:30135"
    assert item["bbox"][1] < -89.9  # a tile around the south pole
    assert item["properties"]["cube:dimensions"]["time"]["extent"] == ["2011-01-01T00:00:00Z", "2011-01-01T18:00:00Z"]
    assert stac_offline.validate_dict(item) == []


def test_zarr_chunks_are_compressed_with_zstd_and_metadata_consolidated(tmp_path):
    import json

    _, _, zres, _, _ = _ingest(samples.make_pds4_spectral_cube, tmp_path)
    root = json.loads((zres.path / "zarr.json").read_text())
    assert root["zarr_format"] == 3
    assert "data" in root["consolidated_metadata"]["metadata"]
    codecs = root["consolidated_metadata"]["metadata"]["data"]["codecs"]
    assert any(c["name"] == "zstd" for c in codecs)


@pytest.mark.parametrize("maker", [samples.make_pds4_spectral_cube, samples.make_diviner_series], ids=["cube", "series"])
def test_zarr_checksum_taken_while_writing_equals_a_re_read_of_the_store(maker, tmp_path):
    from datacenter.storage import tree_sha256

    _, _, zres, _, _ = _ingest(maker, tmp_path)
    assert (zres.sha256, zres.size) == tree_sha256(zres.path)


def test_hashing_store_refuses_its_manifest_when_the_folder_holds_a_file_it_did_not_write(tmp_path):
    import zarr

    from ingest.zarr_writer import HashingStore

    store = HashingStore(tmp_path / "z.zarr")
    zarr.create_array(store, shape=(4,), chunks=(2,), dtype="int16", zarr_format=3)[:] = [1, 2, 3, 4]
    assert store.manifest() is not None
    (tmp_path / "z.zarr" / "stray").write_bytes(b"x")
    assert store.manifest() is None
