"""Filter, sort, fields, free text, collection search, queryables and paging as users reach
them over HTTP; malformed input is a 400 that names the problem, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pystac_client
import pytest

from api.app import create_app
from catalog.sqlite import SQLiteCatalog
from datacenter.storage import Store
from tests.api.conftest import serving
from tests.api.test_search_properties import _collection, make_items

POLYHEDRAL = {"type": "PolyhedralSurface", "coordinates": [[[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0]]]]}


def _ids(body: dict[str, Any]) -> list[str]:
    return [f["id"] for f in body["features"]]


@pytest.mark.parametrize("intersects", [
    POLYHEDRAL,
    {"type": "Tin", "coordinates": []},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    {"type": "Circle", "center": [0, 0], "radius": 5},
])
def test_odd_geojson_in_intersects_is_a_400(http: httpx.Client, intersects: dict[str, Any]) -> None:
    post = http.post("/search", json={"intersects": intersects})
    get = http.get("/search", params={"intersects": json.dumps(intersects)})
    for response in (post, get):
        assert response.status_code == 400, response.text
        assert "intersects" in response.json()["description"]


def test_odd_geojson_inside_a_cql2_filter_is_a_400(http: httpx.Client) -> None:
    body = {"filter": {"op": "s_intersects", "args": [{"property": "geometry"}, POLYHEDRAL]},
            "filter-lang": "cql2-json"}
    response = http.post("/search", json=body)
    assert response.status_code == 400
    assert "PolyhedralSurface" in response.json()["description"]


@pytest.mark.parametrize(("params", "named"), [
    ({"filter": "gsd >>> 3"}, "filter is not valid CQL2"),
    ({"filter": "gsd = "}, "filter is not valid CQL2"),
    ({"filter": '{"op": "=", "args": [1]', "filter-lang": "cql2-json"}, "not valid CQL2 JSON"),
    ({"filter": '{"op": "frobnicate", "args": [1, 2]}', "filter-lang": "cql2-json"}, "'frobnicate'"),
    ({"filter": "t_after(gsd, TIMESTAMP('2020-01-01T00:00:00Z'))"}, "t_after needs datetime"),
    ({"filter": "geometry = 3"}, "'geometry' can only be used in spatial operators"),
    ({"filter": "gsd > 1", "filter-crs": "EPSG:4326"}, "filter-crs"),
    ({"sortby": "-geometry"}, "sortby field 'geometry'"),
    ({"query": '{"gsd": {"approx": 3}}'}, "query operator 'approx'"),
])
def test_malformed_extension_parameters_are_a_400_naming_the_problem(
    http: httpx.Client, params: dict[str, str], named: str
) -> None:
    response = http.get("/search", params=params)
    assert response.status_code == 400, response.text
    assert named in response.json()["description"]


def test_post_filter_that_cql2_rejects_names_the_bad_part(http: httpx.Client) -> None:
    response = http.post("/search", json={"filter": {"op": "<", "args": [{"property": "gsd"}]}})
    assert response.status_code == 400
    assert "< takes 2 arguments, got 1" in response.json()["description"]


def test_spatial_temporal_and_array_operators(http: httpx.Client) -> None:
    def ids(text: str) -> set[str]:
        response = http.get("/search", params={"filter": text, "limit": 100})
        assert response.status_code == 200, response.text
        return set(_ids(response.json()))

    assert ids("s_intersects(geometry, BBOX(175, -5, -175, 5))") == {"am-mosaic"}
    assert ids("s_within(geometry, POLYGON((0 -1, 25 -1, 25 12, 0 12, 0 -1)))") == {"eq-east"}
    assert ids("s_contains(geometry, POINT(0 -89))") == {"south-cap"}
    assert ids("s_intersects(geometry, POINT(15 5)) OR gsd = 400") == {"eq-east", "eq-far"}
    assert ids("NOT s_intersects(geometry, BBOX(-180, -90, 180, 0)) AND collection = 'lunar-images'") \
        == {"eq-far", "mid-north"}
    assert ids("t_before(datetime, TIMESTAMP('2019-06-01T00:00:00Z'))") == {"mid-north"}
    assert ids("t_after(datetime, TIMESTAMP('2022-01-01T00:00:00Z'))") == {"eq-east", "eq-west"}
    assert ids("t_during(datetime, INTERVAL('2019-06-01T00:00:00Z', '2021-01-01T00:00:00Z'))") \
        == {"south-cap"}
    assert ids("t_intersects(datetime, INTERVAL('2019-06-01T00:00:00Z', '2020-06-01T00:00:00Z'))") \
        == {"eq-far", "south-cap"}
    assert ids("a_contains(instruments, ('lola'))") == {"south-cap", "mid-north"}
    assert ids("a_overlaps(instruments, ('tc', 'ccd'))") == {"am-mosaic", "eq-east", "eq-far"}
    assert ids("platform LIKE 'chan%' AND gsd BETWEEN 10 AND 60") == {"eq-west"}
    assert ids("end_datetime IS NULL AND gsd > 150") == {"am-mosaic"}
    assert ids("casei(platform) = 'LRO' AND id IN ('mid-north', 'eq-east')") == set()


def test_sort_fields_and_free_text(http: httpx.Client) -> None:
    body = http.post("/search", json={
        "sortby": [{"field": "gsd", "direction": "desc"}, {"field": "id", "direction": "asc"}],
        "fields": {"include": ["properties.gsd"], "exclude": ["links"]}, "limit": 3,
    }).json()
    assert _ids(body) == ["eq-far", "am-mosaic", "eq-east"]
    assert set(body["features"][0]) == {"type", "stac_version", "id", "collection", "properties"}
    assert body["features"][0]["properties"] == {"gsd": 400}
    following = httpx.post(body["links"][-1]["href"], json=body["links"][-1]["body"]).json()
    assert _ids(following) == ["mid-north", "south-cap", "eq-west"]
    assert http.get("/search", params={"q": "nothing-like-this"}).json()["features"] == []


def test_collection_search_by_bbox_text_and_pages(http: httpx.Client) -> None:
    everything = http.get("/collections").json()
    assert [c["id"] for c in everything["collections"]] == ["lunar-dem", "lunar-images"]
    assert [c["id"] for c in http.get("/collections", params={"q": "elevation"}).json()["collections"]] \
        == ["lunar-dem"]
    first = http.get("/collections", params={"limit": 1}).json()
    assert [c["id"] for c in first["collections"]] == ["lunar-dem"]
    assert first["numberMatched"] == 2
    nxt = next(link for link in first["links"] if link["rel"] == "next")
    second = httpx.get(nxt["href"]).json()
    assert [c["id"] for c in second["collections"]] == ["lunar-images"]
    assert not any(link["rel"] == "next" for link in second["links"])
    prev = next(link for link in second["links"] if link["rel"] == "prev")
    assert [c["id"] for c in httpx.get(prev["href"]).json()["collections"]] == ["lunar-dem"]
    away = http.get("/collections", params={"datetime": "1990-01-01T00:00:00Z/1991-01-01T00:00:00Z"})
    assert away.json()["collections"] == []


def test_queryables_list_core_fields_and_item_properties(http: httpx.Client, live_server: str) -> None:
    response = http.get("/queryables")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    schema = response.json()
    assert schema["$id"] == f"{live_server}queryables"
    assert {"id", "datetime", "geometry", "gsd", "platform"} <= set(schema["properties"])
    assert schema["properties"]["gsd"]["type"] == "number"
    assert http.get("/collections/lunar-dem/queryables").status_code == 200


def test_queryables_declare_planetary_fields_with_type_and_unit(http: httpx.Client) -> None:
    """Fields items carry get their declared description (type, unit), not a guessed one."""
    props = http.get("/queryables").json()["properties"]
    assert props["gsd"]["unit"] == "m" and props["gsd"]["minimum"] == 0
    assert props["instruments"] == {"title": "Instruments", "type": "array", "items": {"type": "string"}}
    assert props["proj:code"]["type"] == ["string", "null"]
    assert "view:incidence_angle" not in props  # no visible item carries it
    assert http.get("/collections/nope/queryables").status_code == 404


def test_a_10000_item_walk_returns_every_item_once_in_few_pages(tmp_path) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert_collection(_collection("moon"))
    catalog.upsert_collection(_collection("moon-b"))
    items = make_items(10_000, seed=3)
    catalog.upsert_items(items)
    with serving(create_app(catalog, Store(str(tmp_path / "store")))) as url:
        pages = list(pystac_client.Client.open(url).search(
            limit=2000, sortby=[{"field": "gsd", "direction": "asc"}]).pages())
    catalog.close()
    got = [item.id for page in pages for item in page.items]
    assert len(pages) == 5
    assert sorted(got) == sorted(i["id"] for i in items) and len(set(got)) == len(got)
    gsd = {i["id"]: i["properties"].get("gsd", -1) for i in items}
    assert [gsd[i] for i in got] == sorted(gsd[i] for i in got)


def test_paging_stays_correct_when_items_are_inserted_between_pages(tmp_path) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert_collection(_collection("moon"))
    catalog.upsert_collection(_collection("moon-b"))
    items = make_items(60, seed=5)
    catalog.upsert_items(items)
    with serving(create_app(catalog, Store(str(tmp_path / "store")))) as url, httpx.Client() as http:
        body = {"limit": 25, "sortby": [{"field": "gsd", "direction": "asc"}]}
        page = http.post(f"{url}search", json=body).json()
        seen = _ids(page)
        newcomers = make_items(61, seed=99)[-1:]
        for new in newcomers:  # sorts first: before the page already read
            new["id"], new["properties"]["gsd"] = "newcomer", -1
        catalog.upsert_items(newcomers)
        while nxt := next((link for link in page["links"] if link["rel"] == "next"), None):
            page = http.post(nxt["href"], json=nxt["body"]).json()
            seen += _ids(page)
    catalog.close()
    assert sorted(seen) == sorted(i["id"] for i in items)  # none skipped, none repeated


def test_post_filter_lang_outside_cql2_text_and_json_is_a_400_naming_both(http: httpx.Client) -> None:
    response = http.post("search", json={"filter": "gsd < 10", "filter-lang": "cql3"})
    assert response.status_code == 400
    assert "filter-lang" in response.json()["description"]
    assert "cql2-text" in response.json()["description"] and "cql2-json" in response.json()["description"]
