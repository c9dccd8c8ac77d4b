"""A bbox across a global longitude grid's seam (Moon geographic: 180 on a -180..180 grid,
0 on a 0..360 one): both sides come back, joined in longitude order on a wrapped coordinate
(e.g. 170 .. 190 E)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import CRS
from rasterio.transform import from_origin

from datacenter.access import SYSTEM
from ingest.pipeline import ingest_paths
from ingest.samples import make_geotiff
from tests.api.subset.conftest import SubsetData

GLOBAL = "global_grid_1deg"
SUBSET = f"collections/lunar-global/items/{GLOBAL}/subset"


@pytest.fixture(scope="module")
def global_grid(subset_data: SubsetData, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """A 1-degree global grid in IAU_2015:30100, -180..180 E, each pixel = 1000 x row + column."""
    rows, cols = np.mgrid[0:180, 0:360]
    values = (rows * 1000 + cols).astype("int32")
    path = make_geotiff(tmp_path_factory.mktemp("global"), name=GLOBAL, crs="IAU_2015:30100",
                        transform=from_origin(-180, 90, 1, 1), data=values, nodata=-1)
    report = ingest_paths([path], collection_id="lunar-global", catalog=subset_data.catalog,
                          store=subset_data.store, access={"dc:owner": "CNSA", "dc:access": "public"})
    assert report.ok, [r.to_dict() for r in report.failed]
    return values


def expected_columns() -> np.ndarray:
    """170..180 E are columns 350..359, 180..190 E (= 180..170 W) columns 0..9."""
    return np.r_[350:360, 0:10]


def test_netcdf_across_180_has_both_sides_on_a_wrapped_longitude(
    http: httpx.Client, global_grid: np.ndarray, tmp_path: Path
) -> None:
    response = http.get(SUBSET, params={"bbox": "170,-5,-170,5", "format": "netcdf"})
    assert response.status_code == 200, response.text
    (tmp_path / "out.nc").write_bytes(response.content)
    with xr.open_dataset(tmp_path / "out.nc", mask_and_scale=False) as ds:
        lon, lat, values = ds["x"].values, ds["y"].values, ds["data"].values
        assert ds["x"].attrs["units"] == "degrees_east"
        assert CRS.from_wkt(ds["spatial_ref"].attrs["crs_wkt"]) == CRS.from_user_input("IAU_2015:30100")
    np.testing.assert_array_equal(lon, np.arange(170.5, 190, 1.0))
    np.testing.assert_array_equal(lat, np.arange(4.5, -5, -1.0))
    np.testing.assert_array_equal(values, global_grid[85:95][:, expected_columns()])


def test_geotiff_across_180_spans_170_to_190_east_with_the_source_values(
    http: httpx.Client, global_grid: np.ndarray, tmp_path: Path
) -> None:
    response = http.get(SUBSET, params={"bbox": "170,-5,-170,5", "format": "geotiff"})
    assert response.status_code == 200, response.text
    (tmp_path / "out.tif").write_bytes(response.content)
    with rasterio.open(tmp_path / "out.tif") as tif:
        assert tif.bounds == (170, -5, 190, 5) and tif.nodata == -1
        assert CRS.from_wkt(tif.crs.to_wkt()) == CRS.from_user_input("IAU_2015:30100")
        np.testing.assert_array_equal(tif.read(1), global_grid[85:95][:, expected_columns()])


def test_a_bbox_not_crossing_180_is_one_plain_window(
    http: httpx.Client, global_grid: np.ndarray, tmp_path: Path
) -> None:
    response = http.get(SUBSET, params={"bbox": "-179,-5,-170,5", "format": "netcdf"})
    assert response.status_code == 200, response.text
    (tmp_path / "out.nc").write_bytes(response.content)
    with xr.open_dataset(tmp_path / "out.nc", mask_and_scale=False) as ds:
        np.testing.assert_array_equal(ds["x"].values, np.arange(-178.5, -170, 1.0))
        np.testing.assert_array_equal(ds["data"].values, global_grid[85:95, 1:10])


def test_a_bbox_across_0_on_a_0_to_360_grid_has_both_sides(
    http: httpx.Client, subset_data: SubsetData, global_grid: np.ndarray, tmp_path: Path
) -> None:
    """The same values on a 0..360 E grid: 10 W .. 10 E takes its last and first columns."""
    east = np.concatenate([global_grid[:, 180:], global_grid[:, :180]], axis=1)  # 0..360 E
    path = make_geotiff(tmp_path, name="global_grid_0_360", crs="IAU_2015:30100",
                        transform=from_origin(0, 90, 1, 1), data=east, nodata=-1)
    report = ingest_paths([path], collection_id="lunar-global", catalog=subset_data.catalog,
                          store=subset_data.store, access={"dc:owner": "CNSA", "dc:access": "public"})
    assert report.ok, [r.to_dict() for r in report.failed]
    item = subset_data.catalog.get_item("lunar-global", "global_grid_0_360", viewer=SYSTEM)
    item["properties"]["dc:access"] = "public"
    subset_data.catalog.upsert_items([item])
    response = http.get("collections/lunar-global/items/global_grid_0_360/subset",
                        params={"bbox": "-10,-5,10,5", "format": "netcdf"})
    assert response.status_code == 200, response.text
    (tmp_path / "out.nc").write_bytes(response.content)
    with xr.open_dataset(tmp_path / "out.nc", mask_and_scale=False) as ds:
        np.testing.assert_array_equal(ds["x"].values, np.arange(-9.5, 10, 1.0))
        np.testing.assert_array_equal(ds["data"].values, global_grid[85:95, 170:190])


def _source_values_at(path: str, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, float | None]:
    """The source COG's pixel under each (lon, lat) output pixel centre (nearest neighbour)."""
    from pyproj import Transformer

    with rasterio.open(path) as src:
        data, nodata = src.read(1), src.nodata
        to_src = Transformer.from_crs(CRS.from_user_input("IAU_2015:30100"), CRS.from_wkt(src.crs.to_wkt()),
                                      always_xy=True)
        glon, glat = np.meshgrid(lon, lat)
        x, y = to_src.transform(glon, glat)
        rows, cols = rasterio.transform.rowcol(src.transform, x.ravel(), y.ravel())
    rows, cols = np.asarray(rows).reshape(glon.shape), np.asarray(cols).reshape(glon.shape)
    inside = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
    out = np.full(glon.shape, nodata if nodata is not None else 0, dtype=data.dtype)
    out[inside] = data[rows[inside], cols[inside]]
    return out, nodata


