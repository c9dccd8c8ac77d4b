"""What the API serves: landing page, conformance, collections and items, their links and
asset hrefs, and the error bodies for mistakes."""

from __future__ import annotations

import json

import httpx
import pytest

from api.app import create_app
from api.deps import get_catalog
from datacenter.errors import ItemNotFound
from tests.api.conftest import serving


def test_landing_page_names_the_data_center_and_links_collections(http: httpx.Client) -> None:
    page = http.get("").json()
    assert page["title"] == "Lunar & Deep-Space Science Data Center"
    children = {link["href"] for link in page["links"] if link["rel"] == "child"}
    base = str(http.base_url)
    assert children == {f"{base}collections/lunar-dem", f"{base}collections/lunar-images"}


def test_conformance_declares_core_collections_features_and_item_search(http: httpx.Client) -> None:
    classes = set(http.get("conformance").json()["conformsTo"])
    assert {
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/collections",
        "https://api.stacspec.org/v1.0.0/item-search",
        "https://api.stacspec.org/v1.0.0/ogcapi-features",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    } <= classes


def test_item_links_are_absolute_from_the_request_base(http: httpx.Client) -> None:
    base = str(http.base_url)
    item = http.get("collections/lunar-dem/items/south-cap").json()
    links = {link["rel"]: link["href"] for link in item["links"]}
    assert links == {
        "self": f"{base}collections/lunar-dem/items/south-cap",
        "parent": f"{base}collections/lunar-dem",
        "collection": f"{base}collections/lunar-dem",
        "root": base,
    }


def test_collection_links_are_absolute_from_the_request_base(http: httpx.Client) -> None:
    base = str(http.base_url)
    collection = http.get("collections/lunar-dem").json()
    links = {link["rel"]: link["href"] for link in collection["links"]}
    assert links["self"] == f"{base}collections/lunar-dem"
    assert links["root"] == links["parent"] == base
    assert links["items"] == f"{base}collections/lunar-dem/items"


def test_asset_hrefs_point_at_the_api_and_stored_keys_never_appear(http: httpx.Client, api_data) -> None:
    base = str(http.base_url)
    item = http.get("collections/lunar-images/items/eq-east").json()
    assert item["assets"]["data"]["href"] == f"{base}collections/lunar-images/items/eq-east/assets/data"
    assert item["assets"]["cube"]["href"] == f"{base}collections/lunar-images/items/eq-east/assets/cube"
    everything = http.get("search", params={"limit": 100}).text + http.get("collections").text
    for stored in api_data.items:
        for asset in stored["assets"].values():
            assert asset["href"] not in everything


def test_forwarded_host_is_used_for_links(http: httpx.Client) -> None:
    item = http.get(
        "collections/lunar-dem/items/am-mosaic",
        headers={"Forwarded": "proto=https;host=moon.example.org"},
    ).json()
    assert item["assets"]["data"]["href"].startswith("https://moon.example.org/collections/")


def test_missing_item_is_404_naming_collection_and_item(http: httpx.Client) -> None:
    response = http.get("collections/lunar-dem/items/no-such-dem")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "ItemNotFound"
    assert "no-such-dem" in body["description"] and "lunar-dem" in body["description"]


def test_missing_collection_is_404_for_the_collection_and_its_items(http: httpx.Client) -> None:
    for path in ("collections/mars-dem", "collections/mars-dem/items"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "CollectionNotFound"
        assert "mars-dem" in response.json()["description"]


@pytest.mark.parametrize(
    "bbox",
    ["1,2,3", "a,b,c,d", "0,10,1,5", "0,-95,1,0", "0,0,1,91", "0,0,200,1", "1,2,3,4,5"],
    ids=["three-values", "not-numbers", "south-above-north", "lat-below-90", "lat-above-90",
         "lon-beyond-180", "five-values"],
)
@pytest.mark.parametrize("path", ["search", "collections/lunar-dem/items"])
def test_malformed_bbox_is_400_naming_bbox(http: httpx.Client, path: str, bbox: str) -> None:
    response = http.get(path, params={"bbox": bbox})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidRequest"
    assert body["description"].startswith("bbox") and "west,south,east,north" in body["description"]


def test_malformed_bbox_in_post_body_is_400_naming_bbox(http: httpx.Client) -> None:
    for bbox in ([0, 10, 1, 5], [1, 2, 3], ["x", 0, 1, 1]):
        response = http.post("search", json={"bbox": bbox})
        assert response.status_code == 400, bbox
        assert "bbox" in response.json()["description"]


def test_antimeridian_bbox_is_valid(http: httpx.Client) -> None:
    assert http.get("search", params={"bbox": "170,-10,-170,10"}).status_code == 200


@pytest.mark.parametrize(
    "value",
    ["2020-01-01", "yesterday", "2020-13-01T00:00:00Z", "2020-01-01T00:00:00",
     "2022-01-01T00:00:00Z/2021-01-01T00:00:00Z", "../..", "/"],
    ids=["date-only", "words", "month-13", "no-zone", "end-before-start", "open-both", "slash"],
)
@pytest.mark.parametrize("path", ["search", "collections/lunar-dem/items"])
def test_malformed_datetime_is_400_naming_datetime(http: httpx.Client, path: str, value: str) -> None:
    response = http.get(path, params={"datetime": value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidRequest"
    assert body["description"].startswith("datetime") and "RFC 3339" in body["description"]


def test_malformed_datetime_in_post_body_is_400_naming_datetime(http: httpx.Client) -> None:
    response = http.post("search", json={"datetime": "2022-01-01T00:00:00Z/2021-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json()["description"].startswith("datetime")


def test_bbox_with_intersects_is_400(http: httpx.Client) -> None:
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    got = http.get("search", params={"bbox": "0,0,1,1", "intersects": json.dumps(polygon)})
    assert got.status_code == 400 and "intersects" in got.json()["description"]
    posted = http.post("search", json={"bbox": [0, 0, 1, 1], "intersects": polygon})
    assert posted.status_code == 400


def test_bad_paging_token_is_400(http: httpx.Client) -> None:
    response = http.get("search", params={"token": "not-a-token"})
    assert response.status_code == 400
    assert "token" in response.json()["description"]


def test_catalog_dependency_override_applies_to_records_and_downloads(api_data) -> None:
    class NoItemsCatalog:
        """Hides every item, as a partner access filter would."""

        def __getattr__(self, name):
            return getattr(api_data.catalog, name)

        def get_item(self, collection_id, item_id, **kwargs):
            raise ItemNotFound(f"hidden {item_id!r}")

    app = create_app(api_data.catalog, api_data.store)
    app.dependency_overrides[get_catalog] = lambda: NoItemsCatalog()
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("collections/lunar-dem/items/south-cap").status_code == 404
        assert client.get("collections/lunar-dem/items/south-cap/assets/data").status_code == 404
        assert client.get("collections/lunar-dem").status_code == 200
