"""Filter, sort, fields, query and free text on GET /collections/{id}/items (OGC API -
Features Part 3 and STAC's ogcapi-features extensions), as on /search: next links keep the
parameters and the access filter applies."""

from __future__ import annotations

from typing import Any

import httpx
import pystac_client

from tests.api.conftest import ApiData


def _ids(body: dict[str, Any]) -> list[str]:
    return [f["id"] for f in body["features"]]


def test_conformance_declares_the_items_endpoint_extensions(http: httpx.Client) -> None:
    classes = set(http.get("/conformance").json()["conformsTo"])
    assert {
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
        "https://api.stacspec.org/v1.0.0-rc.1/ogcapi-features#free-text",
    } <= classes


def test_items_filter_in_cql2_text_and_json(http: httpx.Client) -> None:
    text = http.get("/collections/lunar-images/items", params={"filter": "gsd >= 100"})
    assert text.status_code == 200, text.text
    assert set(_ids(text.json())) == {"eq-east", "eq-far", "mid-north"}
    as_json = http.get("/collections/lunar-images/items", params={
        "filter": '{"op": "like", "args": [{"property": "platform"}, "chandra%"]}',
        "filter-lang": "cql2-json",
    })
    assert as_json.status_code == 200, as_json.text
    assert _ids(as_json.json()) == ["eq-west"]
    # the collection still bounds the filter: lro items of lunar-dem stay out
    assert set(_ids(http.get("/collections/lunar-images/items",
                             params={"filter": "platform = 'lro'"}).json())) == {"mid-north"}


def test_items_malformed_filter_is_a_400_naming_it(http: httpx.Client) -> None:
    bad = http.get("/collections/lunar-images/items", params={"filter": "gsd >>> 3"})
    assert bad.status_code == 400
    assert "filter is not valid CQL2" in bad.json()["description"]
    crs = http.get("/collections/lunar-images/items", params={"filter": "gsd > 1", "filter-crs": "EPSG:4326"})
    assert crs.status_code == 400 and "filter-crs" in crs.json()["description"]


def test_items_sortby_fields_and_query(http: httpx.Client) -> None:
    body = http.get("/collections/lunar-images/items", params={
        "sortby": "-gsd,+id", "fields": "properties.gsd,-links", "query": '{"gsd": {"gte": 100}}',
    }).json()
    assert _ids(body) == ["eq-far", "eq-east", "mid-north"]
    assert set(body["features"][0]) == {"type", "stac_version", "id", "collection", "properties"}
    assert body["features"][0]["properties"] == {"gsd": 400}


def test_items_next_links_keep_the_parameters(live_server: str) -> None:
    seen: list[str] = []
    with httpx.Client(timeout=10) as http:
        url: str | None = f"{live_server}collections/lunar-images/items"
        params: dict[str, Any] | None = {"filter": "gsd >= 50", "sortby": "-gsd,+id", "limit": 1,
                                         "fields": "id"}
        while url:
            page = http.get(url, params=params).json()
            assert all(set(f) == {"type", "stac_version", "id", "collection"} for f in page["features"])
            seen += _ids(page)
            url = next((lnk["href"] for lnk in page["links"] if lnk["rel"] == "next"), None)
            params = None
    assert seen == ["eq-far", "eq-east", "mid-north", "eq-west"]


def test_items_filter_never_shows_hidden_items(http: httpx.Client, api_data: ApiData) -> None:
    hidden = {**api_data.item("eq-west"), "id": "eq-west-hidden"}
    hidden["properties"] = {**hidden["properties"], "dc:access": "restricted", "title": "Hidden crater"}
    api_data.catalog.upsert_items([hidden])
    try:
        for params in ({"filter": "platform LIKE 'chandra%'"}, {"query": '{"gsd": {"eq": 50}}'},
                       {"sortby": "gsd"}):
            ids = _ids(http.get("/collections/lunar-images/items", params=params).json())
            assert "eq-west-hidden" not in ids, params
            assert "eq-west" in ids, params
    finally:
        api_data.catalog.delete_item("lunar-images", "eq-west-hidden")


def test_pystac_client_filters_a_collection_items(live_server: str) -> None:
    collection = pystac_client.Client.open(live_server).get_collection("lunar-dem")
    assert {item.id for item in collection.get_items()} == {"south-cap", "am-mosaic"}
