"""Item counts kept on write in PostgreSQL, so broad counted searches do not scan (the
pgstac side of `catalog.sqlite.counts`; measured in docs/benchmarks.md, "Access filter").

A capped ``count(*)`` under the access rule reads each counted row's access fields out of
its JSON (10-35 ms at 1 M items for a broad search, 2-5x an administrator's count). Two
small tables in the ``datacenter`` schema answer those searches instead:

    item_counts (collection, access, owner, embargo, releasable) -> n
        every item, grouped by everything the access rule reads (a missing owner or access
        as '', no embargo as -infinity, `releasable` the JSON value or JSON null). The
        access rule runs on the groups (`catalog.pgstac.query.group_access_sql`, built by
        the same code as `access_sql`), so a search restricted only by collections is
        counted exactly.

    item_time_counts (bucket, collection, kind) -> n
        items per `BUCKET_US` span of their ``datetime`` column (the start of a range), by
        kind: 0 public and never embargoed, 1 partners and never embargoed, 2 anything else.
        The buckets wholly inside a datetime-only search's interval give a lower bound of
        what the viewer sees; above the count cap that settles ``numberMatched`` (left out).

How they stay right, whoever writes, without writers waiting for each other:

* A row trigger on pgstac's ``items`` (cloned by PostgreSQL onto every partition, present
  and future, so pypgstac's loader, which writes into partitions, is seen too) appends +1 /
  -1 rows to ``item_count_changes``: plain inserts, no row is ever updated by two writers,
  so concurrent ingests neither block nor deadlock on the counts.
* After each statement on ``items``, `merge_item_counts` folds the changes into the two
  tables, if no other transaction is merging (a try-lock: the others leave theirs for the
  next merge). Readers add the unmerged changes to the tables, so counts are exact at any
  moment; with more than `MAX_CHANGES` unmerged (a bulk load straight into partitions, not
  merged yet) they fall back to counting rows, and the next write or
  ``datacenter catalog migrate`` merges them.
* `write_mark` tells readers whether a collection's items changed since they last looked
  (the generation, bumped by each merge, and the unmerged changes): the API's per-viewer
  collection extents are kept until it moves.
* pgstac drops a collection's partition to delete it, and to repartition it, with no row
  triggers: triggers on ``collections`` drop the collection's counts then (and recount it
  after a repartition). ``TRUNCATE items`` empties the counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from catalog.pgstac.query import group_access_sql
from datacenter.access import ACCESS, EMBARGO_UNTIL, OWNER, RELEASABLE_TO, Viewer

BUCKET_US = 1 << 42  # the datetime bucket of item_time_counts: about 50.9 days (as SQLite's)
MAX_CHANGES = 20_000  # unmerged changes above which readers count rows instead
_LOCK = 7_310_502  # advisory lock id: one merge of the counts at a time per database


def _groups(r: str) -> str:
    """The access-rule group and the time bucket of the items row `r`, as SQL columns."""
    p = f"{r}.content->'properties'"
    return (f"{r}.collection, coalesce({p}->>'{ACCESS}', ''), coalesce({p}->>'{OWNER}', ''),"
            f" coalesce(({p}->>'{EMBARGO_UNTIL}')::timestamptz, '-infinity'),"
            f" coalesce({p}->'{RELEASABLE_TO}', 'null'::jsonb),"
            f" CASE WHEN isfinite({r}.datetime) THEN"
            f" floor(extract(epoch FROM {r}.datetime) * 1000000 / {BUCKET_US})::integer END")


_KIND = ("CASE WHEN embargo > '-infinity' OR access NOT IN ('public', 'partners') THEN 2"
         " WHEN access = 'partners' THEN 1 ELSE 0 END")
_GROUP = "collection, access, owner, embargo, releasable"

# the items (of one collection, or all) counted into changes: a fill, or a recount
_COUNT_ITEMS = (f"INSERT INTO datacenter.item_count_changes SELECT {_groups('i')}, count(*)"
                " FROM pgstac.items i {where} GROUP BY 1, 2, 3, 4, 5, 6")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS datacenter.item_counts (
    collection text NOT NULL, access text NOT NULL, owner text NOT NULL,
    embargo timestamptz NOT NULL, releasable jsonb NOT NULL, n bigint NOT NULL,
    PRIMARY KEY ({_GROUP}));
CREATE TABLE IF NOT EXISTS datacenter.item_time_counts (
    bucket integer NOT NULL, collection text NOT NULL, kind smallint NOT NULL, n bigint NOT NULL,
    PRIMARY KEY (bucket, collection, kind));
CREATE TABLE IF NOT EXISTS datacenter.item_count_changes (
    collection text NOT NULL, access text NOT NULL, owner text NOT NULL,
    embargo timestamptz NOT NULL, releasable jsonb NOT NULL, bucket integer, n integer NOT NULL);
CREATE TABLE IF NOT EXISTS datacenter.item_count_generation (
    one boolean PRIMARY KEY DEFAULT true CHECK (one), g bigint NOT NULL);
INSERT INTO datacenter.item_count_generation (g) VALUES (0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION datacenter.item_count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO datacenter.item_count_changes SELECT {_groups("OLD")}, -1;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO datacenter.item_count_changes SELECT {_groups("NEW")}, 1;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION datacenter.merge_item_counts(wait boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE moved bigint;
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock({_LOCK});
    ELSIF NOT pg_try_advisory_xact_lock({_LOCK}) THEN
        RETURN 0;  -- another transaction is merging: it or the next merge takes ours
    END IF;
    WITH d AS (DELETE FROM datacenter.item_count_changes RETURNING *),
    a AS (INSERT INTO datacenter.item_counts AS c
          SELECT {_GROUP}, sum(n) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
          ON CONFLICT ({_GROUP}) DO UPDATE SET n = c.n + excluded.n),
    b AS (INSERT INTO datacenter.item_time_counts AS c
          SELECT bucket, collection, {_KIND}, sum(n) FROM d WHERE bucket IS NOT NULL
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
          ON CONFLICT (bucket, collection, kind) DO UPDATE SET n = c.n + excluded.n)
    SELECT count(*) INTO moved FROM d;
    IF moved > 0 THEN
        UPDATE datacenter.item_count_generation SET g = g + 1;
        DELETE FROM datacenter.item_counts WHERE n = 0;
        DELETE FROM datacenter.item_time_counts WHERE n = 0;
    END IF;
    RETURN moved;
END $$;
CREATE OR REPLACE FUNCTION datacenter.item_count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM datacenter.merge_item_counts(false);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION datacenter.item_count_forget(collection_id text, recount boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({_LOCK});
    DELETE FROM datacenter.item_counts WHERE collection = collection_id;
    DELETE FROM datacenter.item_time_counts WHERE collection = collection_id;
    DELETE FROM datacenter.item_count_changes WHERE collection = collection_id;
    UPDATE datacenter.item_count_generation SET g = g + 1;
    IF recount THEN
        {_COUNT_ITEMS.format(where="WHERE i.collection = collection_id")};
        PERFORM datacenter.merge_item_counts(true);
    END IF;
END $$;
CREATE OR REPLACE FUNCTION datacenter.item_count_collection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM datacenter.item_count_forget(OLD.id, TG_OP = 'UPDATE');
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION datacenter.item_count_truncate() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    TRUNCATE datacenter.item_counts, datacenter.item_time_counts, datacenter.item_count_changes;
    UPDATE datacenter.item_count_generation SET g = g + 1;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER datacenter_count_row AFTER INSERT OR UPDATE OR DELETE ON pgstac.items
    FOR EACH ROW EXECUTE FUNCTION datacenter.item_count_row();
CREATE OR REPLACE TRIGGER datacenter_count_merge AFTER INSERT OR UPDATE OR DELETE ON pgstac.items
    FOR EACH STATEMENT EXECUTE FUNCTION datacenter.item_count_statement();
CREATE OR REPLACE TRIGGER datacenter_count_truncate AFTER TRUNCATE ON pgstac.items
    FOR EACH STATEMENT EXECUTE FUNCTION datacenter.item_count_truncate();
CREATE OR REPLACE TRIGGER datacenter_count_delete AFTER DELETE ON pgstac.collections
    FOR EACH ROW EXECUTE FUNCTION datacenter.item_count_collection();
CREATE OR REPLACE TRIGGER datacenter_count_repartition AFTER UPDATE ON pgstac.collections
    FOR EACH ROW WHEN (OLD.partition_trunc IS DISTINCT FROM NEW.partition_trunc)
    EXECUTE FUNCTION datacenter.item_count_collection()
"""
# pgstac's roles (its SECURITY DEFINER functions run as pgstac_admin): writers append changes
# (the row trigger runs as the writer), readers read
_GRANTS = """
GRANT USAGE ON SCHEMA datacenter TO {role};
GRANT SELECT ON datacenter.item_counts, datacenter.item_time_counts, datacenter.item_count_changes,
    datacenter.item_count_generation TO {role};
GRANT INSERT ON datacenter.item_count_changes TO {role}
"""


