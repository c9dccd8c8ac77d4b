"""Search by place: bbox, antimeridian, poles, intersects, exact footprint tests."""

from __future__ import annotations

import pytest

from catalog.base import SearchQuery
from datacenter.errors import InvalidRequest

SOUTH_CAP = {  # a lon/lat polygon covering the whole cap south of 80°S
    "type": "Polygon",
    "coordinates": [[[-180, -80], [-90, -80], [0, -80], [90, -80], [180, -80],
                     [180, -90], [-180, -90], [-180, -80]]],
}
ACROSS_180 = {  # 175°E..175°W, split per RFC 7946
    "type": "MultiPolygon",
    "coordinates": [
        [[[175, -5], [180, -5], [180, 5], [175, 5], [175, -5]]],
        [[[-180, -5], [-175, -5], [-175, 5], [-180, 5], [-180, -5]]],
    ],
}
TRIANGLE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [0, 10], [0, 0]]]}


def ids(page):
    return sorted(i["id"] for i in page.items)


def search(catalog, **kw):
    return catalog.search(SearchQuery(limit=100, **kw))


@pytest.fixture
def footprints(catalog, make_item, rect):
    catalog.upsert_items([
        make_item("south-cap", SOUTH_CAP, bbox=[-180, -90, 180, -80]),
        make_item("across-180", ACROSS_180, bbox=[175, -5, -175, 5]),
        make_item("east-170", rect(169, 0, 171, 1)),
        make_item("west-170", rect(-171, 0, -169, 1)),
        make_item("triangle", TRIANGLE),
        make_item("equator", rect(20, -1, 21, 1)),
    ])
    return catalog


def test_small_bbox_near_the_south_pole_finds_the_polar_cap(footprints):
    assert ids(search(footprints, bbox=(44, -89.5, 45, -89))) == ["south-cap"]
    assert ids(search(footprints, bbox=(-120, -81, -119, -80.5))) == ["south-cap"]


def test_bbox_just_outside_the_cap_misses_it(footprints):
    assert ids(search(footprints, bbox=(44, -79.9, 45, -79))) == []


@pytest.mark.parametrize("bbox", [(176, -1, 177, 1), (-177, -1, -176, 1), (179, -1, -179, 1)],
                         ids=["east-side", "west-side", "crossing"])
def test_antimeridian_item_is_found_from_either_side_and_by_a_crossing_box(footprints, bbox):
    assert ids(search(footprints, bbox=bbox)) == ["across-180"]


def test_crossing_bbox_finds_items_on_both_sides(footprints):
    page = search(footprints, bbox=(165, -2, -165, 2))
    assert ids(page) == ["across-180", "east-170", "west-170"]
    assert page.number_matched == 3


def test_bbox_in_the_antimeridian_items_gap_misses_it(footprints):
    # between 175°E and 175°W the item covers 180°, but not 0°..10°: its bounds are [-180, 180]
    assert "across-180" not in ids(search(footprints, bbox=(100, -1, 110, 1)))


def test_bbox_inside_a_triangles_bounds_but_off_the_triangle_misses_it(footprints):
    assert ids(search(footprints, bbox=(8, 8, 9, 9))) == []
    assert ids(search(footprints, bbox=(1, 1, 2, 2))) == ["triangle"]


def test_touching_boxes_intersect_and_near_misses_do_not(footprints):
    assert ids(search(footprints, bbox=(21, 1, 22, 2))) == ["equator"]
    assert ids(search(footprints, bbox=(21.000001, 0, 22, 2))) == []


def test_whole_globe_bbox_finds_everything(footprints):
    page = search(footprints, bbox=(-180, -90, 180, 90))
    assert page.number_matched == 6 and len(page.items) == 6


def test_intersects_uses_the_exact_shape(footprints):
    diagonal = {"type": "LineString", "coordinates": [[8, 8], [30, -4]]}
    assert ids(search(footprints, intersects=diagonal)) == ["equator"]
    assert ids(search(footprints, intersects={"type": "Point", "coordinates": [1, 1]})) == ["triangle"]


def test_intersects_polygon_around_the_pole_finds_the_cap(footprints, rect):
    assert ids(search(footprints, intersects=rect(0, -90, 10, -85))) == ["south-cap"]


def test_intersects_multipolygon_across_the_antimeridian(footprints):
    query = {"type": "MultiPolygon", "coordinates": [
        [[[179, 0], [180, 0], [180, 0.5], [179, 0]]],
        [[[-180, 0], [-179.5, 0], [-180, 0.5], [-180, 0]]],
    ]}
    page = search(footprints, intersects=query)
    assert ids(page) == ["across-180"] and page.number_matched == 1


@pytest.mark.parametrize("bbox", [(0, 10, 1, 5), (0, -91, 1, 0), (0, 0, 181, 1), ("a", 0, 1, 1), (0, 0, 1)])
def test_malformed_bbox_is_an_invalid_request(catalog, bbox):
    with pytest.raises(InvalidRequest, match="bbox"):
        catalog.search(SearchQuery(bbox=bbox))


def test_malformed_intersects_is_an_invalid_request(catalog):
    with pytest.raises(InvalidRequest, match="intersects"):
        catalog.search(SearchQuery(intersects={"type": "Polygon", "coordinates": 3}))


def test_bbox_and_intersects_together_are_refused(catalog, rect):
    with pytest.raises(InvalidRequest, match="either bbox or intersects"):
        catalog.search(SearchQuery(bbox=(0, 0, 1, 1), intersects=rect(0, 0, 1, 1)))


def test_pages_stay_full_when_exact_tests_reject_newer_candidates(catalog, make_item, rect):
    # 30 newer triangles whose bounds hit the query box but whose shapes miss it
    misses = [make_item(f"miss{n:02}", TRIANGLE, datetime=f"2024-02-{n % 28 + 1:02}T00:00:00Z")
              for n in range(30)]
    hits = [make_item(f"hit{n}", rect(6, 6, 7, 7), datetime="2023-01-01T00:00:00Z") for n in range(5)]
    catalog.upsert_items(misses + hits)
    page = catalog.search(SearchQuery(limit=3, bbox=(6, 6, 9, 9)))
    assert [i["id"] for i in page.items] == ["hit0", "hit1", "hit2"]
    assert page.number_matched == 5
    rest = catalog.search(SearchQuery(limit=3, bbox=(6, 6, 9, 9), token=page.next_token))
    assert [i["id"] for i in rest.items] == ["hit3", "hit4"] and rest.next_token is None
