"""Property: for random partners and random access metadata on collections, items and
assets (embargoes around now), every endpoint answers each viewer exactly what a plain
Python statement of the rules allows, and the counts match.

Viewers authenticate with real keys over real HTTP. Covered: collections, items, item by
id, search GET/POST (bbox, datetime, ids, CQL2 filter with sortby and keyset paging, a
filter on the access fields themselves), queryables, collection search, asset download
and subset (found vs 404). The oracle below is written out
independently of `datacenter.access` on purpose: it is the issue's rules, read literally.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from catalog import open_catalog
from catalog.base import Catalog
from datacenter.access import SYSTEM
from datacenter.storage import Store
from tests.api.conftest import serving

PARTNERS = ("ESA", "CNSA", "ROSCOSMOS")
OWNERS = (*PARTNERS, "ISRO")  # ISRO owns records but holds no key
VIEWERS = ("anonymous", *PARTNERS, "admin")
BOXES = [(0, 0, 10, 10), (20, 20, 30, 30), (-40, -60, -30, -50), (5, 5, 25, 25)]
QUERY_BOX = (8, 8, 22, 22)  # meets boxes 0, 1 and 3, not 2
INTERVAL = ("2021-01-01T00:00:00Z", "2022-12-31T23:59:59Z")
PAYLOAD = b"lunar bytes"


# --- the oracle: the rules of issue 5, literally --------------------------------------
def sees(viewer: str, fields: dict[str, Any], now: datetime) -> bool:
    if viewer == "admin":
        return True
    owner, access = fields.get("dc:owner"), fields.get("dc:access")
    if access not in ("public", "partners", "restricted", "owner"):
        access = "owner"  # missing (or unknown) access metadata is owner-only, never public
    if viewer != "anonymous" and viewer == owner:
        return True
    embargo = fields.get("dc:embargo_until")
    if embargo and now < datetime.fromisoformat(embargo.replace("Z", "+00:00")):
        return False
    if access == "public":
        return True
    if viewer == "anonymous":
        return False
    if access == "partners":
        return True
    if access == "restricted":
        return viewer in (fields.get("dc:releasable_to") or [])
    return False


def dc(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k.startswith("dc:")}


# --- random records -------------------------------------------------------------------
NOW = datetime.now(UTC)


@st.composite
def access_fields(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {}  # no access metadata at all
    out: dict[str, Any] = {"dc:access": draw(st.sampled_from(["public", "partners", "restricted", "owner"]))}
    owner = draw(st.sampled_from([*OWNERS, None]))
    if owner:
        out["dc:owner"] = owner
    released = draw(st.lists(st.sampled_from(OWNERS), unique=True, max_size=3))
    if released:
        out["dc:releasable_to"] = released
    if draw(st.booleans()):
        # whole hours, at least one away from now, so the test's clock cannot flip a decision
        hours = draw(st.integers(1, 72)) * draw(st.sampled_from([-1, 1]))
        out["dc:embargo_until"] = (NOW + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    if draw(st.booleans()):
        out["dc:export_control"] = "EAR99"
    return out


@st.composite
def catalogs(draw: st.DrawFn) -> list[dict[str, Any]]:
    collections = []
    n_items = 0
    for c in range(draw(st.integers(1, 3))):
        items = []
        for _ in range(draw(st.integers(0, 4))):
            n_items += 1
            assets = {"data": draw(access_fields()) if draw(st.booleans()) else {},
                      "browse": draw(access_fields()) if draw(st.booleans()) else {}}
            items.append({"id": f"item{n_items}", "rank": n_items, "fields": draw(access_fields()),
                          "box": draw(st.sampled_from(BOXES)),
                          "year": draw(st.integers(2020, 2023)), "assets": assets})
        collections.append({"id": f"coll{c}", "fields": draw(access_fields()), "items": items})
    return collections


# --- the server -------------------------------------------------------------------------
@dataclass
class World:
    catalog: Catalog
    store: Store
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module", params=["pgstac", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("access-property")
    url = (request.getfixturevalue("pg_cluster").new_database() if request.param == "pgstac"
           else f"sqlite:///{root / 'catalog.sqlite'}")
    catalog = open_catalog(url)
    store = Store(str(root / "store"))
    partners = catalog.partner_store()
    keys = {p: partners.add_partner(p).secret_text for p in PARTNERS}
    keys["admin"] = partners.create_admin_key().secret_text
    with serving(create_app(catalog, store)) as url:
        yield World(catalog, store, url, keys)
    catalog.close()


def load(world: World, collections: list[dict[str, Any]]) -> None:
    for old in world.catalog.list_collections(viewer=SYSTEM):
        world.catalog.delete_collection(old["id"])
    for coll in collections:
        world.catalog.upsert_collection({
            "type": "Collection", "stac_version": "1.1.0", "id": coll["id"], "description": "x",
            "title": f"Moon {coll['id']}",
            "license": "other", "links": [], **coll["fields"],
            # as ingest merges them: every item's instrument, hidden ones included, and a
            # summary of the collection's own that is not an item property
            "summaries": {"instruments": [f"inst-{it['id']}" for it in coll["items"]], "dc:note": ["kept"]},
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
        })
        items = []
        for it in coll["items"]:
            w, s, e, n = it["box"]
            assets = {}
            for key, fields in it["assets"].items():
                href = f"{coll['id']}/{it['id']}/{key}.bin"
                world.store.put_bytes(PAYLOAD, href)
                assets[key] = {"href": href, "type": "application/octet-stream", **fields}
            items.append({
                "type": "Feature", "stac_version": "1.1.0", "id": it["id"], "collection": coll["id"],
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                "bbox": [w, s, e, n], "links": [], "assets": assets,
                # `rank` to filter and sort on; `only_<id>` so queryables would betray a hidden item
                "properties": {"datetime": f"{it['year']}-06-01T00:00:00Z", "rank": it["rank"],
                               f"only_{it['id']}": 1, "instruments": [f"inst-{it['id']}"], **it["fields"]},
            })
        world.catalog.upsert_items(items)


def expected(collections: list[dict[str, Any]], viewer: str, now: datetime) -> tuple[set[str], dict[str, set[str]], dict[str, dict[str, Any]]]:
    """(visible collection ids, visible item id -> visible asset keys, item id -> item record)."""
    colls, items, records = set(), {}, {}
    for coll in collections:
        for it in coll["items"]:
            records[it["id"]] = {**it, "collection": coll["id"]}
        if not sees(viewer, coll["fields"], now):
            continue
        colls.add(coll["id"])
        for it in coll["items"]:
            if sees(viewer, it["fields"], now):
                items[it["id"]] = {
                    key for key, fields in it["assets"].items()
                    if not fields or sees(viewer, {**it["fields"], **fields}, now)
                }
    return colls, items, records


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def ids_of(body: dict[str, Any]) -> list[str]:
    return [f["id"] for f in body["features"]]


def check_viewer(client: httpx.Client, collections: list[dict[str, Any]], viewer: str) -> None:
    colls, items, records = expected(collections, viewer, datetime.now(UTC))
    everything = {c["id"] for c in collections}

    listed = client.get("collections").json()
    assert {c["id"] for c in listed["collections"]} == colls
    assert listed["numberMatched"] == len(colls)
    for presented in listed["collections"]:  # summaries name only what the viewer may see
        seen = sorted(f"inst-{i}" for i in items if records[i]["collection"] == presented["id"])
        if viewer == "admin":
            seen = sorted(f"inst-{it['id']}" for c in collections if c["id"] == presented["id"] for it in c["items"])
        assert sorted(presented["summaries"].get("instruments", [])) == seen, (viewer, presented["id"])
        assert presented["summaries"]["dc:note"] == ["kept"]
        assert client.get(f"collections/{presented['id']}").json()["summaries"] == presented["summaries"]
    for cid in [*everything, "no-such-collection"]:
        got = client.get(f"collections/{cid}")
        assert got.status_code == (200 if cid in colls else 404), (viewer, cid)
        if got.status_code == 404:
            assert got.json()["code"] == "CollectionNotFound"
            assert set(got.json()) == {"code", "description"}
            # the message echoes the id asked for, and names only collections the viewer sees
            assert not any(h in got.json()["description"] for h in everything - colls - {cid})
        page = client.get(f"collections/{cid}/items", params={"limit": 100})
        assert page.status_code == (200 if cid in colls else 404)
        if cid in colls:
            want = {i for i in items if records[i]["collection"] == cid}
            assert set(ids_of(page.json())) == want and page.json()["numberMatched"] == len(want)

    full = client.get("search", params={"limit": 100}).json()
    assert set(ids_of(full)) == set(items) and full["numberMatched"] == len(items)
    small = client.get("search", params={"limit": 2}).json()
    assert len(small["features"]) == min(2, len(items)) and small["numberMatched"] == len(items)
    for feature in full["features"]:
        assert set(feature["assets"]) == items[feature["id"]]

    in_box = {i for i in items if overlaps(records[i]["box"], QUERY_BOX)}
    boxed = client.get("search", params={"bbox": ",".join(map(str, QUERY_BOX)), "limit": 100}).json()
    assert set(ids_of(boxed)) == in_box and boxed["numberMatched"] == len(in_box)
    in_time = {i for i in items if 2021 <= records[i]["year"] <= 2022}
    timed = client.get("search", params={"datetime": "/".join(INTERVAL), "limit": 100}).json()
    assert set(ids_of(timed)) == in_time and timed["numberMatched"] == len(in_time)
    all_ids = ",".join(records)
    if all_ids:
        by_id = client.get("search", params={"ids": all_ids, "collections": ",".join(everything), "limit": 100}).json()
        assert set(ids_of(by_id)) == set(items) and by_id["numberMatched"] == len(items)
    posted = client.post("search", json={"collections": sorted(everything), "limit": 100,
                                         "bbox": list(QUERY_BOX)}).json()
    assert set(ids_of(posted)) == in_box and posted["numberMatched"] == len(in_box)

    check_extensions(client, collections, viewer, colls, items, records)

    for iid, rec in records.items():
        subset = client.get(f"collections/{rec['collection']}/items/{iid}/subset", params={"format": "netcdf"})
        # a visible item is found (its bytes are no raster: 400), a hidden one is not (404)
        assert (subset.status_code != 404) == (iid in items), (viewer, iid, subset.text)
        got = client.get(f"collections/{rec['collection']}/items/{iid}")
        assert got.status_code == (200 if iid in items else 404), (viewer, iid)
        if iid in items:
            assert set(got.json()["assets"]) == items[iid]
        else:
            assert got.json()["code"] in ("ItemNotFound", "CollectionNotFound")
        for key in rec["assets"]:
            download = client.get(f"collections/{rec['collection']}/items/{iid}/assets/{key}")
            allowed = iid in items and key in items[iid]
            assert download.status_code == (200 if allowed else 404), (viewer, iid, key)
            assert (download.content == PAYLOAD) if allowed else download.json()["code"].endswith("NotFound")


def check_extensions(
    client: httpx.Client, collections: list[dict[str, Any]], viewer: str, colls: set[str],
    items: dict[str, set[str]], records: dict[str, dict[str, Any]],
) -> None:
    """Queryables, collection search and CQL2 filter + sort see only what `viewer` may."""
    own = {name for name in client.get("queryables").json()["properties"] if name.startswith("only_")}
    assert own == {f"only_{i}" for i in items}, viewer
    for coll in collections:
        got = client.get(f"collections/{coll['id']}/queryables")
        assert got.status_code == (200 if coll["id"] in colls else 404), (viewer, coll["id"])
        if coll["id"] in colls:
            names = {n for n in got.json()["properties"] if n.startswith("only_")}
            assert names == {f"only_{i}" for i in items if records[i]["collection"] == coll["id"]}

    found, params = [], {"q": "Moon", "bbox": "-180,-90,180,90", "limit": 1}
    while True:
        page = client.get("collections", params=params).json()
        assert page["numberMatched"] == len(colls)
        found += [c["id"] for c in page["collections"]]
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        if nxt is None:
            break
        params = dict(httpx.URL(nxt).params)
    assert sorted(found) == sorted(colls)

    # CQL2: by a plain property, and by the access fields themselves (which must not widen)
    want = sorted((i for i in items if records[i]["rank"] >= 2), key=lambda i: -records[i]["rank"])
    seen, params = [], {"filter": "rank >= 2", "sortby": "-rank", "limit": 2}
    if not items:  # no item it may see carries `rank`: a 400 naming it, as for a typo
        refused = client.get("search", params=params)
        assert refused.status_code == 400 and "'rank'" in refused.json()["description"], viewer
        params = {}
    while params:
        page = client.get("search", params=params).json()
        assert page.get("numberMatched") == len(want), (viewer, page)
        seen += ids_of(page)
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        params = dict(httpx.URL(nxt).params) if nxt else {}
    assert seen == want, viewer
    owner_only = {"op": "=", "args": [{"property": "dc:access"}, "owner"]}
    posted = client.post("search", json={"filter": owner_only, "filter-lang": "cql2-json", "limit": 100}).json()
    assert set(ids_of(posted)) == {i for i in items if records[i]["fields"].get("dc:access") == "owner"}
    assert posted["numberMatched"] == len(posted["features"])


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(collections=catalogs())
def test_every_endpoint_answers_each_partner_exactly_what_the_rules_allow(
    world: World, collections: list[dict[str, Any]]
) -> None:
    load(world, collections)
    for viewer in VIEWERS:
        headers = {} if viewer == "anonymous" else {"Authorization": f"Bearer {world.keys[viewer]}"}
        with httpx.Client(base_url=world.url, headers=headers, timeout=10) as client:
            check_viewer(client, collections, viewer)
