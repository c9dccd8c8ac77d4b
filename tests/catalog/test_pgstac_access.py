"""The access rule inside the pgstac backend: every read shows a viewer exactly what
`datacenter.access.can_see` allows (collection visible AND item visible), with full pages
and exact counts. (The same rule on SQLite is tested with that backend.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from catalog.base import SearchQuery
from catalog.pgstac import PgstacCatalog
from datacenter.access import ANONYMOUS, SYSTEM, Viewer, can_see_fields
from datacenter.errors import CollectionNotFound, ItemNotFound
from tests.catalog.conftest import make_item_dict

FUTURE = (datetime.now(UTC) + timedelta(days=3650)).isoformat().replace("+00:00", "Z")
PAST = "2001-01-01T00:00:00Z"

COLLECTIONS = [
    {"id": "open", "type": "Collection", "dc:owner": "CNSA", "dc:access": "public"},
    {"id": "esa-only", "type": "Collection", "dc:owner": "CNSA", "dc:access": "restricted",
     "dc:releasable_to": ["ESA"]},
    {"id": "roscosmos-own", "type": "Collection", "dc:owner": "ROSCOSMOS", "dc:access": "owner"},
    {"id": "unmarked", "type": "Collection"},  # no access metadata: admins only
]


def _item(iid: str, collection: str = "open", **access: object) -> dict:
    return make_item_dict(iid, collection=collection, **{"dc:access": None, **access})


ITEMS = [
    _item("public", **{"dc:owner": "CNSA", "dc:access": "public"}),
    _item("partners", **{"dc:owner": "CNSA", "dc:access": "partners"}),
    _item("esa", **{"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA", "JAXA"]}),
    _item("cnsa-own", **{"dc:owner": "CNSA", "dc:access": "owner"}),
    _item("embargoed", **{"dc:owner": "CNSA", "dc:access": "public", "dc:embargo_until": FUTURE}),
    _item("embargo-over", **{"dc:owner": "CNSA", "dc:access": "public", "dc:embargo_until": PAST}),
    _item("no-marking"),
    _item("esa-coll-public", "esa-only", **{"dc:owner": "CNSA", "dc:access": "public"}),
    _item("ros-public", "roscosmos-own", **{"dc:owner": "ROSCOSMOS", "dc:access": "public"}),
    _item("unmarked-public", "unmarked", **{"dc:access": "public"}),
]

VIEWERS = {
    "anonymous": ANONYMOUS,
    "esa": Viewer(partner_id="ESA"),
    "nasa": Viewer(partner_id="NASA"),
    "cnsa": Viewer(partner_id="CNSA"),
    "roscosmos": Viewer(partner_id="ROSCOSMOS"),
    "admin": SYSTEM,
}


def expected(viewer: Viewer) -> set[str]:
    colls = {c["id"]: c for c in COLLECTIONS}
    return {
        i["id"] for i in ITEMS
        if can_see_fields(viewer, colls[i["collection"]]) and can_see_fields(viewer, i["properties"])
    }


@pytest.fixture
def guarded(pgstac_dsn):
    with PgstacCatalog(pgstac_dsn) as cat:
        for coll in COLLECTIONS:
            cat.upsert_collection(coll)
        cat.upsert_items(ITEMS)
        yield cat


@pytest.mark.parametrize("who", sorted(VIEWERS))
def test_search_shows_exactly_what_the_rule_allows(guarded, who):
    viewer = VIEWERS[who]
    page = guarded.search(SearchQuery(limit=100, viewer=viewer))
    assert {i["id"] for i in page.items} == expected(viewer)
    assert page.number_matched == len(expected(viewer))


def test_the_rule_as_expected_by_partner():
    # the expectations above, spelled out once, so a broken `can_see` cannot hide a leak
    assert expected(ANONYMOUS) == {"public", "embargo-over"}
    assert expected(Viewer(partner_id="NASA")) == {"public", "embargo-over", "partners"}
    assert expected(Viewer(partner_id="ESA")) == {"public", "embargo-over", "partners", "esa", "esa-coll-public"}
    assert "ros-public" in expected(Viewer(partner_id="ROSCOSMOS"))
    assert {"cnsa-own", "embargoed", "esa-coll-public"} <= expected(Viewer(partner_id="CNSA"))


@pytest.mark.parametrize("who", sorted(VIEWERS))
def test_get_item_and_collections_hide_what_the_rule_hides(guarded, who):
    viewer = VIEWERS[who]
    visible_colls = {c["id"] for c in COLLECTIONS if can_see_fields(viewer, c)}
    assert {c["id"] for c in guarded.list_collections(viewer=viewer)} == visible_colls
    for item in ITEMS:
        if item["id"] in expected(viewer):
            assert guarded.get_item(item["collection"], item["id"], viewer=viewer)["id"] == item["id"]
        elif item["collection"] in visible_colls:
            with pytest.raises(ItemNotFound, match="is not in collection"):
                guarded.get_item(item["collection"], item["id"], viewer=viewer)
        else:
            with pytest.raises(CollectionNotFound) as err:
                guarded.get_item(item["collection"], item["id"], viewer=viewer)
            assert item["collection"] not in str(err.value).split("known collections:")[-1]


def test_pages_stay_full_and_paging_never_reveals_hidden_items(guarded):
    nasa = Viewer(partner_id="NASA")
    seen, token = [], None
    while True:
        page = guarded.search(SearchQuery(limit=1, token=token, viewer=nasa))
        seen += [i["id"] for i in page.items]
        assert len(page.items) == 1
        token = page.next_token
        if not token:
            break
    assert set(seen) == expected(nasa) and len(seen) == len(expected(nasa))


def test_a_users_filter_cannot_widen_what_they_see(guarded):
    wants_secrets = {"op": "or", "args": [
        {"op": "=", "args": [{"property": "dc:access"}, "owner"]},
        {"op": "=", "args": [{"property": "dc:access"}, "restricted"]},
    ]}
    page = guarded.search(SearchQuery(limit=100, filter=wants_secrets, viewer=Viewer(partner_id="NASA")))
    assert page.items == [] and page.number_matched == 0
    esa = guarded.search(SearchQuery(limit=100, filter=wants_secrets, viewer=Viewer(partner_id="ESA")))
    assert {i["id"] for i in esa.items} == {"esa"}


def test_asking_for_a_hidden_collection_finds_nothing(guarded):
    page = guarded.search(SearchQuery(collections=["roscosmos-own"], viewer=Viewer(partner_id="ESA")))
    assert page.items == [] and page.number_matched == 0
    with pytest.raises(CollectionNotFound):
        guarded.collection_extent("roscosmos-own", viewer=Viewer(partner_id="ESA"))


def test_extent_counts_only_visible_items(guarded, rect):
    secret = make_item_dict("far-secret", rect(100, 50, 101, 51), collection="open",
                            **{"dc:access": "owner", "dc:owner": "CNSA"})
    guarded.upsert_items([secret])
    anon = guarded.collection_extent("open", viewer=ANONYMOUS)["spatial"]["bbox"][0]
    cnsa = guarded.collection_extent("open", viewer=Viewer(partner_id="CNSA"))["spatial"]["bbox"][0]
    assert anon[2] == 1.0 and cnsa[2] == 101.0
