from datetime import UTC, datetime
from pathlib import Path

import pytest
from rasterio.transform import from_origin

from datacenter.errors import MissingDatetime
from ingest import samples
from ingest.cog import write_cog
from ingest.readers import find_reader
from ingest.stac import build_item, target_class


def _product_and_cog(path: Path, out: Path):
    product = find_reader(path).read(path)
    return product, write_cog(product, out)


def test_product_without_time_needs_the_datetime_option(tmp_path: Path) -> None:
    path = samples.make_geotiff(tmp_path, name="undated", timestamp=None)
    product, cog = _product_and_cog(path, tmp_path / "out.tif")
    with pytest.raises(MissingDatetime, match=r"undated\.tif.*--datetime"):
        build_item(product, cog, collection_id="c", data_key="c/undated.tif")


def test_datetime_override_dates_an_undated_product(tmp_path: Path, stac_offline) -> None:
    path = samples.make_pds3_image(tmp_path, with_times=False)
    product, cog = _product_and_cog(path, tmp_path / "out.tif")
    assert product.start is None
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    item = build_item(product, cog, collection_id="c", data_key="c/x.tif", datetime_override=when)
    assert item["properties"]["datetime"] == "2024-05-01T12:00:00Z"
    assert stac_offline.validate_dict(item) == []


def test_pds4_label_with_nil_times_needs_the_datetime_option(tmp_path: Path) -> None:
    path = samples.make_pds4_south_polar_dem(tmp_path, with_times=False, size=64)
    product, cog = _product_and_cog(path, tmp_path / "out.tif")
    with pytest.raises(MissingDatetime, match="--datetime"):
        build_item(product, cog, collection_id="c", data_key="c/x.tif")


def test_custom_lunar_crs_is_described_by_wkt2_and_projjson(tmp_path: Path, stac_offline) -> None:
    lambert = "+proj=lcc +lat_1=7 +lat_2=21 +lat_0=14 +lon_0=105 +R=1737400 +units=m +no_defs"
    path = samples.make_geotiff(tmp_path, name="ce2_lambert_sheet", crs=lambert,
                                transform=from_origin(-50_000, 50_000, 500, 500))  # fmt: skip
    product, cog = _product_and_cog(path, tmp_path / "out.tif")
    item = build_item(product, cog, collection_id="c", data_key="c/x.tif")
    props = item["properties"]
    assert props["proj:code"] is None
    assert props["proj:wkt2"].startswith("PROJCRS")
    assert props["proj:projjson"]["type"] == "ProjectedCRS"
    west, south, east, north = item["bbox"]
    assert 100 < west < 105 < east < 110 and 10 < south < 14 < north < 18
    assert stac_offline.validate_dict(item) == []


def test_moon_is_a_satellite() -> None:
    assert target_class(("Moon",)) == "satellite"
    assert target_class(("Bennu",)) is None


def test_gsd_is_metres_per_pixel_on_the_body(tmp_path: Path, stac_offline) -> None:
    geographic = samples.make_geotiff(tmp_path / "g")  # 1/64 degree pixels on the Moon
    polar = samples.make_pds4_south_polar_dem(tmp_path / "p", size=64)  # 40 m pixels
    for path, expected in ((geographic, 1_737_400 * 3.141592653589793 / 180 / 64), (polar, 40.0)):
        product, cog = _product_and_cog(path, tmp_path / f"{path.stem}.tif")
        item = build_item(product, cog, collection_id="c", data_key="c/x.tif")
        assert item["properties"]["gsd"] == pytest.approx(expected, abs=0.01)
        assert stac_offline.validate_dict(item) == []


def test_pds3_viewing_geometry_becomes_view_and_dc_fields() -> None:
    import pvl

    from ingest.readers.pds3 import _observation

    label = pvl.loads("INCIDENCE_ANGLE = 62.5 <DEG>\nEMISSION_ANGLE = 1.25 <DEG>\nPHASE_ANGLE = 200\n"
                      "ORBIT_NUMBER = 0\nLOCAL_TIME = 7:05\nEND\n")
    assert _observation(label) == {"view:incidence_angle": 62.5, "dc:emission_angle": 1.25,
                                   "view:sun_elevation": 27.5, "ssys:local_time": "07:05:00"}  # fmt: skip
    assert _observation(pvl.loads("INCIDENCE_ANGLE = \"N/A\"\nORBIT_NUMBER = N/A\nEND\n")) == {}
