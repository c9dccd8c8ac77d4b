"""Every format, end to end: product -> COG -> STAC item, checked against the source."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyproj
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from datacenter.storage import file_sha256
from ingest.crs import lunar_proj_code

from .conftest import MAKERS, Ingested

KINDS = list(MAKERS)


@pytest.fixture(params=KINDS)
def case(request: pytest.FixtureRequest, ingested: dict[str, Ingested]) -> Ingested:
    return ingested[request.param]


def test_cog_is_a_valid_cloud_optimized_geotiff(case: Ingested) -> None:
    valid, errors, _warnings = cog_validate(str(case.cog.path), quiet=True)
    assert valid and errors == []


def test_cog_pixels_equal_the_source_pixels_exactly(case: Ingested) -> None:
    with rasterio.open(case.product.path) as src, rasterio.open(case.cog.path) as cog:
        assert cog.dtypes == src.dtypes
        assert cog.nodata == src.nodata or (np.isnan(cog.nodata) and np.isnan(src.nodata))
        np.testing.assert_array_equal(cog.read(), src.read())
        assert cog.scales == src.scales and cog.offsets == src.offsets
        assert cog.transform.almost_equals(src.transform)


def test_cog_keeps_the_lunar_crs_of_the_source(case: Ingested) -> None:
    with rasterio.open(case.product.path) as src, rasterio.open(case.cog.path) as cog:
        assert cog.crs == src.crs
        assert lunar_proj_code(cog.crs) == case.info.proj_code
    assert case.item["properties"]["proj:code"] == case.info.proj_code


def test_item_describes_its_crs_by_code_wkt2_and_projjson_alike(case: Ingested) -> None:
    """GDAL's STACIT and odc-stac read proj:wkt2 / proj:projjson: all three name one CRS."""
    props = case.item["properties"]
    with rasterio.open(case.cog.path) as cog:
        native = pyproj.CRS.from_wkt(cog.crs.to_wkt())
    from_wkt = pyproj.CRS.from_wkt(props["proj:wkt2"])
    from_json = pyproj.CRS.from_json_dict(props["proj:projjson"])
    assert from_wkt.equals(from_json)
    assert lunar_proj_code(from_wkt) == lunar_proj_code(native) == props["proj:code"]
    if props["proj:code"] is not None:
        assert from_wkt.to_authority("IAU_2015") == tuple(props["proj:code"].split(":"))


def test_item_validates_offline(case: Ingested, stac_offline) -> None:
    assert stac_offline.validate_dict(case.item) == []


def test_item_checksum_is_the_sha256_of_the_cog(case: Ingested) -> None:
    asset = case.item["assets"]["data"]
    assert asset["file:checksum"] == "1220" + file_sha256(case.cog.path)
    assert asset["file:size"] == case.cog.path.stat().st_size
    assert asset["href"] == f"lunar-samples/{case.product.id}.tif"


def test_item_carries_the_label_times_and_names(case: Ingested) -> None:
    props = case.item["properties"]
    info = case.info
    assert case.item["id"] == info.id
    if info.start == info.end:
        assert _parse(props["datetime"]) == info.start
    else:  # a range: datetime is its start, which clients sort and stack by
        assert _parse(props["datetime"]) == info.start
        assert _parse(props["start_datetime"]) == info.start
        assert _parse(props["end_datetime"]) == info.end
    assert props["platform"] == info.platform
    assert props["instruments"] == [info.instrument]
    assert props["ssys:targets"] == ["Moon"]


def test_item_bbox_matches_the_sample_extent(case: Ingested) -> None:
    expected = {
        "geotiff": (20.0, 0.0, 25.0, 5.0),
        "pds3": (0.0, 0.0, 30.0, 30.0),
        "vicar": (165.0, -12.0, 170.0, -8.0),
    }
    bbox = case.item["bbox"]
    if case.kind in expected:
        assert bbox == pytest.approx(expected[case.kind], abs=1e-6)
        assert case.item["geometry"]["type"] == "Polygon"
    elif case.kind == "wac":  # centred on 180 E: split, west > east
        assert case.item["geometry"]["type"] == "MultiPolygon"
        assert bbox[0] == pytest.approx(170, abs=0.05) and bbox[2] == pytest.approx(-170, abs=0.05)
    elif case.kind == "pds4":  # south pole inside
        assert bbox[:3] == [-180.0, -90.0, 180.0] and -89.6 < bbox[3] < -89.4
    elif case.kind == "isis3":  # north pole inside
        assert bbox[0] == -180.0 and bbox[2] == 180.0 and bbox[3] == 90.0


def test_lola_scale_and_offset_reach_the_item(ingested: dict[str, Ingested]) -> None:
    for kind in ("pds3", "pds4"):
        band = ingested[kind].item["assets"]["data"]["raster:bands"][0]
        assert band == {"data_type": "int16", "nodata": -32768, "scale": 0.5, "offset": 1737400.0,
                        **({"unit": "m"} if "unit" in band else {})}  # fmt: skip


def test_proj_fields_describe_the_cog_grid(case: Ingested) -> None:
    props = case.item["properties"]
    assert props["proj:shape"] == [case.cog.height, case.cog.width]
    assert props["proj:transform"] == list(case.cog.transform)[:6]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
