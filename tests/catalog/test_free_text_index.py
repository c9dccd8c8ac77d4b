"""The free-text indexes as an operator meets them: an older catalog gains one on upgrade
(SQLite on open, PostgreSQL on `datacenter catalog migrate`), and PostgreSQL answers `q`
from its index."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from typer.testing import CliRunner

from catalog import open_catalog
from catalog.base import SearchQuery
from catalog.pgstac.free_text import free_text_pg
from catalog.sqlite import SCHEMA_VERSION, SQLiteCatalog
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.errors import ConfigError
from tests.catalog.conftest import COLLECTION, make_item_dict
from tests.catalog.test_items import DROP_COUNTS

COLLECTION_JSON = {"id": COLLECTION, "type": "Collection", "dc:access": "public"}


def _ids(catalog, q: str) -> set[str]:
    return {i["id"] for i in catalog.search(SearchQuery(q=q, limit=100, viewer=SYSTEM)).items}


def test_a_schema_3_sqlite_catalog_gains_the_index_of_its_stored_items(tmp_path) -> None:
    path = tmp_path / "catalog.sqlite"
    with SQLiteCatalog(path) as cat:
        cat.upsert_collection(COLLECTION_JSON)
        cat.upsert_items([make_item_dict("old", title="Schrödinger basin")])
    db = sqlite3.connect(path)  # as a schema-3 file: no FTS table, no triggers
    for statement in (*DROP_COUNTS, "DROP TRIGGER items_fts_insert", "DROP TRIGGER items_fts_update",
                      "DROP TRIGGER items_fts_delete", "DROP TABLE items_fts",
                      "DELETE FROM schema_version", "INSERT INTO schema_version VALUES (3)"):
        db.execute(statement)
    db.commit()
    db.close()
    with SQLiteCatalog(path) as cat:
        assert _ids(cat, "SCHRÖDINGER") == {"old"}
        cat.upsert_items([make_item_dict("new", title="Schrödinger rille")])
        assert _ids(cat, "schrödinger") == {"old", "new"}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(version) FROM schema_version").fetchone() == (SCHEMA_VERSION,)


def test_migrate_gives_an_older_pgstac_catalog_its_index(pg_cluster) -> None:
    dsn = pg_cluster.new_database()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:  # as before the index existed
            conn.execute("DROP FUNCTION datacenter.item_text(jsonb) CASCADE")
        with open_catalog(dsn) as cat, pytest.raises(ConfigError, match="datacenter catalog migrate"):
            _ids(cat, "shackleton")
        result = CliRunner().invoke(load_commands(), ["catalog", "migrate", "--catalog-url", dsn])
        assert result.exit_code == 0, (result.output, result.exception)
        with open_catalog(dsn) as cat:
            cat.upsert_collection(COLLECTION_JSON)
            cat.upsert_items([make_item_dict(f"i{n}", title=f"Crater {n}") for n in range(50)]
                             + [make_item_dict("rim", title="Shackleton rim")])
            assert _ids(cat, "shackleton,rim") == {"rim"}
        params: dict = {}
        where = free_text_pg("shackleton", params)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET search_path TO pgstac, public")
            conn.execute("SET enable_seqscan = off")  # a 51-row table: ask whether the index *can* answer
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT id FROM items WHERE {where}", params))
        assert "Bitmap Index Scan" in plan and "item_text" in plan, plan
    finally:
        pg_cluster.drop_database(dsn)
