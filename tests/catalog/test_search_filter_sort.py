"""The catalog contract's CQL2 JSON filter, sortby and q: what backends must do with them
(the API hands them CQL2 JSON only)."""

from __future__ import annotations

import pytest

from catalog.base import Catalog, SearchQuery
from datacenter.access import SYSTEM
from datacenter.errors import InvalidRequest
from tests.catalog.conftest import make_item_dict, rect

ANTIMERIDIAN = {"type": "MultiPolygon", "coordinates": [
    [[[170, -10], [180, -10], [180, 10], [170, 10], [170, -10]]],
    [[[-180, -10], [-170, -10], [-170, 10], [-180, 10], [-180, -10]]]]}


def _walk(catalog: Catalog, **kw) -> list[str]:
    ids, token = [], None
    while True:
        page = catalog.search(SearchQuery(limit=2, token=token, viewer=SYSTEM, **kw))
        ids += [i["id"] for i in page.items]
        if not (token := page.next_token):
            return ids


@pytest.fixture
def stocked(catalog: Catalog) -> Catalog:
    catalog.upsert_items([
        make_item_dict("a", rect(0, 0, 10, 10), gsd=5, platform="lro", title="Shackleton rim"),
        make_item_dict("b", ANTIMERIDIAN, gsd=None, platform="kaguya", keywords=["mosaic"]),
        make_item_dict("c", rect(-180, -90, 180, -80), platform="lro-2", title="South pole"),
        make_item_dict("d", rect(20, 20, 30, 30), gsd=5, platform="change-2"),
        make_item_dict("e", rect(40, 0, 50, 5), gsd=1, platform="lro"),
    ])
    return catalog


def test_a_line_shaped_bbox_finds_antimeridian_footprints(stocked: Catalog) -> None:
    assert set(_walk(stocked, bbox=(0, 0, -1, 0))) == {"a", "b", "e"}


def test_sort_pages_through_missing_values_without_skipping(stocked: Catalog) -> None:
    assert _walk(stocked, sortby=(("gsd", "asc"),)) == ["b", "c", "e", "a", "d"]
    assert _walk(stocked, sortby=(("gsd", "desc"), ("platform", "desc"))) == ["a", "d", "e", "c", "b"]


def test_filter_uses_sql_logic_for_missing_properties(stocked: Catalog) -> None:
    missing_is_unknown = {"op": "not", "args": [{"op": "=", "args": [{"property": "gsd"}, 5]}]}
    assert set(_walk(stocked, filter=missing_is_unknown)) == {"e"}
    like = {"op": "like", "args": [{"property": "platform"}, "lro_%"]}
    assert _walk(stocked, filter=like) == ["c"]


def test_free_text_matches_title_description_keywords(stocked: Catalog) -> None:
    assert set(_walk(stocked, q=("SHACKLETON", "mosaic"))) == {"a", "b"}


def test_unknown_operator_is_refused_by_name(stocked: Catalog) -> None:
    with pytest.raises(InvalidRequest, match="'near'"):
        stocked.search(SearchQuery(filter={"op": "near", "args": [1, 2]}, viewer=SYSTEM))


def test_token_from_another_sort_is_refused(stocked: Catalog) -> None:
    token = stocked.search(SearchQuery(limit=1, sortby=(("gsd", "asc"),), viewer=SYSTEM)).next_token
    with pytest.raises(InvalidRequest, match="same sortby"):
        stocked.search(SearchQuery(limit=1, token=token, viewer=SYSTEM))


def test_prev_tokens_walk_back_through_missing_values(stocked: Catalog) -> None:
    sortby = (("gsd", "desc"), ("platform", "asc"))
    pages, token = [], None
    while True:
        page = stocked.search(SearchQuery(limit=2, token=token, sortby=sortby, viewer=SYSTEM))
        pages.append(page)
        if not (token := page.next_token):
            break
    assert [i["id"] for p in pages for i in p.items] == ["d", "a", "e", "b", "c"]
    back = stocked.search(SearchQuery(limit=2, token=pages[-1].prev_token, sortby=sortby, viewer=SYSTEM))
    assert [i["id"] for i in back.items] == ["e", "b"]
    first = stocked.search(SearchQuery(limit=2, token=back.prev_token, sortby=sortby, viewer=SYSTEM))
    assert [i["id"] for i in first.items] == ["d", "a"] and first.prev_token is None


def test_free_text_has_no_wildcards_and_matches_whole_words_in_order(stocked: Catalog) -> None:
    with pytest.raises(InvalidRequest, match="no letters or digits"):
        _walk(stocked, q=("%",))
    assert _walk(stocked, q=("sout%",)) == []  # "sout": not a prefix search
    assert _walk(stocked, q=("south pole",)) == ["c"]
    assert _walk(stocked, q=("south_pole",)) == ["c"]  # punctuation separates words
    assert _walk(stocked, q=("pole south",)) == []  # adjacent, in this order


def test_free_text_advanced_syntax(stocked: Catalog) -> None:
    assert set(_walk(stocked, q="shackleton OR mosaic")) == {"a", "b"}
    assert set(_walk(stocked, q="(shackleton, mosaic) AND rim")) == {"a"}
    assert set(_walk(stocked, q='"south pole" -mosaic')) == {"c"}
    assert set(_walk(stocked, q="+south +pole")) == {"c"}
    assert set(_walk(stocked, q="-shackleton")) == {"b", "c", "d", "e"}
    assert set(_walk(stocked, q="rim OR -(pole, mosaic, rim)")) == {"a", "d", "e"}


def test_free_text_follows_updates_and_deletes(stocked: Catalog) -> None:
    stocked.upsert_items([make_item_dict("a", rect(0, 0, 10, 10), title="Malapert massif")])
    assert _walk(stocked, q="shackleton") == []
    assert _walk(stocked, q="malapert") == ["a"]
    stocked.delete_item("lro-nac", "a")
    assert _walk(stocked, q="malapert") == []


@pytest.mark.parametrize(("q", "problem"), [
    ('"south pole', "never closed"), ("(south OR pole", "never closed"),
    ("south) pole", "without a matching"), ("south AND", "AND without a term"),
    ("south,,pole", "nothing to look for after ','"), ("()", "empty group"),
])
def test_malformed_free_text_is_refused_naming_the_problem(stocked: Catalog, q: str, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        stocked.search(SearchQuery(q=q, viewer=SYSTEM))
