"""`datacenter catalog migrate / export / import` as an operator runs them, between backends."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from tests.catalog.conftest import make_item_dict, rect

runner = CliRunner()

ACROSS_180 = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[175, -5], [180, -5], [180, 5], [175, 5], [175, -5]]],
        [[[-180, -5], [-175, -5], [-175, 5], [-180, 5], [-180, -5]]],
    ],
}


def cli(*args: str) -> str:
    result = runner.invoke(load_commands(), list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def fill(url: str) -> tuple[list[dict], list[dict]]:
    """Two collections (one restricted) and items with the awkward parts of STAC: nulls,
    an interval, a bbox-only footprint, an antimeridian MultiPolygon, unicode."""
    collections = [
        {"id": "lro-nac", "type": "Collection", "dc:access": "public", "title": "LRO NAC",
         "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}}},
        {"id": "ce7-secret", "type": "Collection", "dc:owner": "CNSA", "dc:access": "restricted",
         "dc:releasable_to": ["ESA"]},
    ]
    items = [
        make_item_dict("plain", rect(10.123456789012345, 0, 11, 1), title="ünïcode"),
        make_item_dict("interval", datetime=None, start="2020-01-01T00:00:00Z", end="2020-02-01T00:00:00Z",
                       **{"proj:code": None, "proj:wkt2": "GEOGCRS[...]"}),
        make_item_dict("bbox-only", bbox=[10, 10, 20, 20]) | {"geometry": None},
        make_item_dict("across", ACROSS_180, bbox=[175, -5, -175, 5], nested={"x": [1.5, None, {"y": None}]}),
        make_item_dict("hidden", collection="ce7-secret", **{"dc:owner": "CNSA", "dc:access": "owner"}),
    ]
    with open_catalog(url) as cat:
        for coll in collections:
            cat.upsert_collection(coll)
        cat.upsert_items(items)
    return collections, items


def snapshot(url: str) -> tuple[list[dict], list[dict]]:
    with open_catalog(url) as cat:
        collections = cat.list_collections(viewer=SYSTEM)
        items = cat.search(SearchQuery(limit=1000, viewer=SYSTEM)).items
    return collections, sorted(items, key=lambda i: (i["collection"], i["id"]))


def test_migrate_sets_up_an_empty_postgres_database(pg_cluster):
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE migrate_me")
    url = pg_cluster.dsn("migrate_me")
    assert "pgstac" in cli("catalog", "migrate", "--catalog-url", url)
    cli("catalog", "migrate", "--catalog-url", url)  # a second run is a no-op
    with open_catalog(url) as cat:
        assert cat.list_collections() == []


def test_migrate_sets_up_the_default_sqlite_catalog(clean_env: Path):
    assert "SQLite" in cli("catalog", "migrate")
    assert (clean_env / "catalog.sqlite").is_file()


def test_opening_an_unmigrated_postgres_database_says_to_migrate(pg_cluster):
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE not_migrated")
    result = runner.invoke(load_commands(), ["catalog", "list"], env={
        "DATACENTER_CATALOG_URL": pg_cluster.dsn("not_migrated")})
    assert result.exit_code != 0
    assert "datacenter catalog migrate" in str(result.exception)


@pytest.mark.parametrize("direction", ["sqlite-to-pgstac", "pgstac-to-sqlite"])
def test_export_then_import_moves_a_whole_catalog_losslessly(direction, pgstac_dsn, tmp_path):
    sqlite_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    source, target = (sqlite_url, pgstac_dsn) if direction == "sqlite-to-pgstac" else (pgstac_dsn, sqlite_url)
    if target == sqlite_url:
        cli("catalog", "migrate", "--catalog-url", target)
    collections, items = fill(source)
    dump = tmp_path / "catalog.ndjson"
    cli("catalog", "export", str(dump), "--catalog-url", source)
    lines = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    assert [obj["type"] for obj in lines] == ["Collection"] * 2 + ["Feature"] * 5
    cli("catalog", "import", str(dump), "--catalog-url", target)
    got_collections, got_items = snapshot(target)
    assert sorted(got_collections, key=lambda c: c["id"]) == sorted(collections, key=lambda c: c["id"])
    assert got_items == sorted(items, key=lambda i: (i["collection"], i["id"]))
    assert snapshot(source) == (got_collections, got_items)
    cli("catalog", "import", str(dump), "--catalog-url", target)  # importing again changes nothing
    assert snapshot(target) == (got_collections, got_items)


def test_import_names_the_bad_line(pgstac_dsn, tmp_path):
    dump = tmp_path / "bad.ndjson"
    dump.write_text('{"id": "c", "type": "Collection", "dc:access": "public"}\nnot json\n')
    result = runner.invoke(load_commands(), ["catalog", "import", str(dump), "--catalog-url", pgstac_dsn])
    assert result.exit_code != 0
    assert "line 2 is not JSON" in str(result.exception)