def test_a_reprojection_to_lonlat_across_180_keeps_the_area_resolution_and_values(
    http: httpx.Client, subset_data: SubsetData, keys: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """Issue 15: the WAC mosaic (equirectangular centred on 180 E) asked in lon/lat across
    180 came back 31 x 1117 px spanning -180..180, 94 % nodata. Now: 175..185 E at the
    source's pixel size, every pixel the source's, and a job gives the same file content."""
    from tests.api.subset.conftest import MOSAIC
    from tests.api.subset.test_jobs import wait_finished

    params = {"bbox": "175,-2,-175,2", "crs": "IAU_2015:30100", "format": "netcdf"}
    response = http.get(f"collections/lunar/items/{MOSAIC}/subset", params=params)
    assert response.status_code == 200, response.text
    (tmp_path / "sync.nc").write_bytes(response.content)
    with xr.open_dataset(tmp_path / "sync.nc", mask_and_scale=False) as ds:
        lon, lat, values = ds["x"].values, ds["y"].values, ds["data"].values
        fill = ds["data"].attrs.get("_FillValue")
    source_pixel = 643.1251415514206 / (1_737_400 * np.pi / 180)  # degrees on the Moon
    half = source_pixel / 2  # pixels overlapping the box, centres inside it (to half a pixel)
    assert lon.min() >= 175 and lon.max() <= 185 + half and np.all(np.diff(lon) > 0)  # unwrapped
    assert lat.min() >= -2 - half and lat.max() <= 2
    np.testing.assert_allclose(np.diff(lon), source_pixel, rtol=1e-9)
    # 10 x 4 degrees at the source's pixel size (not 15x coarser)
    assert values.shape == (int(np.ceil(4 / source_pixel)), int(np.ceil(10 / source_pixel)))
    expected, nodata = _source_values_at(subset_data.path(MOSAIC), lon, lat)
    if fill is not None:
        assert np.mean(values == fill) == 0  # no nodata: the mosaic covers the whole box
    assert np.mean(values == expected) > 0.999  # nearest neighbour: ties on pixel edges aside

    body = {"ids": [MOSAIC], "bbox": [175, -2, -175, 2], "crs": "IAU_2015:30100", "format": "netcdf"}
    created = http.post("jobs", json=body, headers=keys["ESA"])
    assert created.status_code == 201, created.text
    assert wait_finished(http, created.headers["Location"], keys["ESA"])["status"] == "successful"
    (result,) = http.get(f"{created.headers['Location']}/results", headers=keys["ESA"]).json()["files"]
    (tmp_path / "job.nc").write_bytes(http.get(result["href"], headers=keys["ESA"]).content)
    with xr.open_dataset(tmp_path / "job.nc", mask_and_scale=False) as job:
        np.testing.assert_array_equal(job["x"].values, lon)
        np.testing.assert_array_equal(job["data"].values, values)