def create_counts(conn: psycopg.Connection[Any]) -> None:
    """Create the tables and triggers (a migration step; safe to run again), fill them from
    the items already there when they are new, and merge any unmerged changes."""
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS datacenter")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        row = conn.execute("SELECT to_regclass('datacenter.item_counts') IS NULL").fetchone()
        new = bool(row and row[0])
        conn.execute(_SCHEMA)  # type: ignore[arg-type]  # several statements: no parameters allowed
        if new:
            conn.execute(_COUNT_ITEMS.format(where=""))  # type: ignore[arg-type]
        conn.execute("SELECT datacenter.merge_item_counts(true)")
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname IN ('pgstac_ingest', 'pgstac_read', 'pgstac_admin')")]
        for role in roles:
            conn.execute(_GRANTS.format(role=role))  # type: ignore[arg-type]


def write_mark(conn: psycopg.Connection[Any], collection_id: str) -> tuple[int, int] | None:
    """A value that changes with every committed write of the collection's items: the
    generation (bumped by each merge) and the collection's unmerged changes (only ever added
    between merges). None without the count tables."""
    row = conn.execute("SELECT (SELECT g FROM datacenter.item_count_generation),"
                       " (SELECT count(*) FROM datacenter.item_count_changes WHERE collection = %s)",
                       (collection_id,)).fetchone()
    return None if row is None or row[0] is None else (int(row[0]), int(row[1]))


