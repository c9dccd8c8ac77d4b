from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from rasterio.transform import from_origin

from ingest.crs import lunar_proj_code

CODES = ["IAU_2015:30100", "IAU_2015:30110", "IAU_2015:30115", "IAU_2015:30130",
         "IAU_2015:30135", "IAU_2015:49900"]  # fmt: skip


@pytest.mark.parametrize("code", CODES)
def test_crs_without_authority_maps_back_to_its_iau_code(code: str) -> None:
    doc = pyproj.CRS(code).to_json_dict()
    doc.pop("id")
    doc["name"] = "unnamed"  # what GDAL reads back from a PDS label: no code, no IAU name
    bare = pyproj.CRS.from_json_dict(doc)
    assert bare.to_authority("IAU_2015", min_confidence=100) is None
    assert lunar_proj_code(bare) == code


@pytest.mark.filterwarnings("ignore:You will likely lose:UserWarning")
@pytest.mark.parametrize("code", CODES)
def test_proj_string_form_maps_to_its_iau_code(code: str) -> None:
    assert lunar_proj_code(pyproj.CRS(code).to_proj4()) == code


def test_polar_stereographic_variant_b_is_the_same_as_variant_a_at_the_pole() -> None:
    variant_b = "+proj=stere +lat_0=-90 +lat_ts=-90 +lon_0=0 +R=1737400 +units=m"
    assert lunar_proj_code(variant_b) == "IAU_2015:30135"


def test_custom_lunar_projection_has_no_code() -> None:
    chang_e_2_lambert = "+proj=lcc +lat_1=7 +lat_2=21 +lat_0=14 +lon_0=105 +R=1737400 +units=m"
    assert lunar_proj_code(chang_e_2_lambert) is None


def test_same_projection_on_another_body_is_not_the_moon() -> None:
    mars_south_polar = "+proj=stere +lat_0=-90 +lon_0=0 +k=1 +R=3396190 +units=m"
    assert lunar_proj_code(mars_south_polar) != "IAU_2015:30135"


def test_earth_crs_has_no_lunar_code() -> None:
    assert lunar_proj_code("EPSG:4326") is None


@pytest.mark.parametrize(
    ("driver", "suffix", "code", "expected"),
    [
        ("GTiff", ".tif", "IAU_2015:30100", "IAU_2015:30100"),
        ("GTiff", ".tif", "IAU_2015:30135", "IAU_2015:30135"),
        ("PDS4", ".xml", "IAU_2015:30135", "IAU_2015:30135"),
        ("PDS4", ".xml", "IAU_2015:30115", "IAU_2015:30115"),
        ("ISIS3", ".cub", "IAU_2015:30130", "IAU_2015:30130"),
        ("ISIS3", ".cub", "IAU_2015:30110", "IAU_2015:30110"),
        # GDAL writes a geographic CRS into PDS4 as equirectangular metres: clon 0
        ("PDS4", ".xml", "IAU_2015:30100", "IAU_2015:30110"),
    ],
)
def test_crs_round_trips_through_files(
    tmp_path: Path, driver: str, suffix: str, code: str, expected: str
) -> None:
    path = tmp_path / f"rt{suffix}"
    geographic = code.endswith("30100")
    transform = (
        from_origin(-10, 10, 0.25, 0.25) if geographic else from_origin(-8000, 8000, 250, 250)
    )
    with rasterio.open(path, "w", driver=driver, width=64, height=64, count=1, dtype="uint8",
                       crs=rasterio.crs.CRS.from_user_input(code), transform=transform) as ds:  # fmt: skip
        ds.write(np.full((1, 64, 64), 7, dtype="uint8"))
    with rasterio.open(path) as ds:
        assert lunar_proj_code(ds.crs) == expected
