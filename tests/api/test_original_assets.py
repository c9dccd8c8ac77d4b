"""The original product's assets (label, data files) obey the access filter exactly as the
analysis-ready asset does: a partner without clearance gets 404 on their download, and an
original asset given narrower access is hidden from those it excludes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from catalog import open_catalog
from catalog.base import Catalog
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest import samples
from tests.api.conftest import serving

runner = CliRunner()


@dataclass
class Site:
    catalog: Catalog
    url: str
    label: Path
    item: str


@pytest.fixture(params=["sqlite", "pgstac"])
def site(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    if request.param == "pgstac":
        monkeypatch.setenv("DATACENTER_CATALOG_URL", str(request.getfixturevalue("pgstac_dsn")))
        get_settings.cache_clear()
    label = samples.make_pds3_image(tmp_path / "pds3")
    app = load_commands()
    result = runner.invoke(app, ["ingest", str(label), "-c", "moon", "--owner", "CNSA",
                                 "--access", "restricted", "--releasable-to", "ESA"])  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as catalog, serving(
        create_app(catalog, Store.from_settings(settings))
    ) as url:
        yield Site(catalog, url, label, label.stem.lower())


def _get(site: Site, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(site.url + path, headers=headers, timeout=30)


def test_partner_without_clearance_gets_404_on_the_original_asset(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa, roscosmos = partners.add_partner("ESA").secret_text, partners.add_partner("ROSCOSMOS").secret_text
    base = f"collections/moon/items/{site.item}"
    seen = _get(site, base, esa).json()
    assert {"data", "label", "original"} <= set(seen["assets"])
    assert _get(site, f"{base}/assets/label", esa).content == site.label.read_bytes()
    original = _get(site, f"{base}/assets/original", esa)
    assert original.content == site.label.with_suffix(".IMG").read_bytes()
    for who in (roscosmos, None):
        for asset in ("label", "original", "data"):
            assert _get(site, f"{base}/assets/{asset}", who).status_code == 404, (who, asset)


def test_an_original_asset_with_narrower_access_is_hidden(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa = partners.add_partner("ESA").secret_text
    result = runner.invoke(load_commands(), ["access", "set", "--item", f"moon/{site.item}", "--asset", "original",
                                             "--owner", "CNSA", "--access", "owner"])  # fmt: skip
    assert result.exit_code == 0, result.output
    base = f"collections/moon/items/{site.item}"
    seen = _get(site, base, esa).json()
    assert set(seen["assets"]) >= {"data", "label"} and "original" not in seen["assets"]
    denied = _get(site, f"{base}/assets/original", esa)
    assert denied.status_code == 404 and "original" not in denied.json()["description"].split("are:")[-1]
    cnsa = partners.add_partner("CNSA").secret_text
    assert _get(site, f"{base}/assets/original", cnsa).status_code == 200


def test_served_item_keeps_its_provenance_link(tmp_path: Path) -> None:
    label = samples.make_pds4_south_polar_dem(tmp_path / "pds4", size=64)
    result = runner.invoke(load_commands(), ["ingest", str(label), "-c", "moon", "--access", "public"])
    assert result.exit_code == 0, result.output
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as catalog, serving(
        create_app(catalog, Store.from_settings(settings))
    ) as url:
        item = httpx.get(f"{url}collections/moon/items/ldem_87s_40m", timeout=30).json()
    rels = {link["rel"]: link["href"] for link in item["links"]}
    assert rels["derived_from"].startswith("urn:nasa:pds:") and rels["via"].startswith("https://pds.nasa.gov/")
    assert item["assets"]["label"]["href"].startswith(url)
