"""The SQLite catalog's tables: the schema, its version, and the upgrades from older files.

A catalog file records its `SCHEMA_VERSION`; `create_or_upgrade` creates the tables of a new
file, brings an older one up to date in the same write transaction, and refuses a file a
newer install wrote.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from catalog.sqlite.access import ACCESS_SCHEMA, upgrade_from_1
from catalog.sqlite.counts import create_counts
from catalog.sqlite.free_text import create_free_text_index
from datacenter.errors import ConfigError

# 2: access columns and releasable side tables; 3: bounds in the sort indexes and `props`;
# 4: free-text index; 5: count tables (`catalog.sqlite.counts`)
SCHEMA_VERSION = 5

# The covering sort indexes: a search in the default order walks one of them and reads the
# row only for the page's content. The access columns make the filter index-only; the
# bounds and `needs_exact` let a broad bbox test candidates there too (no R*Tree, no sort).
SORT_INDEXES = """
DROP INDEX IF EXISTS items_dt;
CREATE INDEX items_dt ON items (dt DESC, collection, id, t_start, t_end,
    acc_class, acc_embargo, acc_owner, acc_rel_mask, needs_exact, w, s, e, n);
DROP INDEX IF EXISTS items_collection_dt;
CREATE INDEX items_collection_dt ON items (collection, dt DESC, id, t_start, t_end,
    acc_class, acc_embargo, acc_owner, acc_rel_mask, needs_exact, w, s, e, n);
"""
RTREE_STRIDE = 1024  # R*Tree id = item pk * RTREE_STRIDE + part number

_SCHEMA = """
CREATE TABLE collections (
    id TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    acc_owner TEXT, acc_class INTEGER NOT NULL DEFAULT 3, acc_embargo INTEGER,  -- sqlite_access
    acc_rel_mask INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE items (
    pk INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    dt INTEGER NOT NULL,          -- sort key: datetime, else start_datetime (us since epoch, UTC)
    t_start INTEGER NOT NULL,     -- start_datetime, else datetime
    t_end INTEGER NOT NULL,       -- end_datetime, else datetime
    w REAL NOT NULL, s REAL NOT NULL, e REAL NOT NULL, n REAL NOT NULL,  -- footprint bounds
    needs_exact INTEGER NOT NULL, -- 1: footprint is not its own bounding rectangle
    crosses INTEGER NOT NULL,     -- 1: footprint crosses the antimeridian
    nboxes INTEGER NOT NULL,      -- R*Tree entries: pk * 1024 + 0 .. nboxes - 1
    acc_owner TEXT, acc_class INTEGER NOT NULL DEFAULT 3, acc_embargo INTEGER,  -- sqlite_access
    acc_rel_mask INTEGER NOT NULL DEFAULT 0,
    props TEXT NOT NULL DEFAULT '{}',  -- `properties` as JSON (CQL2 and sortby read it here)
    UNIQUE (id, collection)
);
-- the bulky part of an item, apart so that filtering and sorting touch only narrow rows
CREATE TABLE item_data (
    pk INTEGER PRIMARY KEY,       -- = items.pk
    geom BLOB NOT NULL,           -- footprint WKB for exact tests
    content TEXT NOT NULL         -- the STAC item JSON
);
CREATE VIRTUAL TABLE items_rtree USING rtree (id, minx, maxx, miny, maxy, +item INTEGER);
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""

def _upgrade_from_2(c: sqlite3.Connection) -> None:
    """Schema 3: the bounds join the sort indexes; `props` copies each item's properties."""
    c.execute("ALTER TABLE items ADD COLUMN props TEXT NOT NULL DEFAULT '{}'")
    try:
        c.execute("UPDATE items SET props = (SELECT json_extract(d.content, '$.properties')"
                  " FROM item_data d WHERE d.pk = items.pk)")
    except sqlite3.OperationalError:  # JSON SQLite cannot read (NaN, written by Python's json)
        for pk, content in c.execute("SELECT pk, content FROM item_data").fetchall():
            props = json.loads(content).get("properties") or {}
            c.execute("UPDATE items SET props = ? WHERE pk = ?", (json.dumps(props, separators=(",", ":")), pk))
    for statement in SORT_INDEXES.split(";"):
        if statement.strip():
            c.execute(statement)


def create_or_upgrade(c: sqlite3.Connection, path: Path) -> None:
    """The tables of `path`'s catalog, created or upgraded on `c` (in a write transaction);
    `ConfigError` if the file is newer than this install."""
    c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = c.execute("SELECT max(version) FROM schema_version").fetchone()
    version = row[0]
    if version is None:
        for statement in (_SCHEMA + ACCESS_SCHEMA + SORT_INDEXES).split(";"):
            if statement.strip():
                c.execute(statement)
        create_free_text_index(c)
        create_counts(c)
        c.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    elif version < SCHEMA_VERSION:
        if version == 1:
            upgrade_from_1(c)
        if version <= 2:
            _upgrade_from_2(c)
        if version <= 3:
            create_free_text_index(c)
        create_counts(c)  # version 4 -> 5
        c.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    elif version > SCHEMA_VERSION:
        raise ConfigError(
            f"catalog {path} has schema version {version}, newer than this install "
            f"understands ({SCHEMA_VERSION}); upgrade lunar-datacenter"
        )
