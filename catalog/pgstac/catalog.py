"""The PostgreSQL backend: PostGIS + pgstac, reached through a psycopg 3 connection pool.

Design
------
* pgstac owns the schema (``datacenter catalog migrate`` runs ``pypgstac migrate``); every
  write goes through pgstac's own SQL functions (``upsert_collection``, ``upsert_items``,
  ``delete_collection``); items are read back as pgstac's dehydrated ``content`` and
  hydrated in Python (`catalog.pgstac.hydrate`, pypgstac's own ``hydrate``), not by
  ``content_hydrate`` in SQL (~1.3 ms an item).
* Search: the base of the WHERE clause (collections, ids, datetime, bbox / intersects and
  the access rule) is pgstac's own ``stac_search_to_where``; the user's CQL2 filter and `q`
  are translated by `catalog.pgstac.cql2`, the order and keyset paging by
  `catalog.pgstac.sort`, so results, order and refusals match the SQLite backend (pgstac's
  ``search()`` differs from the contract: its temporal operators, ``casei``, text-typed
  property sorting and NULL placement). One capped ``count(*)`` gives ``numberMatched``
  and a bound on the page's datetime range; the page is one ``ORDER BY ... LIMIT`` query
  that the per-partition datetime indexes serve (`catalog.pgstac.plan`).
* Items are validated by the same code as the SQLite backend (`catalog.items`)
  before any connection is taken, so both backends refuse the same items with the same
  messages; `catalog.pgstac.query` keeps nulls and bbox-only footprints lossless.
* Access: collections are filtered in Python with `datacenter.access.can_see_fields`;
  items with `catalog.pgstac.query.access_sql` (the rule of `visibility_cql2`, written as
  inlinable SQL), and the search is restricted to the collections the viewer may see.
* Counts: ``numberMatched`` is exact up to `count_limit` matches (counting stops there) and
  left out above it (`DATACENTER_SEARCH_COUNT_LIMIT`); pgstac's own API does not count.
  Searches restricted only by collections (and a time span) are counted from the count
  tables of `catalog.pgstac.counts`, for any viewer, without reading rows.
  Hidden records raise the same not-found errors as missing ones.
* Order: datetime desc, then collection and id ascending (as the SQLite backend); paging by
  `catalog.query.paging.PageToken` keyset tokens (the sort values of the last row, and the sort's
  signature), which stay correct under inserts and deletes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import PoolTimeout

from catalog.audit import AuditLog
from catalog.base import (
    DEFAULT_COUNT_LIMIT,
    Catalog,
    SearchPage,
    SearchQuery,
    StacCollection,
    StacItem,
    check_count_limit,
)
from catalog.items import distinct_values, prepare_items
from catalog.partners import PartnerStore
from catalog.pgstac.counts import create_counts, visible_at_least, visible_count, write_mark
from catalog.pgstac.cql2 import compile_pg_filter
from catalog.pgstac.free_text import create_free_text_index, free_text_pg
from catalog.pgstac.hydrate import hydrate_one, hydrate_rows, item_columns, one_item_sql
from catalog.pgstac.partners import PgAuditLog, PgPartnerStore, create_tables
from catalog.pgstac.plan import count_sql, planner_neutral
from catalog.pgstac.pool import open_pool, redact
from catalog.pgstac.query import (
    PLACED_SQL,
    access_sql,
    build_search,
    check_limit,
    from_stored,
    to_stored,
)
from catalog.pgstac.sort import PgSortPlan, plan_pg_sort
from catalog.query.counts import SCAN, from_tables
from catalog.query.paging import PageToken, page_tokens
from catalog.query.viewer_cache import ViewerCache
from datacenter.access import (
    ACCESS,
    ANONYMOUS,
    EMBARGO_UNTIL,
    OWNER,
    RELEASABLE_TO,
    AccessClass,
    Viewer,
    can_see_fields,
)
from datacenter.errors import (
    CatalogUnavailable,
    CollectionNotFound,
    ConfigError,
    InvalidRequest,
    ItemNotFound,
    SearchTimeout,
)

#: the advisory lock key that serialises catalog writes (`PgstacCatalog._write`)
WRITE_LOCK = 0x6463_7772  # "dcwr"

_SESSION = (
    "SET search_path TO pgstac, public; SET TIME ZONE 'UTC';"
    " SET pgstac.context TO 'on'; SET pgstac.readonly TO 'true';"
    " SET pgstac.context_stats_ttl TO '0 seconds';"
    # JIT compiles each broad search (~1.5 s at 1 M items, more than running it): the
    # planner's cost estimates for JSON expressions are far off, and pages are short queries.
    " SET jit TO off"
)


_QUERYABLES = (
    (OWNER, {"type": "string"}, "to_text"),
    (ACCESS, {"type": "string", "enum": [a.value for a in AccessClass]}, "to_text"),
    (RELEASABLE_TO, {"type": "array", "items": {"type": "string"}}, "to_text_array"),
    (EMBARGO_UNTIL, {"type": "string", "format": "date-time"}, "to_tstz"),
)


def migrate(dsn: str) -> str:
    """Install or upgrade PostGIS and pgstac in the database at `dsn`, and register the
    access fields as queryables; returns the pgstac version."""
    from pypgstac.db import PgstacDB
    from pypgstac.migrate import Migrate

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            version = str(Migrate(PgstacDB(connection=conn)).run_migration())
            conn.execute("SET search_path TO pgstac, public")
            for name, definition, wrapper in _QUERYABLES:
                conn.execute("SELECT upsert_queryable(%s, %s, %s)", (name, Jsonb(definition), wrapper))
            conn.execute("RESET ROLE")  # pypgstac leaves the session as pgstac_admin
            create_tables(conn)  # partners, keys, audit (catalog.pgstac.partners)
            create_free_text_index(conn)  # q (catalog.pgstac.free_text)
            create_counts(conn)  # numberMatched of broad searches (catalog.pgstac.counts)
            return version
    except psycopg.Error as exc:
        raise ConfigError(f"cannot migrate the catalog database {redact(dsn)}: {exc}") from None




def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


class PgstacCatalog(Catalog):
    """A catalog in a pgstac database; thread-safe (one pool shared by all threads)."""

    def __init__(self, dsn: str, *, max_size: int = 8, timeout: float = 10.0,
                 count_limit: int = DEFAULT_COUNT_LIMIT) -> None:
        self.dsn = dsn
        self.count_limit = check_count_limit(count_limit)
        self._pool = open_pool(dsn, "catalog", max_size=max_size, timeout=timeout,
                               configure=self._configure)
        with self._conn() as c:
            version = c.execute("SELECT to_regproc('pgstac.get_version') IS NOT NULL,"
                                " to_regclass('datacenter.item_count_changes') IS NOT NULL").fetchone()
        # without the count tables (a database migrated before they existed) rows are counted
        self._has_counts = bool(version and version[1])
        # per-viewer extents and summaries, kept while the collection's write_mark holds
        self._extents, self._summaries = ViewerCache(), ViewerCache()
        if not version or not version[0]:
            self._pool.close()
            raise ConfigError(
                f"the database {redact(dsn)} has no pgstac schema; run `datacenter catalog migrate`"
            )

    @classmethod
    def from_url(cls, url: str, *, count_limit: int = DEFAULT_COUNT_LIMIT) -> PgstacCatalog:
        return cls(url, count_limit=count_limit)

    def __repr__(self) -> str:
        return f"PgstacCatalog({redact(self.dsn)!r})"

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        conn.execute(_SESSION)
        set_json_loads(orjson.loads, conn)  # ~4x json.loads on a page of items

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        with self._unavailable_as_error(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """A transaction that changes collections or items, one at a time across every
        process on the database: pgstac creates and re-constrains a collection's partition
        inside `upsert_items`, and concurrent writers (a batch ingest's threads, another
        ingest) deadlocked there or failed its partition's datetime check (found ingesting
        the real corpus into pgstac, one collection per instrument)."""
        with self._unavailable_as_error(), self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield conn

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        """A lost server (restart, network) is `CatalogUnavailable` (HTTP 503), not a crash.

        The pool checks a connection that sat unused for a while as it hands it out
        (`catalog.pgstac.pool._check_if_idle`), and a lost connection here purges the pool's idle ones, so once
        the server is back requests get fresh connections: no restart of ours needed.
        """
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            if not isinstance(exc, PoolTimeout):
                self._pool.check()  # drop the other idle connections the outage broke
            raise CatalogUnavailable(
                f"the catalog database {redact(self.dsn)} is unavailable ({type(exc).__name__}: "
                f"{str(exc).strip()[:200]}); retry once it is back"
            ) from exc

    def close(self) -> None:
        self._pool.close()

    def partner_store(self) -> PartnerStore:
        return PgPartnerStore(self._conn)

    def audit_log(self) -> AuditLog:
        return PgAuditLog(self._conn)

    # collections ------------------------------------------------------------------
    def upsert_collection(self, collection: StacCollection) -> None:
        cid = collection.get("id") if isinstance(collection, dict) else None
        if not isinstance(cid, str) or not cid:
            raise InvalidRequest("collection has no 'id' (a non-empty string is required)")
        with self._write() as c:
            c.execute("SELECT upsert_collection(%s)", (Jsonb(collection),))

    def _collections(self, conn: psycopg.Connection[Any], viewer: Viewer) -> list[StacCollection]:
        rows = conn.execute("SELECT content FROM collections ORDER BY id").fetchall()
        return [r[0] for r in rows if viewer.admin or can_see_fields(viewer, r[0])]

    def _visible_collection(
        self, conn: psycopg.Connection[Any], collection_id: str, viewer: Viewer
    ) -> StacCollection:
        row = conn.execute("SELECT content FROM collections WHERE id = %s", (collection_id,)).fetchone()
        if row is None or not (viewer.admin or can_see_fields(viewer, row[0])):
            known = [c["id"] for c in self._collections(conn, viewer)]
            listed = ", ".join(repr(k) for k in known[:10]) + (", ..." if len(known) > 10 else "")
            raise CollectionNotFound(
                f"collection {collection_id!r} does not exist; "
                + (f"known collections: {listed}" if known else "the catalog has no collections yet")
            )
        return row[0]  # type: ignore[no-any-return]

    def get_collection(self, collection_id: str, *, viewer: Viewer = ANONYMOUS) -> StacCollection:
        with self._conn() as c:
            return self._visible_collection(c, collection_id, viewer)

    def list_collections(self, *, viewer: Viewer = ANONYMOUS) -> list[StacCollection]:
        with self._conn() as c:
            return self._collections(c, viewer)

    def delete_collection(self, collection_id: str) -> None:
        with self._write() as c:
            self._visible_collection(c, collection_id, Viewer(admin=True))
            c.execute("SELECT delete_collection(%s)", (collection_id,))

    # items ------------------------------------------------------------------------
    def upsert_items(self, items: Iterable[StacItem]) -> int:
        batch = list(items)
        rows = prepare_items(batch)
        if not rows:
            return 0
        latest = {(r.collection, r.id): to_stored(item, r) for item, r in zip(batch, rows, strict=True)}
        wanted = sorted({coll for coll, _ in latest})
        with self._write() as c:
            have = {r[0] for r in c.execute("SELECT id FROM collections WHERE id = ANY(%s)", (wanted,))}
            missing = [cid for cid in wanted if cid not in have]
            if missing:
                first = next(r for r in rows if r.collection == missing[0])
                raise CollectionNotFound(
                    f"item {first.id!r} names collection {missing[0]!r}, which does not exist; "
                    "create the collection first"
                    + (f" (also missing: {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
                )
            try:
                c.execute("SELECT upsert_items(%s)", (Jsonb(list(latest.values())),))
            except (psycopg.errors.RaiseException, psycopg.DataError) as exc:
                raise InvalidRequest(f"pgstac refused the batch: {exc.diag.message_primary}") from None
        return len(latest)

    def get_item(self, collection_id: str, item_id: str, *, viewer: Viewer = ANONYMOUS) -> StacItem:
        with self._conn() as c:
            # one round trip: the collection's access fields, the row and its base items
            found = c.execute(
                f"SELECT c.content, x.* FROM collections c LEFT JOIN LATERAL ("  # noqa: S608
                f"SELECT {item_columns('i')}, {one_item_sql('i')} FROM items i"
                " WHERE i.collection = %(cid)s AND i.id = %(iid)s) x ON TRUE WHERE c.id = %(cid)s",
                {"cid": collection_id, "iid": item_id},
            ).fetchone()
            if found is None or not (viewer.admin or can_see_fields(viewer, found[0])):
                self._visible_collection(c, collection_id, viewer)  # raises, naming the known ones
        item = hydrate_one(found[1:]) if found[1] is not None else None
        if item is None or not (viewer.admin or can_see_fields(viewer, item.get("properties") or {})):
            raise ItemNotFound(f"item {item_id!r} is not in collection {collection_id!r}")
        return from_stored(item)

    def delete_item(self, collection_id: str, item_id: str) -> None:
        with self._write() as c:
            self._visible_collection(c, collection_id, Viewer(admin=True))
            gone = c.execute(
                "DELETE FROM items WHERE collection = %s AND id = %s RETURNING id", (collection_id, item_id)
            ).fetchone()
            if gone is None:
                raise ItemNotFound(f"item {item_id!r} is not in collection {collection_id!r}")

    # search -----------------------------------------------------------------------
    def _visible_ids(self, conn: psycopg.Connection[Any], query: SearchQuery) -> list[str] | None:
        """The collections to search: the request's, narrowed to the viewer's (None: all)."""
        if query.collections is not None and (
            isinstance(query.collections, str) or not all(isinstance(v, str) for v in query.collections)
        ):
            raise InvalidRequest(f"collections must be a list of strings, got {query.collections!r}")
        asked = list(dict.fromkeys(query.collections)) if query.collections else None
        if query.viewer.admin:
            return asked
        rows = conn.execute("SELECT id, content FROM collections ORDER BY id").fetchall()
        visible = [cid for cid, content in rows if can_see_fields(query.viewer, content)]
        if asked is None:
            return None if len(visible) == len(rows) else visible
        allowed = set(visible)
        return [cid for cid in asked if cid in allowed]

    def search(self, query: SearchQuery) -> SearchPage:
        check_limit(query.limit)
        params: dict[str, Any] = {}
        sort = plan_pg_sort(query.sortby, params)
        token = (PageToken.decode(query.token, sort=sort.signature, length=len(sort.keys))
                 if query.token else None)
        wheres = []
        if query.filter is not None:
            wheres.append(compile_pg_filter(query.filter, params))
        if query.q:
            wheres.append(free_text_pg(query.q, params))
        access = access_sql(query.viewer, params)
        if access is not None:
            wheres.append(planner_neutral(access))
        with self._conn() as c:
            collections = self._visible_ids(c, query)
            body = build_search(query, collections, query.viewer)
            if collections is not None and not collections:
                return SearchPage(items=[], number_matched=0)
            forward = token is None or token.direction == "next"
            if self.search_timeout:  # this search only: reset below, before the pool has it back
                c.execute("SELECT set_config('statement_timeout', %s, false)",
                          (f"{max(1, int(self.search_timeout * 1000))}ms",))
            try:
                row = c.execute("SELECT stac_search_to_where(%s)", (Jsonb(body),)).fetchone()
                base = (row[0] if row else None) or "TRUE"
                where = " AND ".join(f"({w})" for w in [base.replace("%", "%%"), *wheres])
                after = sort.after(token.key, forward, params) if token is not None else None
                counted = self._count_from_tables(c, query, collections)
                matched, bound = (self._count(c, where, params, sort, after, forward, query.limit)
                                  if counted is SCAN else (cast("int | None", counted), None))
                if after is not None:
                    where += f" AND ({after})"
                if bound is not None:
                    params["page_bound"] = bound
                    where += f" AND {sort.keys[0].sql} {sort.first_bound(forward)[1]} %(page_bound)s"
                keys = ", ".join(f"p.k{n}" for n in range(len(sort.keys)))
                rows = c.execute(
                    f"SELECT {item_columns('p')}, {keys} FROM ("  # noqa: S608 - values are parameters
                    f"SELECT i.id, i.collection, i.geometry, i.content, {sort.select}"
                    f" FROM items i WHERE {where}{sort.order_by(forward)} LIMIT {query.limit + 1}) p",
                    params,
                ).fetchall()
                more = len(rows) > query.limit
                rows = rows[: query.limit]
                if not forward:
                    rows.reverse()
                items = hydrate_rows(c, rows)
            except psycopg.Error as exc:
                raise self._search_error(exc) from None
            finally:
                if self.search_timeout:
                    c.execute("RESET statement_timeout")
        next_token, prev_token = page_tokens(
            [tuple(r[4:]) for r in rows], more=more, after_token=token is not None,
            forward=forward, sort=sort.signature,
        )
        return SearchPage(
            items=[from_stored(item) for item in items],
            number_matched=matched,
            next_token=next_token,
            prev_token=prev_token,
        )

    def _count_from_tables(self, conn: psycopg.Connection[Any], query: SearchQuery,
                           collections: list[str] | None) -> int | None | object:
        """`numberMatched` from the count tables (`catalog.pgstac.counts`) when they decide
        it: a search restricted by collections only (exact), or by collections and a time
        span with more visible matches than the cap; else `SCAN` (count the rows)."""
        if (self.count_limit == 0 or not self._has_counts or query.bbox is not None
                or query.intersects is not None or query.ids or query.filter is not None or query.q):
            return SCAN
        return from_tables(query.datetime, self.count_limit,
                           lambda: visible_count(conn, query.viewer, collections),
                           lambda start, end: visible_at_least(conn, query.viewer, collections, start, end))

    def _count(
        self, conn: psycopg.Connection[Any], where: str, params: dict[str, Any], sort: PgSortPlan,
        after: str | None, forward: bool, limit: int,
    ) -> tuple[int | None, Any]:
        """The number of matches (None above `count_limit`: counting stops there), and a
        bound on the page's first sort key (`catalog.pgstac.plan.count_sql`), or None."""
        if self.count_limit == 0:
            return None, None
        row = conn.execute(count_sql(where, sort, after, forward, limit, self.count_limit), params).fetchone()
        total, first = (int(row[0]), row[1]) if row else (0, None)
        return (None if total > self.count_limit else total), first

    @staticmethod
    def _search_error(exc: psycopg.Error) -> Exception:
        """A value PostgreSQL cannot read (a text compared as a timestamp, a bad geometry)
        is the request's fault; anything else is ours and stays a 500."""
        message = (exc.diag.message_primary if exc.diag else None) or str(exc)
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return SearchTimeout(
                "the search ran longer than its time budget (DATACENTER_API_SEARCH_TIMEOUT) and "
                "was stopped; narrow it (collections, a time span, a smaller area) or retry later"
            )
        if isinstance(exc, psycopg.errors.RaiseException | psycopg.DataError):
            return InvalidRequest(f"the search cannot be run: {message}")
        if isinstance(exc, psycopg.errors.UndefinedFunction) and "item_text" in message:
            return ConfigError(f"the catalog database has no free-text index yet ({message}); "
                               "run `datacenter catalog migrate` once to create it")
        if isinstance(exc, psycopg.errors.CannotCoerce) or (
                isinstance(exc, psycopg.errors.UndefinedFunction) and "operator does not exist" in message):
            # arithmetic on a time or a text (`-datetime > TIMESTAMP(...)`): the filter's fault
            return InvalidRequest(f"the filter combines values PostgreSQL cannot ({message}); "
                                  "arithmetic needs numbers on both sides")
        return exc

    # extent -----------------------------------------------------------------------
    def collection_extent(self, collection_id: str, *, viewer: Viewer = ANONYMOUS) -> dict[str, Any]:
        """The extent of what `viewer` sees, kept per (collection, viewer) while the items'
        `write_mark` stays the same and for at most a minute (`catalog.query.viewer_cache`);
        ~110 ms per computation at 1 M items."""
        with self._conn() as c:
            self._visible_collection(c, collection_id, viewer)
            mark = write_mark(c, collection_id) if self._has_counts else None
            extent = self._extents.get((collection_id, viewer), mark)
            if extent is not None:
                return extent  # type: ignore[no-any-return]
            params: dict[str, Any] = {"cid": collection_id}
            where = access_sql(viewer, params) or "TRUE"
            row = c.execute(
                "SELECT st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e), t0, t1 FROM ("  # noqa: S608
                f"SELECT st_extent(geometry) FILTER (WHERE {PLACED_SQL})::geometry AS e, min(datetime) AS t0,"
                f" max(end_datetime) AS t1 FROM items WHERE collection = %(cid)s AND ({where})) x",
                params,
            ).fetchone()
        extent = self._extent_of(row)
        self._extents.put((collection_id, viewer), mark, extent)
        return extent

    def collection_summaries(
        self, collection_id: str, fields: Sequence[str], *, viewer: Viewer = ANONYMOUS
    ) -> dict[str, list[Any]]:
        """Kept per (collection, viewer, fields) exactly as `collection_extent` is."""
        fields = tuple(fields)
        key = (collection_id, viewer, fields)
        with self._conn() as c:
            self._visible_collection(c, collection_id, viewer)
            mark = write_mark(c, collection_id) if self._has_counts else None
            summaries = self._summaries.get(key, mark)
            if summaries is not None:
                return summaries  # type: ignore[no-any-return]
            params: dict[str, Any] = {"cid": collection_id}
            where = access_sql(viewer, params) or "TRUE"
            columns = []
            for n, name in enumerate(fields):
                params[f"f{n}"] = name
                columns.append(f"content->'properties'->%(f{n})s")
            # one pass: the distinct combinations (few: products of a collection share them)
            rows = c.execute(
                f"SELECT DISTINCT {', '.join(columns)} FROM items"  # noqa: S608
                f" WHERE collection = %(cid)s AND ({where})",
                params,
            ).fetchall()
        summaries = distinct_values(fields, rows)
        self._summaries.put(key, mark, summaries)
        return summaries

    @staticmethod
    def _extent_of(row: tuple[Any, ...] | None) -> dict[str, Any]:
        if row is None:
            row = (None,) * 6
        w, s, e, n, t0, t1 = row
        if w is None:  # no item, or only placeless ones (geometry null, no bbox): times only
            return {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[_iso(t0), _iso(t1)]]},
            }
        return {
            "spatial": {"bbox": [[float(w), float(s), float(e), float(n)]]},
            "temporal": {"interval": [[_iso(t0), _iso(t1)]]},
        }

