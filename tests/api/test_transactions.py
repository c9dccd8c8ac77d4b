"""Transactions: admins create, replace, patch and delete collections and items; anyone
else gets 401 (no key, or a key that is not valid) or 403 (a partner's key) and the
catalog is untouched. Admin keys are those made by `datacenter admin keys create` or
listed in DATACENTER_ADMIN_KEYS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from catalog import open_catalog
from catalog.sqlite import SQLiteCatalog
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from tests.api.conftest import _box, _collection, serving

KEY = "admin-secret"
ADMIN = {"Authorization": f"Bearer {KEY}"}


def _item(iid: str, cid: str = "fresh") -> dict:
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": cid,
            "geometry": _box(-10, -88, 10, -80), "bbox": [-10, -88, 10, -80],
            "properties": {"datetime": "2024-02-01T00:00:00Z", "gsd": 5, "dc:owner": "CNSA",
                           "dc:access": "public"},
            "assets": {}}


@pytest.fixture
def catalog(tmp_path) -> Iterator[SQLiteCatalog]:
    with SQLiteCatalog(tmp_path / "catalog.sqlite") as cat:
        yield cat  # type: ignore[misc]


@pytest.fixture
def api(catalog: SQLiteCatalog, tmp_path) -> Iterator[httpx.Client]:
    with serving(create_app(catalog, Store(str(tmp_path / "store")), admin_keys=[KEY])) as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
def partner(catalog: SQLiteCatalog) -> dict[str, str]:
    """The Authorization header of a registered partner (not an admin)."""
    return {"Authorization": f"Bearer {catalog.partner_store().add_partner('ESA').secret_text}"}


def test_admin_creates_updates_patches_and_deletes(api: httpx.Client) -> None:
    created = api.post("/collections", json=_collection("fresh", "Fresh"), headers=ADMIN)
    assert created.status_code == 201, created.text
    assert api.post("/collections", json=_collection("fresh", "Fresh"), headers=ADMIN).status_code == 409
    item = api.post("/collections/fresh/items", json=_item("a"), headers=ADMIN)
    assert item.status_code == 201, item.text
    assert item.headers["content-type"].startswith("application/geo+json")
    assert api.post("/collections/fresh/items", json=_item("a"), headers=ADMIN).status_code == 409
    changed = _item("a")
    changed["properties"]["gsd"] = 7
    assert api.put("/collections/fresh/items/a", json=changed, headers=ADMIN).status_code == 204
    patch = {"properties": {"platform": "lro"}}
    assert api.patch("/collections/fresh/items/a", json=patch, headers=ADMIN).status_code == 204
    props = api.get("/collections/fresh/items/a").json()["properties"]
    assert (props["gsd"], props["platform"]) == (7, "lro")
    found = api.get("/search", params={"filter": "gsd = 7 AND platform = 'lro'"}).json()
    assert [f["id"] for f in found["features"]] == ["a"]
    assert api.delete("/collections/fresh/items/a", headers=ADMIN).status_code == 204
    assert api.get("/collections/fresh/items/a").status_code == 404
    assert api.delete("/collections/fresh", headers=ADMIN).status_code == 204
    assert api.get("/collections/fresh").status_code == 404


def test_item_in_the_body_must_agree_with_the_path(api: httpx.Client) -> None:
    api.post("/collections", json=_collection("fresh", "Fresh"), headers=ADMIN)
    api.post("/collections/fresh/items", json=_item("a"), headers=ADMIN)
    wrong = api.put("/collections/fresh/items/a", json=_item("b"), headers=ADMIN)
    assert wrong.status_code == 400
    assert "differs from 'a'" in wrong.json()["description"]
    elsewhere = api.post("/collections/fresh/items", json=_item("c", cid="other"), headers=ADMIN)
    assert elsewhere.status_code == 400


@pytest.mark.parametrize(("headers", "status", "says"), [
    ({}, 401, "admin"),
    ({"Authorization": "Bearer wrong"}, 401, "not valid"),
    ({"Authorization": f"Basic {KEY}"}, 401, "not valid"),
    ("partner", 403, "admin"),
], ids=["no-key", "unknown-key", "not-bearer", "partner-key"])
def test_writes_without_an_admin_key_are_refused(
    api: httpx.Client, partner: dict[str, str], headers: dict | str, status: int, says: str
) -> None:
    headers = partner if headers == "partner" else headers
    refused = api.post("/collections", json=_collection("fresh", "Fresh"), headers=headers)
    assert refused.status_code == status
    assert says in refused.json()["description"]
    assert api.get("/collections/fresh").status_code == 404
    assert api.delete("/collections/anything", headers=headers).status_code == status


def test_no_admin_keys_configured_means_no_writes(tmp_path) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
    with serving(create_app(catalog, Store(str(tmp_path / "store")))) as url:
        response = httpx.post(f"{url}collections", json=_collection("x", "X"), headers=ADMIN)
    catalog.close()
    assert response.status_code == 401  # the key is not one the data center knows


def test_an_admin_key_made_by_the_command_line_can_write() -> None:
    made = CliRunner().invoke(load_commands(), ["admin", "keys", "create"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as catalog, \
            serving(create_app(catalog, Store.from_settings(settings))) as url:
        admin = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{url}collections", json=_collection("x", "X"), headers=admin)
        assert created.status_code == 201, created.text
        hidden = _item("h", cid="x")
        hidden["properties"].update({"dc:access": "owner"})
        assert httpx.post(f"{url}collections/x/items", json=hidden, headers=admin).status_code == 201
        assert httpx.get(f"{url}collections/x/items/h", headers=admin).status_code == 200  # sees all
        assert httpx.get(f"{url}collections/x/items/h").status_code == 404
