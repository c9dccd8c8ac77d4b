"""Synchronous subsets over HTTP: values equal the same slice read straight from the source."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import xarray as xr
import zarr
from pyproj import CRS
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from tests.api.subset.conftest import CUBE, MOSAIC, POLAR, SECRET, SubsetData

SUBSET = "collections/lunar/items/{}/subset"


def fetch(http: httpx.Client, iid: str, tmp_path: Path, suffix: str, **params: str) -> Path:
    response = http.get(SUBSET.format(iid), params=params)
    assert response.status_code == 200, response.text
    out = tmp_path / f"out{suffix}"
    out.write_bytes(response.content)
    return out


def source_window(path: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The source pixels under the subset's pixel centres, read with rasterio."""
    with rasterio.open(path) as src:
        rows, cols = rasterio.transform.rowcol(src.transform, [x[0], x[-1]], [y[0], y[-1]])
        window = Window(cols[0], rows[0], cols[1] - cols[0] + 1, rows[1] - rows[0] + 1)
        return src.read(1, window=window)


def test_netcdf_subset_at_the_south_pole_matches_the_source_and_keeps_its_crs(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path
) -> None:
    out = fetch(http, POLAR, tmp_path, ".nc", bbox="-180,-90,180,-89.8", format="netcdf")
    with xr.open_dataset(out, mask_and_scale=False) as ds:
        values = ds["data"].values
        assert CRS.from_wkt(ds["spatial_ref"].attrs["crs_wkt"]) == CRS.from_user_input("IAU_2015:30135")
        assert ds["spatial_ref"].attrs["grid_mapping_name"] == "polar_stereographic"
        assert ds["data"].attrs["grid_mapping"] == "spatial_ref"
        # 89.8 S is ~6.07 km from the pole: the box is the pole's neighbourhood, centred on 0, 0
        x, y = ds["x"].values, ds["y"].values
        assert abs(x.min() + x.max()) < 80 and 6000 < x.max() < 6200 and abs(y.min() + y.max()) < 80
        assert ds["data"].attrs["scale_factor"] == 0.5 and ds["data"].attrs["units"] == "m"
        assert '"lunar/ldem_87s_40m"' in ds.attrs["source_items"] and "1220" in ds.attrs["source_checksums"]
        assert "-89.8" in ds.attrs["subset_request"]
    assert np.array_equal(values, source_window(subset_data.path(POLAR), x, y))


def test_geotiff_subset_across_the_antimeridian_is_a_valid_cog_with_the_source_values(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path
) -> None:
    out = fetch(http, MOSAIC, tmp_path, ".tif", bbox="178,-2,-178,2", format="geotiff")
    valid, errors, _ = cog_validate(str(out))
    assert valid, errors
    with rasterio.open(out) as tif:
        values = tif.read(1)
        assert CRS.from_wkt(tif.crs.to_wkt()) == CRS.from_user_input("IAU_2015:30115")
        left, bottom, right, top = tif.bounds
        xs = left + tif.res[0] * (np.arange(tif.width) + 0.5)
        ys = top - tif.res[1] * (np.arange(tif.height) + 0.5)
    # clon 180: 178 E .. 178 W is x in [-2, 2] degrees of arc either side of the 180 meridian
    deg = 2 * np.pi * 1_737_400 / 360
    assert left == pytest.approx(-2 * deg, abs=700) and right == pytest.approx(2 * deg, abs=700)
    assert bottom == pytest.approx(-2 * deg, abs=700) and top == pytest.approx(2 * deg, abs=700)
    assert np.array_equal(values, source_window(subset_data.path(MOSAIC), xs, ys))


def test_zarr_subset_of_a_cube_selects_bands_time_and_bbox(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path
) -> None:
    out = fetch(http, CUBE, tmp_path, ".zip", bbox="21,1,23,2.5", bands="900-1500",
                datetime="2009-01-20T00:00:00Z/2009-03-30T00:00:00Z", format="zarr")
    assert zipfile.is_zipfile(out)
    with xr.open_zarr(zarr.storage.ZipStore(out, mode="r"), consolidated=False) as ds:
        got = ds["reflectance"].load()
        assert ds["band"].attrs["units"] == "nm"
        assert CRS.from_wkt(ds["spatial_ref"].attrs["crs_wkt"]) == CRS.from_user_input("IAU_2015:30100")
    cube = subset_data.cube
    expected = cube["reflectance"].sel(
        band=slice(900, 1500), time=slice("2009-01-20", "2009-03-30"), x=slice(21.0, 23.0),
        y=slice(2.5, 1.0),
    )
    assert got.sizes == expected.sizes and got.sizes["time"] == 2
    np.testing.assert_array_equal(got.values, expected.values)


