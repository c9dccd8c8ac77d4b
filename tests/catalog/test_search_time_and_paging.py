"""Search by time, ids and collections; order, keyset paging and counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from catalog.base import MAX_LIMIT, SearchQuery
from datacenter.errors import InvalidRequest

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def ids(page):
    return [i["id"] for i in page.items]


@pytest.fixture
def timeline(catalog, make_item):
    """Instants on Jan 1, 5, 10 and an interval item spanning Jan 3..Jan 8."""
    catalog.upsert_items([
        make_item("jan01", datetime="2024-01-01T00:00:00Z"),
        make_item("jan05", datetime="2024-01-05T00:00:00Z"),
        make_item("jan10", datetime="2024-01-10T00:00:00Z"),
        make_item("span03-08", datetime=None, start="2024-01-03T00:00:00Z", end="2024-01-08T00:00:00Z"),
    ])
    return catalog


def day(n: int) -> datetime:
    return datetime(2024, 1, n, tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ((day(4), day(6)), ["jan05", "span03-08"]),
        ((day(9), None), ["jan10"]),
        ((None, day(2)), ["jan01"]),
        ((day(8), day(8)), ["span03-08"]),
        ((day(1), day(1)), ["jan01"]),
        ((day(11), None), []),
        ((None, None), ["jan10", "jan05", "span03-08", "jan01"]),
    ],
    ids=["range", "open-end", "open-start", "touches-interval-end", "instant", "after-all", "fully-open"],
)
def test_datetime_filter_matches_items_whose_interval_intersects(timeline, interval, expected):
    page = timeline.search(SearchQuery(datetime=interval))
    assert ids(page) == expected
    assert page.number_matched == len(expected)


def test_results_are_newest_first_by_datetime_or_start(timeline):
    assert ids(timeline.search(SearchQuery())) == ["jan10", "jan05", "span03-08", "jan01"]


def test_ties_in_time_are_ordered_by_collection_then_id(catalog, make_item):
    catalog.upsert_collection({"id": "a-first", "type": "Collection", "dc:access": "public"})
    catalog.upsert_items([make_item("z"), make_item("b"), make_item("y", collection="a-first")])
    page = catalog.search(SearchQuery())
    assert [(i["collection"], i["id"]) for i in page.items] == [
        ("a-first", "y"), ("lro-nac", "b"), ("lro-nac", "z")
    ]


def test_backwards_interval_is_refused(catalog):
    with pytest.raises(InvalidRequest, match="after it ends"):
        catalog.search(SearchQuery(datetime=(day(5), day(1))))


def test_ids_and_collections_filter(catalog, make_item):
    catalog.upsert_collection({"id": "other", "type": "Collection", "dc:access": "public"})
    catalog.upsert_items([make_item("a"), make_item("b"), make_item("a", collection="other")])
    assert ids(catalog.search(SearchQuery(ids=["a", "missing"], collections=["other"]))) == ["a"]
    assert catalog.search(SearchQuery(ids=["a"])).number_matched == 2
    assert ids(catalog.search(SearchQuery(collections=["lro-nac"]))) == ["a", "b"]
    assert catalog.search(SearchQuery(collections=["ghost"])).items == []


def test_long_id_lists_work(catalog, make_item):
    catalog.upsert_items([make_item(f"i{n}") for n in range(300)])
    wanted = [f"i{n}" for n in range(0, 300, 2)] + ["nope"] * 200
    assert catalog.search(SearchQuery(ids=wanted, limit=MAX_LIMIT)).number_matched == 150


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_limit_out_of_range_is_refused(catalog, limit):
    with pytest.raises(InvalidRequest, match="limit"):
        catalog.search(SearchQuery(limit=limit))


def walk(catalog, **query):
    """All pages of a search, following next tokens."""
    pages, token = [], None
    while True:
        page = catalog.search(SearchQuery(token=token, **query))
        pages.append(page)
        token = page.next_token
        if token is None:
            return pages


@pytest.fixture
def many(catalog, make_item, rect):
    rng = random.Random(7)
    items = [
        make_item(f"p{n:03}", rect(lon, 0, lon + 1, 1),
                  datetime=iso(T0 + timedelta(hours=rng.randrange(60))))  # many ties in time
        for n in range(250)
        for lon in [rng.uniform(-179, 178)]
    ]
    catalog.upsert_items(items)
    return catalog


def sort_key(item):
    return (-datetime.fromisoformat(item["properties"]["datetime"]).timestamp(), item["collection"], item["id"])


def test_paging_with_limit_7_returns_each_item_once_in_order(many):
    pages = walk(many, limit=7)
    seen = [i for p in pages for i in p.items]
    assert len(pages) == 36 and all(len(p.items) == 7 for p in pages[:-1])
    assert len(seen) == 250 and len({i["id"] for i in seen}) == 250
    assert seen == sorted(seen, key=sort_key)
    assert {p.number_matched for p in pages} == {250}


def test_paging_a_bbox_search_returns_each_match_once(many):
    everything = many.search(SearchQuery(bbox=(-90, 0, 90, 1), limit=MAX_LIMIT))
    paged = [i["id"] for p in walk(many, bbox=(-90, 0, 90, 1), limit=7) for i in p.items]
    assert paged == ids(everything) and len(paged) == everything.number_matched > 50


def test_paging_stays_correct_when_items_are_inserted_mid_walk(many, make_item):
    first = many.search(SearchQuery(limit=7))
    # newer items (before the cursor) and items among the remaining ones
    many.upsert_items([make_item("new-newest", datetime="2030-01-01T00:00:00Z"),
                       make_item("new-oldest", datetime="2000-01-01T00:00:00Z")])
    token, seen = first.next_token, list(ids(first))
    while token:
        page = many.search(SearchQuery(limit=7, token=token))
        seen += ids(page)
        token = page.next_token
    assert "new-newest" not in seen and seen[-1] == "new-oldest"
    assert len(seen) == 251 and len(set(seen)) == 251


def test_prev_token_walks_back_to_the_first_page(many):
    first = many.search(SearchQuery(limit=7))
    assert first.prev_token is None
    second = many.search(SearchQuery(limit=7, token=first.next_token))
    third = many.search(SearchQuery(limit=7, token=second.next_token))
    back = many.search(SearchQuery(limit=7, token=third.prev_token))
    assert ids(back) == ids(second)
    again = many.search(SearchQuery(limit=7, token=back.prev_token))
    assert ids(again) == ids(first) and again.prev_token is None
    assert ids(many.search(SearchQuery(limit=7, token=again.next_token))) == ids(second)


@pytest.mark.parametrize("token", ["garbage!", "e30", "eyJrIjogWzEsIDJdfQ", "", "bnVsbA"])
def test_malformed_token_is_an_invalid_request(catalog, token):
    if token == "":
        assert catalog.search(SearchQuery(token=token)).items == []  # empty means first page
        return
    with pytest.raises(InvalidRequest, match="invalid paging token"):
        catalog.search(SearchQuery(token=token))


def test_number_matched_counts_all_matches_not_the_page(many):
    page = many.search(SearchQuery(limit=3, datetime=(T0, T0 + timedelta(hours=9))))
    expected = sum(1 for p in walk(many, limit=50, datetime=(T0, T0 + timedelta(hours=9)))
                   for _ in p.items)
    assert len(page.items) == 3 and page.number_matched == expected > 3
