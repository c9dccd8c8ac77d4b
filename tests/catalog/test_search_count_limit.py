"""`numberMatched` is exact up to the catalog's count limit and left out above it."""

from __future__ import annotations

import pytest

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.errors import ConfigError
from datacenter.settings import get_settings
from tests.catalog.conftest import COLLECTION, make_item_dict, rect

TRIANGLE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [0, 10], [0, 0]]]}


@pytest.fixture
def capped(catalog_url: str):
    with open_catalog(catalog_url, count_limit=5) as cat:
        cat.upsert_collection({"id": COLLECTION, "type": "Collection", "dc:access": "public"})
        # 8 items near the origin (all inside the triangle's bounds, 6 inside the triangle), 3 far away
        near = [make_item_dict(f"n{k}", rect(k * 0.5, 0, k * 0.5 + 0.2, 0.2)) for k in range(6)]
        near += [make_item_dict(f"x{k}", rect(8, 8, 9, 9)) for k in range(2)]  # inside the bounds only
        far = [make_item_dict(f"f{k}", rect(100, 40, 101, 41)) for k in range(3)]
        cat.upsert_items(near + far)
        yield cat


def walk(cat, **kw) -> list[str]:
    seen, token = [], None
    while True:
        page = cat.search(SearchQuery(limit=2, token=token, **kw))
        seen += [i["id"] for i in page.items]
        if not (token := page.next_token):
            return seen


def test_a_search_matching_more_than_the_limit_has_no_number_matched_but_pages_through_all(capped):
    page = capped.search(SearchQuery(limit=2))
    assert page.number_matched is None and len(page.items) == 2
    assert len(walk(capped)) == 11


def test_a_search_matching_up_to_the_limit_counts_exactly(capped):
    assert capped.search(SearchQuery(bbox=(90, 30, 110, 50), limit=1)).number_matched == 3
    # a non-rectangular query: candidates are tested exactly before they count
    assert capped.search(SearchQuery(intersects=TRIANGLE, limit=1)).number_matched is None
    near = capped.search(SearchQuery(intersects=TRIANGLE, ids=["n0", "n1", "x0", "x1"], limit=1))
    assert near.number_matched == 2


def test_count_limit_zero_never_counts(catalog_url: str):
    with open_catalog(catalog_url, count_limit=0) as cat:
        cat.upsert_collection({"id": COLLECTION, "type": "Collection", "dc:access": "public"})
        cat.upsert_items([make_item_dict("a")])
        page = cat.search(SearchQuery())
        assert page.number_matched is None and [i["id"] for i in page.items] == ["a"]


def test_negative_count_limit_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("DATACENTER_SEARCH_COUNT_LIMIT", "-1")
    with pytest.raises(ConfigError, match="DATACENTER_SEARCH_COUNT_LIMIT"):
        get_settings()
    with pytest.raises(ConfigError, match="count limit -1"):
        open_catalog("sqlite:///unused.sqlite", count_limit=-1)


def test_pages_under_a_capped_count_keep_the_order_forwards_and_backwards(catalog_url: str):
    """The counted subset also bounds each page (pgstac); a bound taken from a partial count
    must never cut a page short or skip items, with ties in time across collections."""
    with open_catalog(catalog_url, count_limit=4) as cat:
        for cid in ("a-coll", "b-coll"):
            cat.upsert_collection({"id": cid, "type": "Collection", "dc:access": "public"})
        cat.upsert_items([
            make_item_dict(f"i{n:02}", collection=("a-coll", "b-coll")[n % 2],
                           datetime=f"2024-01-{1 + n % 5:02}T00:00:00Z", gsd=n)
            for n in range(30)
        ])
        query = {"filter": {"op": ">", "args": [{"property": "gsd"}, 3]}}
        everything = [i["id"] for i in cat.search(SearchQuery(limit=100, **query)).items]
        assert len(everything) == 26
        pages, token = [], None
        while True:
            page = cat.search(SearchQuery(limit=3, token=token, **query))
            pages.append(page)
            if not (token := page.next_token):
                break
        assert [i["id"] for p in pages for i in p.items] == everything
        back, token = [], pages[-1].prev_token
        while token:
            page = cat.search(SearchQuery(limit=3, token=token, **query))
            back.append([i["id"] for i in page.items])
            token = page.prev_token
        assert back == [[i["id"] for i in p.items] for p in reversed(pages[:-1])]


def test_capped_counts_of_time_spans_and_collections_match_a_walk_for_every_viewer(catalog_url: str):
    from datetime import UTC, datetime

    from datacenter.access import ANONYMOUS, SYSTEM, Viewer

    kinds = [{"dc:access": "public"}, {"dc:access": "partners"}, {"dc:access": "owner", "dc:owner": "ESA"},
             {"dc:access": "restricted", "dc:releasable_to": ["ESA"]},
             {"dc:access": "public", "dc:embargo_until": "2099-01-01T00:00:00Z"}]
    with open_catalog(catalog_url, count_limit=6) as cat:
        cat.upsert_collection({"id": COLLECTION, "type": "Collection", "dc:access": "public"})
        # 60 items a month apart over 5 years; one whose datetime lies outside its own span
        items = [make_item_dict(f"m{k:02d}", datetime=f"{2015 + k // 12}-{1 + k % 12:02d}-15T00:00:00Z",
                                **kinds[k % len(kinds)]) for k in range(60)]
        items.append(make_item_dict("odd", datetime="2017-06-01T00:00:00Z", start="2010-01-01T00:00:00Z",
                                    end="2010-02-01T00:00:00Z"))
        cat.upsert_items(items)
        spans = [(2015, 2020), (2016, 2018), (2017, 2017), (2010, 2010), (2016, None), (None, 2016)]
        for viewer in (SYSTEM, ANONYMOUS, Viewer(partner_id="ESA"), Viewer(partner_id="JAXA")):
            for first, last in spans:
                interval = (None if first is None else datetime(first, 1, 1, tzinfo=UTC),
                            None if last is None else datetime(last, 12, 31, tzinfo=UTC))
                seen = len(walk(cat, datetime=interval, viewer=viewer))
                counted = cat.search(SearchQuery(datetime=interval, viewer=viewer)).number_matched
                assert counted == (seen if seen <= 6 else None), (viewer, first, last)
            seen = len(walk(cat, collections=[COLLECTION], viewer=viewer))
            counted = cat.search(SearchQuery(collections=[COLLECTION], viewer=viewer)).number_matched
            assert counted == (seen if seen <= 6 else None), viewer