def test_geotiff_subset_of_a_cube_is_a_band_interleaved_cog_with_every_layer(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path
) -> None:
    """36 layers (3 times x 12 bands) of float32: 144 bytes a pixel, so the COG is laid out
    band by band (a pixel-interleaved 512-px tile of 85 bands is 89 MB, see finish_geotiff)."""
    out = fetch(http, CUBE, tmp_path, ".tif", bbox="21,1,23,2.5", format="geotiff")
    valid, errors, _ = cog_validate(str(out))
    assert valid, errors
    cube = subset_data.cube["reflectance"].sel(x=slice(21.0, 23.0), y=slice(2.5, 1.0))
    with rasterio.open(out) as tif:
        assert tif.interleaving is rasterio.enums.Interleaving.band and tif.count == 36
        assert (tif.height, tif.width) == (cube.sizes["y"], cube.sizes["x"])
        names = tif.descriptions
        for layer in (1, 17, 36):  # layers run time by time, band by band within a time
            t, b = divmod(layer - 1, 12)
            assert str(cube["band"].values[b])[:3] in names[layer - 1]
            np.testing.assert_array_equal(tif.read(layer), cube.isel(time=t, band=b).values)


def test_a_many_band_cog_gets_overviews_and_one_tile_per_band(tmp_path: Path) -> None:
    from api.subset.write import finish_geotiff

    tmp, out = tmp_path / "tiled.tif", tmp_path / "out.tif"
    values = np.random.default_rng(3).uniform(0, 1, (10, 600, 600)).astype("float32")
    with rasterio.open(tmp, "w", driver="GTiff", width=600, height=600, count=10, dtype="float32",
                       tiled=True, blockxsize=512, blockysize=512, interleave="band",
                       compress="deflate", crs="IAU_2015:30100",
                       transform=rasterio.transform.from_origin(0, 0, 1, 1)) as dst:
        dst.write(values)
    finish_geotiff(tmp, out)
    valid, errors, _ = cog_validate(str(out))
    assert valid, errors
    with rasterio.open(out) as tif:
        assert tif.interleaving is rasterio.enums.Interleaving.band
        assert tif.overviews(1) == [2] and tif.block_shapes[0] == (512, 512)
        np.testing.assert_array_equal(tif.read(), values)


def test_post_subset_with_reprojection_returns_the_requested_crs(
    http: httpx.Client, tmp_path: Path
) -> None:
    response = http.post(SUBSET.format(MOSAIC), json={
        "bbox": [172, -2, 176, 2], "crs": "IAU_2015:30100", "format": "geotiff"})
    assert response.status_code == 200, response.text
    with rasterio.open(io.BytesIO(response.content)) as tif:
        assert CRS.from_wkt(tif.crs.to_wkt()) == CRS.from_user_input("IAU_2015:30100")
        left, bottom, right, top = tif.bounds
    assert 171.5 < left < 172.5 and 175.5 < right < 176.5 and -2.5 < bottom < top < 2.5


def test_step_decimates_the_grid(http: httpx.Client, tmp_path: Path) -> None:
    out = fetch(http, POLAR, tmp_path, ".nc", bbox="-180,-90,180,-89.8", step="4")
    with xr.open_dataset(out) as ds:
        assert ds.sizes["x"] == 76 and float(ds["x"][1] - ds["x"][0]) == pytest.approx(160)


