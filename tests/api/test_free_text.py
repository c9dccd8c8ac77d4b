"""Free text (`q`) over HTTP on both backends: the advanced syntax, indexes that follow
updates, deletes, access changes and `catalog import`, hidden items that never match,
and a 400 naming the problem for a malformed `q`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from catalog import open_catalog
from catalog.base import Catalog
from datacenter.cli import load_commands
from datacenter.storage import Store
from tests.api.conftest import serving

ADMIN_KEY = "free-text-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _item(iid: str, title: str, description: str = "", keywords: list[str] | None = None,
          **props: Any) -> dict[str, Any]:
    properties = {"datetime": "2026-03-01T00:00:00Z", "title": title, "description": description,
                  "dc:owner": "CNSA", "dc:access": "public", **props}
    if keywords is not None:
        properties["keywords"] = keywords
    return {"type": "Feature", "stac_version": "1.1.0", "id": iid, "collection": "polar",
            "geometry": {"type": "Polygon", "coordinates": [[[0, -90], [10, -90], [10, -80], [0, -80], [0, -90]]]},
            "bbox": [0, -90, 10, -80], "links": [], "assets": {}, "properties": properties}


ITEMS = [
    _item("shackleton", "Shackleton crater rim", "Permanently shadowed floor of a south-polar crater.",
          ["PSR", "ice"]),
    _item("malapert", "Malapert massif", "A south pole landing candidate.", ["landing site"]),
    _item("mosaic", "South pole mosaic", "Controlled mosaic, Lunar South Pole."),
    _item("apollo", "Apollo 17 traverse", "Taurus-Littrow valley, 20 km traverse.", ["Apollo"]),
    _item("secret", "Secret crater survey", "Restricted south pole crater survey, ice.", ["ice"],
          **{"dc:access": "restricted", "dc:releasable_to": ["ESA"]}),
]


@dataclass
class Site:
    catalog: Catalog
    catalog_url: str
    http: httpx.Client

    def ids(self, q: Any, method: str = "GET", path: str = "search", **headers: str) -> set[str]:
        if method == "GET":
            response = self.http.get(path, params={"q": q, "limit": 100}, headers=headers)
        else:
            response = self.http.post(path, json={"q": q, "limit": 100}, headers=headers)
        assert response.status_code == 200, response.text
        return {f["id"] for f in response.json()["features"]}


@pytest.fixture(params=["pgstac", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = (str(request.getfixturevalue("pgstac_dsn")) if request.param == "pgstac"
           else f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog = open_catalog(url)
    catalog.upsert_collection({"type": "Collection", "id": "polar", "description": "South polar products",
                               "title": "Polar mosaics and maps", "keywords": ["south pole", "PSR"],
                               "license": "other", "links": [], "dc:owner": "CNSA", "dc:access": "public",
                               "extent": {"spatial": {"bbox": [[-180, -90, 180, -80]]},
                                          "temporal": {"interval": [["2026-01-01T00:00:00Z", None]]}}})
    catalog.upsert_items(ITEMS)
    app = create_app(catalog, Store(str(tmp_path / "store")), admin_keys=[ADMIN_KEY])
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield Site(catalog, url, http)
    catalog.close()


def test_words_match_case_insensitively_in_title_description_and_keywords(site: Site) -> None:
    assert site.ids("SHACKLETON") == {"shackleton"}
    assert site.ids("taurus") == {"apollo"}  # description
    assert site.ids("psr") == {"shackleton"}  # keyword
    assert site.ids("ice") == {"shackleton"}  # the restricted item never shows to anonymous


def test_comma_and_or_join_alternatives_and_a_post_list_ors_its_entries(site: Site) -> None:
    assert site.ids("apollo,malapert") == {"apollo", "malapert"}
    assert site.ids("apollo OR malapert") == {"apollo", "malapert"}
    assert site.ids(["apollo", "landing site"], method="POST") == {"apollo", "malapert"}
    assert site.ids("apollo,malapert", method="POST") == {"apollo", "malapert"}


def test_phrases_required_and_excluded_terms_and_groups(site: Site) -> None:
    assert site.ids("south pole") == {"malapert", "mosaic"}  # adjacent words
    assert site.ids('"pole south"') == set()
    assert site.ids("crater -rim") == set()
    assert site.ids("+south +pole -mosaic") == {"malapert"}
    assert site.ids("(crater, massif) AND south") == {"shackleton", "malapert"}
    assert site.ids("-(south, apollo)") == set()
    assert site.ids("17 AND (km OR miles)") == {"apollo"}


def test_hidden_items_never_match_but_show_to_who_may_see_them(site: Site) -> None:
    assert "secret" not in site.ids("secret OR crater OR -apollo")
    key = site.catalog.partner_store().add_partner("ESA").secret_text
    assert site.ids("secret", Authorization=f"Bearer {key}") == {"secret"}
    assert site.ids("secret", **ADMIN) == {"secret"}


def test_updated_deleted_and_access_changed_items_follow_at_once(site: Site) -> None:
    renamed = _item("malapert", "Malapert peak", "A ridge near Haworth.")
    put = site.http.put("/collections/polar/items/malapert", json=renamed, headers=ADMIN)
    assert put.status_code in (200, 204), put.text
    assert site.ids("massif") == set()
    assert site.ids("haworth") == {"malapert"}
    assert site.http.delete("/collections/polar/items/apollo", headers=ADMIN).status_code in (200, 204)
    assert site.ids("taurus") == set()
    hidden = _item("shackleton", "Shackleton crater rim", "", ["PSR"], **{"dc:access": "restricted"})
    site.catalog.upsert_items([hidden])
    assert site.ids("shackleton") == set()


def test_items_endpoint_and_collection_search_take_the_same_q(site: Site) -> None:
    assert site.ids("south pole -mosaic", path="/collections/polar/items") == {"malapert"}
    collections = site.http.get("/collections", params={"q": "polar AND (psr OR ice)"}).json()
    assert [c["id"] for c in collections["collections"]] == ["polar"]
    assert site.http.get("/collections", params={"q": "polar -psr"}).json()["collections"] == []


@pytest.mark.parametrize(("q", "problem"), [
    ('"south pole', "quote at position 0 that is never closed"),
    ("(south OR pole", "'(' that is never closed"),
    ("south) pole", "')' without a matching '('"),
    ("south AND", "AND without a term on both sides"),
    ("%%", "no letters or digits"),
])
def test_malformed_q_is_a_400_naming_the_problem(site: Site, q: str, problem: str) -> None:
    for response in (site.http.get("/search", params={"q": q}),
                     site.http.post("/search", json={"q": q}),
                     site.http.get("/collections/polar/items", params={"q": q}),
                     site.http.get("/collections", params={"q": q})):
        assert response.status_code == 400, response.text
        assert problem in response.json()["description"]
        assert q in response.json()["description"]


def test_an_imported_catalog_is_searchable_by_words(site: Site, tmp_path: Path) -> None:
    dump = tmp_path / "all.ndjson"
    runner = CliRunner()
    exported = runner.invoke(load_commands(), ["catalog", "export", str(dump), "--catalog-url",
                                               site.catalog_url])
    assert exported.exit_code == 0, exported.output
    target = f"sqlite:///{tmp_path / 'imported.sqlite'}"
    imported = runner.invoke(load_commands(), ["catalog", "import", str(dump), "--catalog-url", target])
    assert imported.exit_code == 0, imported.output
    with open_catalog(target) as copy, serving(create_app(copy, Store(str(tmp_path / "s2")))) as base:
        got = httpx.get(f"{base}search", params={"q": "south pole"}, timeout=10).json()
    assert {f["id"] for f in got["features"]} == {"malapert", "mosaic"}

