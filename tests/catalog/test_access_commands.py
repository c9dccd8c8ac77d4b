"""The access commands as an operator runs them: partners and keys, ingest with access
options, `access set` taking effect on the API's next request, and `audit`."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from api.app import create_app
from catalog.base import SearchQuery, open_catalog
from datacenter.access import SCHEMA_URL, SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest.samples import make_sample_set
from tests.api.conftest import serving

runner = CliRunner()


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