def test_a_subset_above_the_limit_is_413_with_the_estimate_and_the_job_to_submit(
    http: httpx.Client,
) -> None:
    response = http.get(SUBSET.format(MOSAIC))
    assert response.status_code == 413
    description = response.json()["description"]
    assert "445568 bytes" in description and "POST /jobs" in description and MOSAIC in description


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"variables": "albedo"}, ["albedo", "data"]),
        ({"bbox": "10,5,20,-5"}, ["inverted", "south"]),
        ({"bbox": "100,10,110,20"}, ["does not intersect"]),
        ({"datetime": "2020-01-01T00:00:00Z/2021-01-01T00:00:00Z"}, ["outside product"]),
        ({"bands": "3000-4000"}, ["match no band", "nm"]),
        ({"format": "hdf4"}, ["format"]),
    ],
    ids=["unknown-variable", "inverted-bbox", "empty-intersection", "time-outside", "no-band", "bad-format"],
)
def test_bad_requests_are_400_naming_the_problem(
    http: httpx.Client, params: dict[str, str], names: list[str]
) -> None:
    iid = CUBE if "bands" in params or "datetime" in params else POLAR
    response = http.get(SUBSET.format(iid), params=params)
    assert response.status_code == 400, response.text
    for name in names:
        assert name in response.json()["description"]


def test_a_hidden_product_is_404_and_a_hidden_asset_is_no_variable(
    http: httpx.Client, keys: dict[str, dict[str, str]]
) -> None:
    assert http.get(SUBSET.format(SECRET)).status_code == 404
    owner = keys["CNSA"]
    hidden = http.get(SUBSET.format(POLAR), params={"variables": "slope", "bbox": "-180,-90,180,-89.9"})
    assert hidden.status_code == 400
    assert "'slope'" in hidden.json()["description"] and "its variables are: data" in hidden.json()["description"]
    seen = http.get(SUBSET.format(POLAR), params={"variables": "slope", "bbox": "-180,-90,180,-89.9"},
                    headers=owner)
    assert seen.status_code == 200, seen.text
    assert http.get(SUBSET.format(SECRET), params={"bbox": "-180,-90,180,-89.9"},
                    headers=owner).status_code == 200


def test_a_geotiff_subset_is_the_same_cog_whether_served_directly_or_by_a_job(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path
) -> None:
    """Small GeoTIFF windows are copied by GDAL from the source window, jobs go through Dask:
    the owner (who also sees the slope asset) gets the same two-band COG either way."""
    owner = subset_data.keys["CNSA"]
    bbox = [-180, -90, 180, -89.85]
    direct = http.get(SUBSET.format(POLAR), params={"bbox": ",".join(map(str, bbox)),
                                                    "format": "geotiff"}, headers=owner)
    assert direct.status_code == 200, direct.text
    created = http.post("jobs", json={"collections": ["lunar"], "ids": [POLAR], "bbox": bbox,
                                      "format": "geotiff"}, headers=owner)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    for _ in range(1200):
        info = http.get(location, headers=owner).json()
        if info["status"] not in ("accepted", "running"):
            break
        time.sleep(0.1)
    assert info["status"] == "successful", info
    (result,) = http.get(f"{location}/results", headers=owner).json()["files"]
    paths = {"direct": tmp_path / "direct.tif", "job": tmp_path / "job.tif"}
    paths["direct"].write_bytes(direct.content)
    paths["job"].write_bytes(http.get(result["href"], headers=owner).content)
    seen = {}
    for how, path in paths.items():
        valid, errors, _ = cog_validate(str(path))
        assert valid, (how, errors)
        with rasterio.open(path) as tif:
            tags = tif.tags()
            tags.pop("history")  # a timestamp
            seen[how] = (tif.read(), tif.crs, tif.transform, tif.nodata, tif.descriptions,
                         tif.scales, tif.offsets, tif.units, tags, tif.tags(1), tif.overviews(1))
    direct_seen, job_seen = seen["direct"], seen["job"]
    assert np.array_equal(direct_seen[0], job_seen[0])
    assert direct_seen[1:] == job_seen[1:]
    assert direct_seen[4] == ("data", "slope")
    assert direct_seen[5] == (0.5, 0.5) and direct_seen[7] == ("m", "m")
    with rasterio.open(paths["direct"]) as tif:
        left, _, _, top = tif.bounds
        xs = left + tif.res[0] * (np.arange(tif.width) + 0.5)
        ys = top - tif.res[1] * (np.arange(tif.height) + 0.5)
    assert np.array_equal(direct_seen[0][0], source_window(subset_data.path(POLAR), xs, ys))
