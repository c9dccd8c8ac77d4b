"""Searching the live API with pystac-client, the way users do."""

from __future__ import annotations

import httpx
import pystac_client
import pytest

from tests.api.conftest import ALL_IDS


@pytest.fixture
def client(live_server: str) -> pystac_client.Client:
    return pystac_client.Client.open(live_server)


def ids(search: pystac_client.ItemSearch) -> set[str]:
    found = [item.id for item in search.items()]
    assert len(found) == len(set(found)), f"an item came back twice: {found}"
    return set(found)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bbox_around_the_south_pole_finds_the_polar_cap_only(client, method) -> None:
    assert ids(client.search(bbox=[-180, -90, 180, -85], method=method)) == {"south-cap"}


def test_small_bbox_near_the_pole_away_from_the_cap_edge_still_finds_the_cap(client) -> None:
    assert ids(client.search(bbox=[100, -89, 101, -88])) == {"south-cap"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bbox_across_the_antimeridian_finds_the_split_mosaic(client, method) -> None:
    assert ids(client.search(bbox=[175, -5, -175, 5], method=method)) == {"am-mosaic"}


def test_bbox_on_either_side_of_the_antimeridian_finds_the_split_mosaic(client) -> None:
    assert ids(client.search(bbox=[-179, -1, -178, 1])) == {"am-mosaic"}
    assert ids(client.search(bbox=[178, -1, 179, 1])) == {"am-mosaic"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_plain_bbox_finds_the_equatorial_items_it_touches(client, method) -> None:
    assert ids(client.search(bbox=[-25, -1, 15, 1], method=method)) == {"eq-east", "eq-west"}


def test_intersects_polygon_finds_what_it_covers(client) -> None:
    polygon = {"type": "Polygon", "coordinates": [[[5, 1], [25, 1], [25, 2], [5, 2], [5, 1]]]}
    assert ids(client.search(intersects=polygon)) == {"eq-east"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_datetime_interval_finds_items_inside_it(client, method) -> None:
    found = ids(client.search(datetime="2021-01-01T00:00:00Z/2022-12-31T00:00:00Z", method=method))
    assert found == {"am-mosaic", "eq-west"}


def test_open_datetime_interval_and_start_end_items(client) -> None:
    assert ids(client.search(datetime="../2019-06-01T00:00:00Z")) == {"eq-far", "mid-north"}
    assert ids(client.search(datetime="2023-01-01T00:00:00Z/..")) == {"eq-east"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_collections_filter_returns_only_that_collection(client, method) -> None:
    assert ids(client.search(collections=["lunar-dem"], method=method)) == {"south-cap", "am-mosaic"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ids_filter_returns_exactly_those_items(client, method) -> None:
    assert ids(client.search(ids=["eq-far", "south-cap"], method=method)) == {"eq-far", "south-cap"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_paging_by_two_walks_every_item_exactly_once(client, method) -> None:
    search = client.search(limit=2, method=method)
    pages = list(search.pages_as_dicts())
    assert [len(p["features"]) for p in pages] == [2, 2, 2]
    seen = [f["id"] for p in pages for f in p["features"]]
    assert sorted(seen) == sorted(ALL_IDS)
    assert all(p["numberMatched"] == 6 for p in pages)
    assert [p["numberReturned"] for p in pages] == [2, 2, 2]
    assert not any(link["rel"] == "next" for link in pages[-1]["links"])


def test_get_next_link_carries_the_token_in_the_query(http: httpx.Client) -> None:
    page = http.get("search", params={"limit": 2, "collections": "lunar-images"}).json()
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    assert nxt["method"] == "GET"
    assert "token=" in nxt["href"] and "collections=lunar-images" in nxt["href"]
    second = http.get(nxt["href"]).json()
    assert {f["id"] for f in second["features"]} == {"eq-far", "mid-north"}


def test_post_next_link_repeats_the_body_with_the_token(http: httpx.Client) -> None:
    body = {"limit": 1, "collections": ["lunar-dem"]}
    page = http.post("search", json=body).json()
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    assert nxt["method"] == "POST"
    assert nxt["body"]["collections"] == ["lunar-dem"] and nxt["body"]["token"]
    second = http.post(nxt["href"], json=nxt["body"]).json()
    assert [f["id"] for f in second["features"]] == ["south-cap"]
    assert not any(link["rel"] == "next" for link in second["links"])


def test_collection_items_page_with_bbox_datetime_and_token(http: httpx.Client) -> None:
    first = http.get("collections/lunar-images/items", params={"limit": 1}).json()
    assert first["numberMatched"] == 4
    rels = {link["rel"] for link in first["links"]}
    assert {"self", "root", "parent", "collection", "next"} <= rels
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = http.get(nxt).json()
    assert [f["id"] for f in first["features"] + second["features"]] == ["eq-east", "eq-west"]
    boxed = http.get(
        "collections/lunar-images/items",
        params={"bbox": "-40,-10,0,10", "datetime": "2022-01-01T00:00:00Z/2022-12-31T00:00:00Z"},
    ).json()
    assert [f["id"] for f in boxed["features"]] == ["eq-west"]


def test_limit_above_ten_thousand_is_clamped_not_refused(http: httpx.Client) -> None:
    response = http.get("search", params={"limit": 1_000_000})
    assert response.status_code == 200
    assert response.json()["numberReturned"] == 6
