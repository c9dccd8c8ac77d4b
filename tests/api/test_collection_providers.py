"""A collection names the agencies that produced what the viewer may see (STAC `providers`,
read here with pystac-client as a scientist would), with its own providers first, on both
backends; a restricted item's mission names its agency to no one who cannot see the item."""

from __future__ import annotations

from collections.abc import Iterator

import pystac_client
import pytest

from api.app import create_app
from catalog import open_catalog
from catalog.providers import with_producers
from datacenter.storage import Store
from tests.api.conftest import serving


def _item(item_id: str, mission: str, **access: object) -> dict:
    return {"type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": "moon",
            "geometry": {"type": "Point", "coordinates": [10.0, -80.0]}, "bbox": [10.0, -80.0, 10.0, -80.0],
            "links": [], "assets": {},
            "properties": {"datetime": "2024-01-01T00:00:00Z", "mission": mission, "platform": mission,
                           "dc:access": "public", "dc:owner": "ILRS", **access}}  # fmt: skip


@pytest.fixture(params=["pgstac", "sqlite"])
def served(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, str]]:
    url = (str(request.getfixturevalue("pgstac_dsn")) if request.param == "pgstac"
           else f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog = open_catalog(url)
    catalog.upsert_collection({
        "type": "Collection", "stac_version": "1.1.0", "id": "moon", "description": "Moon", "license": "other",
        "links": [], "dc:owner": "ILRS", "dc:access": "public",
        "providers": [{"name": "ILRS Science Data Center", "roles": ["host", "processor"]}],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
        "summaries": {"mission": ["lro", "change-7"], "platform": ["lro", "change-7"]},  # as ingest merges them
    })  # fmt: skip
    catalog.upsert_items([_item("nac", "lro"),
                          _item("ce7", "change-7", **{"dc:access": "restricted", "dc:owner": "CNSA",
                                                      "dc:releasable_to": ["ESA"]})])  # fmt: skip
    esa = catalog.partner_store().add_partner("ESA").secret_text
    with serving(create_app(catalog, Store(str(tmp_path / "store")))) as base:
        yield base, esa
    catalog.close()


def _providers(url: str, key: str | None = None) -> list[tuple[str, list[str]]]:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    collection = pystac_client.Client.open(url, headers=headers).get_collection("moon")
    return [(p.name, list(p.roles or [])) for p in collection.providers or []]


def test_anonymous_sees_the_producer_of_public_items_only(served) -> None:
    url, _ = served
    assert _providers(url) == [("ILRS Science Data Center", ["host", "processor"]), ("NASA", ["producer"])]


def test_a_cleared_partner_also_sees_the_producer_of_the_restricted_item(served) -> None:
    url, esa = served
    assert _providers(url, esa) == [("ILRS Science Data Center", ["host", "processor"]),
                                    ("CNSA", ["producer"]), ("NASA", ["producer"])]  # fmt: skip


def test_a_provider_the_collection_names_is_not_added_twice() -> None:
    coll = {"providers": [{"name": "nasa", "roles": ["licensor"]}], "summaries": {"mission": ["lro", "selene"]}}
    assert [p["name"] for p in with_producers(coll)["providers"]] == ["nasa", "JAXA"]
    assert with_producers({"summaries": {"mission": ["no-such-mission"]}}) == {"summaries": {"mission": ["no-such-mission"]}}
