"""The access commands as an operator runs them: partners and keys, ingest with access
options, `access set` taking effect on the API's next request, and `audit` — on both
catalog backends (`DATACENTER_CATALOG_URL` pointing at a SQLite file or at pgstac)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SCHEMA_URL, SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest.samples import make_sample_set
from tests.api.conftest import serving

runner = CliRunner()


@pytest.fixture(autouse=True)
def on_each_backend(catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs once per catalog backend, configured as an operator would."""
    monkeypatch.setenv("DATACENTER_CATALOG_URL", catalog_url)
    get_settings.cache_clear()
    return catalog_url


def run(*args: str) -> str:
    result = runner.invoke(load_commands(), list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_partners_add_prints_a_key_once_and_list_shows_only_key_ids() -> None:
    key = run("partners", "add", "ESA", "--name", "European Space Agency").strip()
    assert key.startswith("dck_") and len(key.splitlines()) == 1
    listing = run("partners", "list")
    assert "ESA" in listing and key.split("_")[1] in listing and key not in listing
    failed = runner.invoke(load_commands(), ["partners", "add", "ESA"])
    assert failed.exit_code != 0


def test_keys_rotate_revoke_and_disable_show_in_the_listing_and_fail_lookups_at_once() -> None:
    first = run("partners", "add", "JAXA").strip()
    first_id = first.split("_")[1]
    second = run("partners", "keys", "rotate", "JAXA").strip()
    second_id = second.split("_")[1]
    listing = run("partners", "list")
    assert second_id in listing and first_id not in listing  # rotation revokes the old key
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        store = cat.partner_store()
        assert store.find_key(first_id).revoked and not store.find_key(second_id).revoked
        run("partners", "keys", "revoke", second_id)
        assert store.find_key(second_id).revoked
        third_id = run("partners", "keys", "rotate", "JAXA").strip().split("_")[1]
        run("partners", "disable", "JAXA")
        assert not store.find_key(third_id).partner_enabled
    admin = run("admin", "keys", "create").strip()
    assert admin.startswith("dck_") and admin.split("_")[1] not in run("partners", "list")
    for bad in (["partners", "keys", "rotate", "NOBODY"], ["partners", "keys", "revoke", "NOBODY"],
                ["partners", "disable", "NOBODY"]):
        failed = runner.invoke(load_commands(), bad)
        assert failed.exit_code != 0 and "'NOBODY'" in str(failed.exception)


def test_ingest_options_then_access_set_change_what_partners_see_on_the_next_request(
    tmp_path: Path, stac_offline
) -> None:
    product = make_sample_set(tmp_path / "incoming")[0]
    esa = run("partners", "add", "ESA").strip()
    roscosmos = run("partners", "add", "ROSCOSMOS").strip()
    run("ingest", str(product), "-c", "ce7", "--owner", "CNSA", "--access", "restricted",
        "--releasable-to", "ESA", "--export-control", "EAR99")
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        (item,) = cat.search(SearchQuery(viewer=SYSTEM)).items
        assert item["properties"]["dc:releasable_to"] == ["ESA"]
        assert SCHEMA_URL in item["stac_extensions"]
        assert stac_offline.validate_dict(item) == []
        assert cat.get_collection("ce7", viewer=SYSTEM)["dc:access"] == "restricted"
        path = f"collections/ce7/items/{item['id']}"
        with serving(create_app(cat, Store.from_settings(settings))) as url:
            def status(key: str) -> int:
                return httpx.get(url + path, headers={"X-API-Key": key}, timeout=10).status_code

            assert (status(esa), status(roscosmos)) == (200, 404)
            # the collection must be released to ROSCOSMOS too before its items can be
            run("access", "set", "--collection", "ce7", "--owner", "CNSA", "--access", "partners")
            run("access", "set", "--item", f"ce7/{item['id']}", "--owner", "CNSA",
                "--access", "restricted", "--releasable-to", "ROSCOSMOS")
            assert (status(esa), status(roscosmos)) == (404, 200)
            run("access", "set", "--item", f"ce7/{item['id']}", "--asset", "data", "--owner", "CNSA",
                "--access", "owner")
            got = httpx.get(url + path, headers={"X-API-Key": roscosmos}, timeout=10).json()
            assert "data" not in got["assets"]
    audit = run("audit", "--partner", "ROSCOSMOS", "--record", "ce7")
    assert "denied" in audit and "allowed" in audit


def test_an_item_may_not_widen_its_collection(tmp_path: Path) -> None:
    product = make_sample_set(tmp_path / "incoming")[0]
    run("ingest", str(product), "-c", "ce7", "--owner", "CNSA", "--access", "owner")
    wider = runner.invoke(load_commands(), ["ingest", str(product), "-c", "ce7", "--access", "public"])
    assert wider.exit_code != 0
    assert "may only narrow" in str(wider.exception)  # main() prints it as a one-line error


def test_more_than_63_partners_in_releasable_lists_each_see_exactly_their_items(tmp_path: Path) -> None:
    partners = [f"P{n:02d}" for n in range(70)]  # ids 63..69 lie beyond the releasable bit set
    keys = {p: run("partners", "add", p).strip() for p in partners}
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        cat.upsert_collection({"type": "Collection", "id": "many", "description": "d", "license": "other",
                               "links": [], "dc:owner": "CNSA", "dc:access": "partners"})
        cat.upsert_items([
            {"type": "Feature", "stac_version": "1.1.0", "id": f"for-{p}", "collection": "many",
             "geometry": {"type": "Point", "coordinates": [n, 0]}, "bbox": [n, 0, n, 0], "links": [],
             "assets": {}, "properties": {"datetime": "2026-01-01T00:00:00Z", "dc:owner": "CNSA",
                                          "dc:access": "restricted", "dc:releasable_to": [p]}}
            for n, p in enumerate(partners)
        ] + [
            {"type": "Feature", "stac_version": "1.1.0", "id": "shared", "collection": "many",
             "geometry": {"type": "Point", "coordinates": [0, 1]}, "bbox": [0, 1, 0, 1], "links": [],
             "assets": {}, "properties": {"datetime": "2026-01-02T00:00:00Z", "dc:owner": "CNSA",
                                          "dc:access": "restricted", "dc:releasable_to": ["P01"]}}])
        run("access", "set", "--item", "many/shared", "--owner", "CNSA", "--access", "restricted",
            "--releasable-to", "P02,P66")
        expected = {p: {f"for-{p}"} | ({"shared"} if p in ("P02", "P66") else set()) for p in partners}
        with serving(create_app(cat, Store.from_settings(settings))) as url:
            for p in partners:
                got = httpx.get(url + "search", params={"limit": 100}, headers={"X-API-Key": keys[p]},
                                timeout=10).json()
                assert {f["id"] for f in got["features"]} == expected[p], p
                assert got["numberMatched"] == len(expected[p]), p
            for p, other in (("P65", "for-P64"), ("P64", "for-P65"), ("P01", "shared"), ("P66", "for-P02")):
                status = httpx.get(f"{url}collections/many/items/{other}", headers={"X-API-Key": keys[p]},
                                   timeout=10).status_code
                assert status == 404, (p, other)
            assert httpx.get(f"{url}collections/many/items/shared", headers={"X-API-Key": keys["P66"]},
                             timeout=10).status_code == 200