def _in_collections(collections: Sequence[str] | None, params: dict[str, Any]) -> str:
    if collections is None:
        return "TRUE"
    params["k_collections"] = list(collections)
    return "collection = ANY(%(k_collections)s)"


def visible_count(conn: psycopg.Connection[Any], viewer: Viewer,
                  collections: Sequence[str] | None) -> int | None:
    """Items in `collections` (None: all) that `viewer` sees by their own access; the caller
    has already cut `collections` to those the viewer sees. Exact; None while more than
    `MAX_CHANGES` changes wait to be merged (count the rows then)."""
    params: dict[str, Any] = {}
    visible = group_access_sql(viewer, params) or "TRUE"
    where = _in_collections(collections, params)
    row = conn.execute(
        f"WITH d AS (SELECT {_GROUP}, n FROM datacenter.item_count_changes LIMIT {MAX_CHANGES + 1})"  # noqa: S608
        f" SELECT (SELECT count(*) FROM d), (SELECT sum(n) FROM (SELECT {_GROUP}, n FROM datacenter.item_counts"
        f" UNION ALL SELECT * FROM d) g WHERE {where} AND {visible})", params).fetchone()
    if row is None or row[0] > MAX_CHANGES:
        return None
    return int(row[1] or 0)


def visible_at_least(conn: psycopg.Connection[Any], viewer: Viewer, collections: Sequence[str] | None,
                     start_us: int, end_us: int) -> int | None:
    """A lower bound of the items in `collections` whose time overlaps [start_us, end_us]
    (microseconds since the epoch) that `viewer` sees: those counted in the buckets wholly
    inside the interval. None while more than `MAX_CHANGES` changes wait to be merged."""
    first = -(-start_us // BUCKET_US)  # the first bucket starting at or after start
    last = (end_us + 1) // BUCKET_US - 1  # the last bucket ending at or before end
    if first > last:
        return 0
    kinds = 2 if viewer.admin else 1 if viewer.partner_id is not None else 0
    params: dict[str, Any] = {"k_first": first, "k_last": last, "k_kind": kinds}
    where = _in_collections(collections, params)
    row = conn.execute(
        f"WITH d AS (SELECT bucket, collection, {_KIND} AS kind, n FROM datacenter.item_count_changes"  # noqa: S608
        f" LIMIT {MAX_CHANGES + 1}) SELECT (SELECT count(*) FROM d), (SELECT sum(n) FROM ("
        "SELECT bucket, collection, kind, n FROM datacenter.item_time_counts UNION ALL SELECT * FROM d) g"
        f" WHERE bucket BETWEEN %(k_first)s AND %(k_last)s AND kind <= %(k_kind)s AND {where})",
        params).fetchone()
    if row is None or row[0] > MAX_CHANGES:
        return None
    return int(row[1] or 0)
