import pytest
from rasterio.transform import from_origin
from shapely.geometry import Point, shape

from ingest.footprint import footprint
from ingest.samples import METRES_PER_DEGREE


def test_south_polar_tile_centred_on_the_pole_covers_the_whole_cap() -> None:
    geometry, bbox = footprint("IAU_2015:30135", from_origin(-20_000, 20_000, 40, 40), 1000, 1000)
    assert geometry["type"] == "Polygon"
    west, south, east, north = bbox
    assert (west, south, east) == (-180.0, -90.0, 180.0)
    assert -89.6 < north < -89.0
    cap = shape(geometry)
    assert cap.is_valid
    for lon in (-179.9, -90, 0, 45, 179.9):
        assert cap.covers(Point(lon, -89.9))
    assert not cap.covers(Point(0, -88.0))


def test_north_polar_tile_covers_the_north_cap() -> None:
    geometry, bbox = footprint("IAU_2015:30130", from_origin(-15_000, 15_000, 50, 50), 600, 600)
    assert bbox[0] == -180.0 and bbox[2] == 180.0 and bbox[3] == 90.0
    assert shape(geometry).is_valid and shape(geometry).covers(Point(123.0, 89.95))


def test_polar_tile_beside_the_pole_is_a_plain_polygon() -> None:
    geometry, bbox = footprint("IAU_2015:30135", from_origin(50_000, 20_000, 40, 40), 500, 500)
    assert geometry["type"] == "Polygon"
    west, south, east, north = bbox
    assert -180 < west < east < 180 and -90 < south < north < -87


def test_equirectangular_mosaic_centred_on_180_is_split_at_the_antimeridian() -> None:
    res = METRES_PER_DEGREE / 10  # 10 px/deg, clon 180: x = 0 is the 180 deg meridian
    geometry, bbox = footprint(
        "IAU_2015:30115", from_origin(-100 * res, 100 * res, res, res), 200, 200
    )
    assert geometry["type"] == "MultiPolygon"
    assert bbox == pytest.approx((170.0, -10.0, -170.0, 10.0))
    parts = [shape({"type": "Polygon", "coordinates": c}) for c in geometry["coordinates"]]
    assert sorted(round(p.bounds[0]) for p in parts) == [-180, 170]
    assert sum(p.area for p in parts) == pytest.approx(20 * 20, rel=1e-6)


def test_equirectangular_mosaic_off_the_antimeridian_is_one_polygon() -> None:
    res = METRES_PER_DEGREE / 10
    geometry, bbox = footprint(
        "IAU_2015:30115", from_origin(200 * res, 100 * res, res, res), 100, 200
    )
    assert geometry["type"] == "Polygon"
    assert bbox == pytest.approx((-160.0, -10.0, -150.0, 10.0))


def test_geographic_tile_footprint_is_its_lon_lat_box() -> None:
    geometry, bbox = footprint("IAU_2015:30100", from_origin(20, 5, 1 / 64, 1 / 64), 320, 320)
    assert bbox == pytest.approx((20.0, 0.0, 25.0, 5.0))
    assert shape(geometry).area == pytest.approx(25.0)


def test_geographic_tile_in_0_360_longitudes_is_wrapped_and_split() -> None:
    geometry, bbox = footprint("IAU_2015:30100", from_origin(175, 5, 0.5, 0.5), 20, 20)
    assert geometry["type"] == "MultiPolygon"
    assert bbox == pytest.approx((175.0, -5.0, -175.0, 5.0))


def test_polygons_wind_counter_clockwise() -> None:
    geometry, _ = footprint("IAU_2015:30135", from_origin(-20_000, 20_000, 40, 40), 1000, 1000)
    assert shape(geometry).exterior.is_ccw
