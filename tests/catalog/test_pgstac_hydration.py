"""Items stored dehydrated by pgstac come back whole: the pgstac backend hydrates them in
Python (`catalog.pgstac_hydrate`) exactly as pgstac's own SQL ``content_hydrate`` does,
whether they were written by our upserts or by pypgstac's bulk loader, and across a change
of the collection's ``item_assets`` (base items recorded by version)."""

from __future__ import annotations

import copy
from typing import Any

import psycopg
import pytest

from catalog.base import SearchQuery
from catalog.pgstac import PgstacCatalog
from catalog.pgstac.query import from_stored
from datacenter.access import SYSTEM
from tests.catalog.conftest import make_item_dict

ASSETS = {
    "image": {"type": "image/tiff; application=geotiff", "roles": ["data"], "title": "NAC image"},
    "thumbnail": {"type": "image/png", "roles": ["thumbnail"]},
}


def _collection(item_assets: dict[str, Any]) -> dict[str, Any]:
    return {"id": "nac", "type": "Collection", "stac_version": "1.1.0", "dc:access": "public",
            "description": "LRO NAC", "license": "CC-BY-4.0", "item_assets": item_assets}


def _item(iid: str, assets: dict[str, Any], **properties: Any) -> dict[str, Any]:
    item = make_item_dict(iid, collection="nac", **properties)
    item["assets"] = assets
    return item


def _items(prefix: str) -> list[dict[str, Any]]:
    full = {k: {**v, "href": f"nac/{prefix}/{k}"} for k, v in ASSETS.items()}
    return [
        _item(f"{prefix}-all", copy.deepcopy(full)),  # every shared field comes from the base item
        _item(f"{prefix}-no-thumb", {"image": full["image"]}),  # stored with the do-not-merge marker
        _item(f"{prefix}-own-title", {**copy.deepcopy(full), "image": {**full["image"], "title": "mine"}},
              **{"proj:code": None, "gsd": 0.5}),  # a null the item really has
        _item(f"{prefix}-extra", {**copy.deepcopy(full), "dem": {"href": "nac/dem.tif", "roles": ["data"]}}),
    ]


def _pgstac_hydrated(dsn: str, iid: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path TO pgstac, public")
        row = conn.execute("SELECT get_item(%s, 'nac')", (iid,)).fetchone()
    assert row is not None and row[0] is not None
    return from_stored(row[0])


def _search_all(catalog: PgstacCatalog) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    token = None
    while True:
        page = catalog.search(SearchQuery(collections=["nac"], limit=3, token=token, viewer=SYSTEM))
        found.update({item["id"]: item for item in page.items})
        if page.next_token is None:
            return found
        token = page.next_token


@pytest.fixture
def nac(pgstac_dsn: str) -> Any:
    with PgstacCatalog(pgstac_dsn) as catalog:
        catalog.upsert_collection(_collection(ASSETS))
        yield catalog


def test_items_with_shared_assets_read_back_unchanged_and_as_pgstac_hydrates_them(nac: PgstacCatalog) -> None:
    items = _items("v1")
    nac.upsert_items(copy.deepcopy(items))
    # the collection's item_assets change: earlier items keep hydrating against the old ones
    changed = {**ASSETS, "image": {**ASSETS["image"], "title": "NAC image (v2)"}}
    nac.upsert_collection(_collection(changed))
    later = _items("v2")
    nac.upsert_items(copy.deepcopy(later))

    with psycopg.connect(nac.dsn) as conn:  # what is stored really is dehydrated and tagged
        stored = dict(conn.execute("SELECT id, content FROM pgstac.items").fetchall())
    assert stored["v1-no-thumb"]["assets"]["thumbnail"] == "𒍟※"
    assert "type" not in stored["v1-all"]["assets"]["image"]
    assert stored["v1-all"].get("pgstac:base_item") != stored["v2-all"].get("pgstac:base_item")

    searched = _search_all(nac)
    for item in items + later:
        got = nac.get_item("nac", item["id"], viewer=SYSTEM)
        assert got == item
        assert searched[item["id"]] == item
        assert got == _pgstac_hydrated(nac.dsn, item["id"])


def test_items_bulk_loaded_by_pypgstac_read_back_as_pgstac_hydrates_them(nac: PgstacCatalog) -> None:
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    items = [i for i in _items("bulk") if i["id"] != "bulk-own-title"]  # the loader keeps no nulls record
    with PgstacDB(dsn=nac.dsn) as db:
        Loader(db=db).load_items(iter(copy.deepcopy(items)), Methods.insert)

    searched = _search_all(nac)
    for item in items:
        got = nac.get_item("nac", item["id"], viewer=SYSTEM)
        assert got == item
        assert searched[item["id"]] == item
        assert got == _pgstac_hydrated(nac.dsn, item["id"])
