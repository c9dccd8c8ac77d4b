"""API keys over real HTTP: 401 for keys that are not valid now, 404 for what a valid viewer
may not see, rotation / revocation / disable effective on the next request, and the audit
log recording allowed and denied decisions. On both catalog backends: partners, keys and
the audit log live in the catalog's database (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.deps import get_viewer
from catalog import open_catalog
from catalog.base import Catalog
from datacenter.access import Viewer
from datacenter.storage import Store
from tests.api.conftest import serving

BYTES = b"restricted full-resolution product"


@dataclass
class Site:
    catalog: Catalog
    url: str
    root: Path


def _item(iid: str, props: dict, assets: dict) -> dict:
    return {"type": "Feature", "stac_version": "1.1.0", "id": iid, "collection": "ce7",
            "geometry": {"type": "Polygon", "coordinates": [[[0, -90], [10, -90], [10, -80], [0, -80], [0, -90]]]},
            "bbox": [0, -90, 10, -80], "links": [], "assets": assets,
            "properties": {"datetime": "2026-03-01T00:00:00Z", **props}}


@pytest.fixture(params=["pgstac", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = (str(request.getfixturevalue("pgstac_dsn")) if request.param == "pgstac"
           else f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog = open_catalog(url)
    store = Store(str(tmp_path / "store"))
    store.put_bytes(BYTES, "ce7/full.tif")
    store.put_bytes(b"png", "ce7/browse.png")
    catalog.upsert_collection({"type": "Collection", "id": "ce7", "description": "Chang'e-7",
                               "license": "other", "links": [], "dc:owner": "CNSA", "dc:access": "public"})
    catalog.upsert_items([
        _item("restricted", {"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA"]},
              {"data": {"href": "ce7/full.tif"}}),
        _item("mixed", {"dc:owner": "CNSA", "dc:access": "public"},
              {"browse": {"href": "ce7/browse.png"},
               "data": {"href": "ce7/full.tif", "dc:access": "restricted", "dc:releasable_to": ["ESA"]}}),
    ])
    with serving(create_app(catalog, store)) as url:
        yield Site(catalog, url, tmp_path)
    catalog.close()


def get(site: Site, path: str, key: str | None = None, header: str = "bearer") -> httpx.Response:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    return httpx.get(site.url + path, headers=headers, timeout=10)


def test_unknown_key_is_401_with_a_clear_message_and_www_authenticate(site: Site) -> None:
    for bad in ("dck_000000000000_" + "A" * 43, "not-even-a-key"):
        got = get(site, "search", bad)
        assert got.status_code == 401
        assert got.headers["WWW-Authenticate"] == "Bearer"
        assert got.json()["code"] == "Unauthorized"
        assert "not valid" in got.json()["description"]


def test_no_key_is_anonymous_and_a_hidden_item_is_404_like_a_missing_one(site: Site) -> None:
    hidden = get(site, "collections/ce7/items/restricted")
    missing = get(site, "collections/ce7/items/never-was")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "ItemNotFound"
    assert hidden.json()["description"].replace("restricted", "X") == missing.json()["description"].replace("never-was", "X")


def test_cleared_partner_sees_restricted_item_and_asset_others_get_404(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa, roscosmos = partners.add_partner("ESA").secret_text, partners.add_partner("ROSCOSMOS").secret_text
    assert get(site, "collections/ce7/items/restricted", esa).status_code == 200
    assert get(site, "collections/ce7/items/restricted", esa, header="x-api-key").status_code == 200
    assert get(site, "collections/ce7/items/restricted/assets/data", esa).content == BYTES
    assert get(site, "collections/ce7/items/restricted", roscosmos).status_code == 404
    # a public item with a restricted asset: the asset is absent from the item, its URL is 404
    mixed = get(site, "collections/ce7/items/mixed", roscosmos).json()
    assert set(mixed["assets"]) == {"browse"}
    denied = get(site, "collections/ce7/items/mixed/assets/data", roscosmos)
    assert denied.status_code == 404 and "data" not in denied.json()["description"].split("are:")[-1]
    assert set(get(site, "collections/ce7/items/mixed", esa).json()["assets"]) == {"browse", "data"}


def test_rotation_revocation_and_disable_take_effect_on_the_next_request(site: Site) -> None:
    partners = site.catalog.partner_store()
    first = partners.add_partner("ESA")
    assert get(site, "search", first.secret_text).status_code == 200
    second = partners.rotate_key("ESA")
    assert get(site, "search", first.secret_text).status_code == 401
    assert get(site, "search", second.secret_text).status_code == 200
    partners.revoke_key(second.key_id)
    assert get(site, "search", second.secret_text).status_code == 401
    third = partners.rotate_key("ESA")
    assert get(site, "collections/ce7/items/restricted", third.secret_text).status_code == 200
    partners.disable_partner("ESA")
    assert get(site, "collections/ce7/items/restricted", third.secret_text).status_code == 401
    assert get(site, "collections/ce7/items/restricted/assets/data", third.secret_text).status_code == 401


def test_admin_key_sees_everything_and_is_not_a_partner_key(site: Site) -> None:
    admin = site.catalog.partner_store().create_admin_key().secret_text
    assert get(site, "collections/ce7/items/restricted", admin).status_code == 200
    assert {f["id"] for f in get(site, "search", admin).json()["features"]} == {"restricted", "mixed"}
    assert all(p.id != "admin" for p in site.catalog.partner_store().list_partners())


def test_audit_log_records_allowed_and_denied_with_bytes(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa, roscosmos = partners.add_partner("ESA"), partners.add_partner("ROSCOSMOS")
    assert get(site, "collections/ce7/items/restricted/assets/data", esa.secret_text).status_code == 200
    assert get(site, "collections/ce7/items/restricted/assets/data", roscosmos.secret_text).status_code == 404
    assert get(site, "collections/ce7/items/gone", roscosmos.secret_text).status_code == 404
    log = site.catalog.audit_log()
    esa_events = log.query(who="ESA", record="ce7/restricted")
    assert [(e.action, e.allowed, e.bytes, e.key_id) for e in esa_events] == [
        ("download", True, len(BYTES), esa.key_id)
    ]
    denied = log.query(who="ROSCOSMOS")
    assert [(e.record, e.allowed, e.detail) for e in denied] == [
        ("ce7/restricted", False, "hidden"), ("ce7/gone", False, "missing")
    ]


def test_viewer_dependency_can_be_overridden(site: Site, tmp_path: Path) -> None:
    app = create_app(site.catalog, Store(str(site.root / "store")))
    app.dependency_overrides[get_viewer] = lambda: Viewer(partner_id="ESA")
    with serving(app) as url:
        assert httpx.get(url + "collections/ce7/items/restricted", timeout=10).status_code == 200
        assert httpx.get(url + "collections/ce7/items/restricted/assets/data", timeout=10).content == BYTES
