"""A broad bbox walks the datetime index instead of the R*Tree: same answers, page by page.

The SQLite planner picks the R*Tree for small boxes and, for boxes holding a large share of
the sphere, walks the covering (dt DESC, ...) index testing each row's bounds. These tests
make the walk happen on a small catalog (no count, short pages: the planner then reads few
rows) and compare every page with a brute-force shapely test over the same footprints.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.base import SearchQuery
from catalog.sqlite import SQLiteCatalog
from catalog.sqlite.query import plan_search
from tests.catalog.conftest import COLLECTION, make_item_dict, rect

SOUTH_CAP = {"type": "Polygon", "coordinates": [[[-180, -80], [0, -80], [180, -80], [180, -90],
                                                 [-180, -90], [-180, -80]]]}


def across_180(lat: float) -> dict[str, Any]:
    return {"type": "MultiPolygon", "coordinates": [
        [[[172, lat], [180, lat], [180, lat + 4], [172, lat + 4], [172, lat]]],
        [[[-180, lat], [-173, lat], [-173, lat + 4], [-180, lat + 4], [-180, lat]]],
    ]}


def triangle(w: float, s: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [w + 8, s], [w, s + 8], [w, s]]]}


@pytest.fixture(scope="module")
def footprints(tmp_path_factory: pytest.TempPathFactory) -> tuple[SQLiteCatalog, dict[str, Any]]:
    rng = random.Random(11)
    items = []
    for k in range(240):
        kind = k % 6
        w, s = rng.uniform(-180, 170), rng.uniform(-85, 75)
        geometry = (SOUTH_CAP if kind == 0 else across_180(rng.uniform(-60, 50)) if kind == 1
                    else triangle(w, s) if kind == 2 else rect(w, s, w + rng.uniform(0.1, 10),
                                                               s + rng.uniform(0.1, 10)))
        day = rng.randrange(1, 28)
        items.append(make_item_dict(f"it-{k:03d}", geometry,
                                    datetime=f"20{rng.randrange(10, 24)}-0{rng.randrange(1, 10)}-{day:02d}T00:00:00Z"))
    catalog = SQLiteCatalog(tmp_path_factory.mktemp("broad") / "catalog.sqlite", count_limit=0)
    catalog.upsert_collection({"type": "Collection", "id": COLLECTION, "description": "test",
                               "license": "proprietary", "stac_version": "1.1.0", "links": [],
                               "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                          "temporal": {"interval": [[None, None]]}},
                               "dc:access": "public"})
    catalog.upsert_items(items)
    return catalog, {i["id"]: shapely.geometry.shape(i["geometry"]) for i in items}


def brute_force(shapes: dict[str, Any], bbox: tuple[float, float, float, float]) -> set[str]:
    w, s, e, n = bbox
    boxes = [shapely.box(w, s, 180, n), shapely.box(-180, s, e, n)] if w > e else [shapely.box(w, s, e, n)]
    query = shapely.union_all(boxes)
    return {iid for iid, shape in shapes.items() if shapely.intersects(shape, query)}


def walk(catalog: SQLiteCatalog, bbox: tuple[float, float, float, float], limit: int) -> list[str]:
    seen, token = [], None
    while True:
        page = catalog.search(SearchQuery(bbox=bbox, limit=limit, token=token))
        seen += [i["id"] for i in page.items]
        token = page.next_token
        if token is None:
            return seen


def test_the_planner_walks_the_index_for_half_the_globe_and_keeps_the_rtree_for_a_small_box() -> None:
    half = plan_search(SearchQuery(bbox=(-180, -90, 180, 0)), max_span=0, total=1_000_000,
                       want=11_002, in_time_order=True)
    small = plan_search(SearchQuery(bbox=(10, 10, 20, 20)), max_span=0, total=1_000_000,
                        want=11_002, in_time_order=True)
    sorted_otherwise = plan_search(SearchQuery(bbox=(-180, -90, 180, 0)), max_span=0,
                                   total=1_000_000, want=11_002, in_time_order=False)
    assert "items_rtree" not in half.where
    assert "items_rtree" in small.where
    assert "items_rtree" in sorted_otherwise.where


def test_a_polar_cap_and_an_antimeridian_item_are_found_by_broad_boxes(footprints) -> None:
    catalog, shapes = footprints
    for bbox in [(-180, -90, 180, 0), (100, -89, -100, 89), (-180, -90, 180, 90)]:
        assert set(walk(catalog, bbox, 25)) == brute_force(shapes, bbox)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=st.floats(-180, 180), s=st.floats(-90, 89), width=st.floats(20, 360), height=st.floats(10, 180),
       limit=st.integers(1, 40))
def test_broad_boxes_page_through_exactly_the_brute_force_matches_in_time_order(
    footprints, w: float, s: float, width: float, height: float, limit: int,
) -> None:
    catalog, shapes = footprints
    e = w + width if w + width <= 180 else w + width - 360
    bbox = (w, s, max(-180.0, min(180.0, e)), min(90.0, s + height))
    if width >= 360:
        bbox = (-180.0, s, 180.0, bbox[3])
    ids = walk(catalog, bbox, limit)
    assert len(ids) == len(set(ids)), "a page repeated an item"
    assert set(ids) == brute_force(shapes, bbox)
    page = catalog.search(SearchQuery(bbox=bbox, limit=len(ids) + 1))  # all of them (a broad
    assert [i["id"] for i in page.items] == ids  # box matches > 200); the same order as the walk


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=st.floats(-180, 170), s=st.floats(-90, 80), size=st.floats(1, 60), limit=st.integers(1, 9))
def test_rtree_pages_counted_in_one_pass_walk_forward_and_back_in_time_order(
    footprints, w: float, s: float, size: float, limit: int,
) -> None:
    catalog, shapes = footprints
    bbox = (w, s, min(180.0, w + size), min(90.0, s + size))
    counted = SQLiteCatalog(catalog.path)  # the default count limit: the page comes with a count
    try:
        pages, token = [], None
        while True:
            page = counted.search(SearchQuery(bbox=bbox, limit=limit, token=token))
            pages.append(page)
            assert page.number_matched == len(brute_force(shapes, bbox))
            if page.next_token is None:
                break
            token = page.next_token
        forward = [i["id"] for p in pages for i in p.items]
        assert set(forward) == brute_force(shapes, bbox) and len(forward) == len(set(forward))
        for k in range(len(pages) - 1, 0, -1):  # back again through the prev tokens
            back = counted.search(SearchQuery(bbox=bbox, limit=limit, token=pages[k].prev_token))
            assert [i["id"] for i in back.items] == [i["id"] for i in pages[k - 1].items]
    finally:
        counted.close()
