"""The SQLite catalog backend: one file, WAL, an R*Tree of footprint boxes.

Design
------
* One connection per thread, WAL mode (`catalog.sqlite.connection`), so the API's threadpool
  and an ingest process can read while one writer writes. Writes run in ``BEGIN IMMEDIATE``
  transactions; a search reads its count and its page from one snapshot. The tables and
  their upgrades: `catalog.sqlite.schema`.
* ``items`` is narrow: ids, integer microsecond times, the footprint's bounds and whether
  the footprint is exactly its bounding rectangle; ``item_data`` holds the item JSON as text
  (returned with one ``json.loads``, fetched only for the rows of the page) and the WKB. ``items_rtree`` holds one box per polygon part (R*Tree id
  ``pk * 1024 + part``, auxiliary column ``item`` = the item's ``pk``), so antimeridian
  MultiPolygons are found from either side.
* Search: R*Tree prefilter, then exact double-precision box tests in SQL for rectangular
  footprints and a vectorised shapely test (prepared query geometry) for the rest, applied
  while walking the sorted rows so pages stay full. Order: datetime desc, collection, id;
  paging by keyset tokens (`catalog.query.paging`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from catalog.audit import AuditLog
from catalog.base import (
    DEFAULT_COUNT_LIMIT,
    MAX_LIMIT,
    Catalog,
    SearchPage,
    SearchQuery,
    StacCollection,
    StacItem,
    check_count_limit,
)
from catalog.items import access_columns, distinct_values, load_json, prepare_items
from catalog.partners import PartnerStore
from catalog.query.counts import SCAN, from_tables
from catalog.query.paging import PageToken, page_tokens
from catalog.query.temporal import from_us
from catalog.query.viewer_cache import ViewerCache
from catalog.sqlite.access import (
    collection_visibility,
    item_visibility,
    releasable_mask,
    visibility_sql,
    write_collection_access,
)
from catalog.sqlite.connection import SQLiteConnections
from catalog.sqlite.counts import visible_at_least, visible_count
from catalog.sqlite.query import Plan, plan_search
from catalog.sqlite.schema import RTREE_STRIDE, create_or_upgrade
from catalog.sqlite.sort import SortPlan, plan_sort
from datacenter.access import ANONYMOUS, SYSTEM, Viewer
from datacenter.errors import (
    CollectionNotFound,
    ConfigError,
    InvalidRequest,
    ItemNotFound,
    SearchTimeout,
)

_ONE_PASS_ROWS = 20_000  # R*Tree candidates read at once to count and page in one pass


class SQLiteCatalog(SQLiteConnections, Catalog):
    """A catalog in one SQLite file; safe for many reader threads/processes and one writer."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 count_limit: int = DEFAULT_COUNT_LIMIT) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.count_limit = check_count_limit(count_limit)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the catalog folder {self.path.parent}: {exc}") from None
        self._open_connections()
        # per-viewer extents and summaries, kept until the next write (the generation in `meta`)
        self._extents, self._summaries = ViewerCache(), ViewerCache()
        self._create_schema()

    @classmethod
    def from_url(cls, url: str, *, count_limit: int = DEFAULT_COUNT_LIMIT) -> SQLiteCatalog:
        """``sqlite:///abs/path.sqlite`` (or ``sqlite:////abs/path``); relative paths also work."""
        if not url.startswith("sqlite://"):
            raise ConfigError(f"catalog URL {url!r} is not a sqlite:/// URL")
        rest = url[len("sqlite://"):].split("?", 1)[0]
        if rest.startswith("//"):
            rest = rest[1:]
        if rest in ("", "/", "/:memory:", ":memory:"):
            raise ConfigError(
                f"catalog URL {url!r} names no file; use sqlite:///path/to/catalog.sqlite "
                "(in-memory catalogs are not shared between threads)"
            )
        return cls(Path(rest), count_limit=count_limit)

    inline_lookups = True  # an item by id is one indexed read of a local file

    def __repr__(self) -> str:
        return f"SQLiteCatalog({str(self.path)!r})"

    def partner_store(self) -> PartnerStore:
        from catalog.sqlite.partners import SQLitePartnerStore

        return SQLitePartnerStore(self.path)

    def audit_log(self) -> AuditLog:
        from catalog.sqlite.partners import SQLiteAuditLog, audit_path, move_audit_out

        move_audit_out(self.path, self.timeout)
        return SQLiteAuditLog(audit_path(self.path))

    def _create_schema(self) -> None:
        with self._write() as c:  # statement by statement: executescript would COMMIT midway
            create_or_upgrade(c, self.path)

    # collections ------------------------------------------------------------------
    def upsert_collection(self, collection: StacCollection) -> None:
        cid = collection.get("id") if isinstance(collection, dict) else None
        if not isinstance(cid, str) or not cid:
            raise InvalidRequest("collection has no 'id' (a non-empty string is required)")
        content = json.dumps(collection, separators=(",", ":"), ensure_ascii=False)
        access = access_columns(collection, f"collection {cid!r}")
        with self._write() as c:
            c.execute(
                "INSERT INTO collections (id, content) VALUES (?, ?)"
                " ON CONFLICT (id) DO UPDATE SET content = excluded.content",
                (cid, content),
            )
            write_collection_access(c, cid, access)

    def get_collection(self, collection_id: str, *, viewer: Viewer = ANONYMOUS) -> StacCollection:
        visible, params = collection_visibility(viewer)
        with self._read() as c:
            row = c.execute(
                f"SELECT content FROM collections c WHERE id = :cid AND {visible}",
                {**params, "cid": collection_id},
            ).fetchone()
            if row is None:
                raise self._collection_not_found(c, collection_id, viewer)
        return json.loads(row[0])

    def list_collections(self, *, viewer: Viewer = ANONYMOUS) -> list[StacCollection]:
        visible, params = collection_visibility(viewer)
        rows = self._conn().execute(
            f"SELECT content FROM collections c WHERE {visible} ORDER BY id", params
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete_collection(self, collection_id: str) -> None:
        with self._write() as c:
            if c.execute("SELECT 1 FROM collections WHERE id = ?", (collection_id,)).fetchone() is None:
                raise self._collection_not_found(c, collection_id)
            rows = c.execute(
                "SELECT pk, nboxes FROM items WHERE collection = ?", (collection_id,)
            ).fetchall()
            self._delete_boxes(c, rows)
            c.executemany("DELETE FROM item_data WHERE pk = ?", ((pk,) for pk, _ in rows))
            c.executemany("DELETE FROM item_releasable WHERE key = ?", ((pk,) for pk, _ in rows))
            c.execute("DELETE FROM items WHERE collection = ?", (collection_id,))
            c.execute("DELETE FROM collection_releasable WHERE key = ?", (collection_id,))
            c.execute("DELETE FROM collections WHERE id = ?", (collection_id,))

    @staticmethod
    def _collection_not_found(
        conn: sqlite3.Connection, collection_id: str, viewer: Viewer = SYSTEM
    ) -> CollectionNotFound:
        """The 404 for a missing *or hidden* collection: it names only collections `viewer` sees."""
        visible, params = collection_visibility(viewer)
        known = [r[0] for r in conn.execute(
            f"SELECT id FROM collections c WHERE {visible} ORDER BY id LIMIT 11", params
        )]
        listed = ", ".join(repr(k) for k in known[:10]) + (", ..." if len(known) > 10 else "")
        return CollectionNotFound(
            f"collection {collection_id!r} does not exist; "
            + (f"known collections: {listed}" if known else "the catalog has no collections yet")
        )

    @staticmethod
    def _delete_boxes(conn: sqlite3.Connection, rows: Iterable[tuple[int, int]]) -> None:
        conn.executemany(
            "DELETE FROM items_rtree WHERE id = ?",
            ((pk * RTREE_STRIDE + part,) for pk, nboxes in rows for part in range(nboxes)),
        )

    # items ------------------------------------------------------------------------
    def upsert_items(self, items: Iterable[StacItem]) -> int:
        rows = prepare_items(items)
        if not rows:
            return 0
        with self._write() as c:
            wanted = sorted({r.collection for r in rows})
            have = {
                r[0] for r in c.execute(
                    "SELECT id FROM collections WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
            }
            missing = [cid for cid in wanted if cid not in have]
            if missing:
                first = next(r for r in rows if r.collection == missing[0])
                raise CollectionNotFound(
                    f"item {first.id!r} names collection {missing[0]!r}, which does not exist; "
                    "create the collection first"
                    + (f" (also missing: {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
                )
            rows = list({(r.collection, r.id): r for r in rows}.values())  # last one wins
            existing = {
                (coll, iid): (pk, nboxes)
                for coll, iid, pk, nboxes in c.execute(
                    "SELECT i.collection, i.id, i.pk, i.nboxes FROM json_each(?) AS j"
                    " JOIN items i ON i.id = j.value ->> 1 AND i.collection = j.value ->> 0",
                    (json.dumps([[r.collection, r.id] for r in rows]),),
                )
            }
            self._delete_boxes(c, existing.values())
            next_pk = (c.execute("SELECT max(pk) FROM items").fetchone()[0] or 0) + 1
            inserts, updates, boxes, data = [], [], [], []
            releasable: list[tuple[int, str]] = []
            touched: list[tuple[int]] = []
            max_span = 0
            for r in rows:
                old = existing.get((r.collection, r.id))
                if old is None:
                    pk, next_pk = next_pk, next_pk + 1
                else:
                    pk = old[0]
                a = r.access
                values = (r.collection, r.id, r.dt, r.start, r.end, *r.bounds, int(r.needs_exact),
                          int(r.crosses), len(r.boxes), a.owner, a.klass, a.embargo,
                          releasable_mask(c, a.releasable_to), r.props, pk)
                releasable.extend((pk, partner) for partner in a.releasable_to)
                touched.append((pk,))
                (inserts if old is None else updates).append(values)
                data.append((r.wkb, r.content, pk))
                boxes.extend(
                    (pk * RTREE_STRIDE + part, bw, be, bs, bn, pk)
                    for part, (bw, bs, be, bn) in enumerate(r.boxes)
                )
                max_span = max(max_span, max(r.end, r.dt) - min(r.start, r.dt))
            c.executemany(
                "INSERT INTO items (collection, id, dt, t_start, t_end, w, s, e, n, needs_exact,"
                " crosses, nboxes, acc_owner, acc_class, acc_embargo, acc_rel_mask, props, pk)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
            c.executemany(
                "UPDATE items SET collection = ?, id = ?, dt = ?, t_start = ?, t_end = ?, w = ?, s = ?,"
                " e = ?, n = ?, needs_exact = ?, crosses = ?, nboxes = ?, acc_owner = ?,"
                " acc_class = ?, acc_embargo = ?, acc_rel_mask = ?, props = ? WHERE pk = ?",
                updates,
            )
            if updates:
                c.executemany("DELETE FROM item_releasable WHERE key = ?", touched)
            c.executemany("INSERT INTO item_releasable (key, partner) VALUES (?, ?)", releasable)
            c.executemany("INSERT OR REPLACE INTO item_data (geom, content, pk) VALUES (?, ?, ?)", data)
            c.executemany("INSERT INTO items_rtree VALUES (?, ?, ?, ?, ?, ?)", boxes)
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('max_span', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                (max_span,),
            )
        return len(rows)

    def get_item(self, collection_id: str, item_id: str, *, viewer: Viewer = ANONYMOUS) -> StacItem:
        visible, params = item_visibility(viewer)
        with self._read() as c:
            row = c.execute(
                "SELECT d.content FROM items i JOIN item_data d ON d.pk = i.pk"
                f" WHERE i.id = :iid AND i.collection = :cid AND {visible}",
                {**params, "iid": item_id, "cid": collection_id},
            ).fetchone()
            if row is None:
                raise self._item_not_found(c, collection_id, item_id, viewer)
        return load_json(row[0])

    def delete_item(self, collection_id: str, item_id: str) -> None:
        with self._write() as c:
            row = c.execute(
                "SELECT pk, nboxes FROM items WHERE id = ? AND collection = ?", (item_id, collection_id)
            ).fetchone()
            if row is None:
                raise self._item_not_found(c, collection_id, item_id)
            self._delete_boxes(c, [row])
            c.execute("DELETE FROM item_releasable WHERE key = ?", (row[0],))
            c.execute("DELETE FROM items WHERE pk = ?", (row[0],))
            c.execute("DELETE FROM item_data WHERE pk = ?", (row[0],))

    def _item_not_found(
        self, conn: sqlite3.Connection, collection_id: str, item_id: str, viewer: Viewer = SYSTEM
    ) -> CollectionNotFound | ItemNotFound:
        visible, params = collection_visibility(viewer)
        if conn.execute(
            f"SELECT 1 FROM collections c WHERE id = :cid AND {visible}", {**params, "cid": collection_id}
        ).fetchone() is None:
            return self._collection_not_found(conn, collection_id, viewer)
        return ItemNotFound(f"item {item_id!r} is not in collection {collection_id!r}")

    # search -----------------------------------------------------------------------
    def search(self, query: SearchQuery) -> SearchPage:
        if not isinstance(query.limit, int) or not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit {query.limit!r} is out of range; use 1 to {MAX_LIMIT}")
        sort = plan_sort(query.sortby)
        nkeys = len(sort.keys)
        token = (PageToken.decode(query.token, sort=sort.signature, length=nkeys)
                 if query.token else None)
        with self._read() as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'max_span'").fetchone()
            scoped, only = self._visible_scope(c, query)
            if scoped is None:  # only hidden (or no) collections asked for
                return SearchPage(items=[], number_matched=0)
            plan = plan_search(
                scoped, max_span=row[0] if row else 0,
                total=c.execute("SELECT max(pk) FROM items").fetchone()[0] or 0,
                want=query.limit + 1 + (self.count_limit + 1 if self.count_limit else 0),
                in_time_order=not sort.signature,
            )
            if plan is None:  # provably empty (e.g. an empty id list)
                return SearchPage(items=[], number_matched=0)
            visible, params = visibility_sql(query.viewer, "i", "item_releasable", "pk")
            if visible != "1":  # first: a few integer compares, before any property is read
                plan.where = f"{visible} AND {plan.where}"
                plan.params.update(params)
            if only is not None:
                # With a place or ids, the R*Tree / id lookup is the way in: unary + keeps the
                # planner (which has no statistics) from walking the collection index instead.
                # Without them, the collection index is the best way in.
                plus = "+" if (query.bbox or query.intersects or query.ids) else ""
                plan.where += f" AND {plus}i.collection IN (SELECT value FROM json_each(:v_colls))"
                plan.params["v_colls"] = json.dumps(only)
            forward = token is None or token.direction == "next"
            with self._time_budget(c):
                one_pass = self._one_pass(c, plan, sort, token.key if token else None, forward,
                                          query.limit + 1)
                if one_pass is not None:
                    matched, rows = one_pass
                else:
                    counted = self._count_from_tables(c, query, scoped, only)
                    matched = self._count(c, plan) if counted is SCAN else cast("int | None", counted)
                    rows = self._walk(c, plan, sort, token.key if token else None, forward,
                                      query.limit + 1)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        if not forward:
            rows.reverse()
        next_token, prev_token = page_tokens(
            [tuple(r[:nkeys]) for r in rows], more=more, after_token=token is not None,
            forward=forward, sort=sort.signature,
        )
        return SearchPage(
            items=[load_json(r[-1]) for r in rows],
            number_matched=matched,
            next_token=next_token,
            prev_token=prev_token,
        )

    @contextmanager
    def _time_budget(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Stop the statements of one search after `search_timeout` seconds: a progress
        handler (every 1,000 virtual-machine steps) interrupts them (`SearchTimeout`)."""
        if not self.search_timeout:
            yield
            return
        deadline = time.monotonic() + self.search_timeout
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 1_000)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc) or time.monotonic() <= deadline:
                raise
            raise SearchTimeout(
                f"the search ran longer than its {self.search_timeout:g} s budget "
                "(DATACENTER_API_SEARCH_TIMEOUT) and was stopped; narrow it (collections, a "
                "time span, a smaller area) or retry later"
            ) from None
        finally:
            conn.set_progress_handler(None, 0)

    @staticmethod
    def _visible_scope(
        c: sqlite3.Connection, query: SearchQuery
    ) -> tuple[SearchQuery | None, list[str] | None]:
        """The collections part of the access rule, resolved by one small query up front so
        the per-row condition is only the item's own access: (`query` with its `collections`
        cut to the visible ones, or None when nothing can match; the visible collections to
        require when the query names none but some are hidden, else None)."""
        if query.viewer.admin:
            return query, None
        where, params = collection_visibility(query.viewer)
        flags = c.execute(f"SELECT c.id, {where} FROM collections c", params).fetchall()
        visible = [cid for cid, ok in flags if ok]
        if query.collections:
            if isinstance(query.collections, str) or not all(isinstance(v, str) for v in query.collections):
                raise InvalidRequest(f"collections must be a list of strings, got {query.collections!r}")
            asked = set(query.collections)
            wanted = [cid for cid in visible if cid in asked]
            return (replace(query, collections=wanted) if wanted else None), None
        if len(visible) < len(flags):
            return (query if visible else None), visible
        return query, None  # every collection is visible: no collection condition needed

    def _one_pass(
        self,
        conn: sqlite3.Connection,
        plan: Plan,
        sort: SortPlan,
        key: tuple[Any, ...] | None,
        forward: bool,
        want: int,
    ) -> tuple[int | None, list[tuple[Any, ...]]] | None:
        """(count, page rows) from one read of the candidates, when the R*Tree drives the
        search in the default order: the count and the page would each probe every R*Tree hit
        (and the page sort them all), so both come from one pass, sorted here. None when that
        does not apply or the candidates exceed `_ONE_PASS_ROWS` (the count and walk run)."""
        if sort.signature or "items_rtree" not in plan.where:
            return None
        cursor = conn.execute(f"SELECT i.dt, i.collection, i.id, i.pk, {plan.sure_sql} FROM items i"
                              f" WHERE {plan.where} LIMIT {_ONE_PASS_ROWS + 1}", plan.params)
        rows = cursor.fetchall()
        if len(rows) > _ONE_PASS_ROWS:
            return None
        rejected = self._rejected(conn, plan, [r[3] for r in rows if not r[4]])
        if rejected:
            rows = [r for r in rows if r[3] not in rejected]
        cap = self.count_limit
        matched = None if cap == 0 or len(rows) > cap else len(rows)

        def order(r: tuple[Any, ...]) -> tuple[Any, ...]:  # dt DESC, collection, id
            return (-r[0], r[1], r[2])

        if key is not None:
            mark = order(key)
            rows = [r for r in rows if (order(r) > mark) == forward and order(r) != mark]
        rows.sort(key=order, reverse=not forward)
        return matched, self._with_content(conn, [r[:4] for r in rows[:want]])

    def _count_from_tables(self, conn: sqlite3.Connection, query: SearchQuery, scoped: SearchQuery,
                           only: list[str] | None) -> int | None | object:
        """`numberMatched` from the count tables (`catalog.sqlite.counts`) when they decide
        it: a search restricted by collections only (exact), or by collections and a time
        span with more visible matches than the cap; else `SCAN`."""
        if self.count_limit == 0:
            return None
        bare = replace(scoped, collections=None, datetime=None, token=None, sortby=None)
        rest = plan_search(bare, max_span=0)
        if rest.where != "1" or rest.sure_sql != "1":
            return SCAN  # a place, ids, a filter...: only a scan can count them
        collections = list(scoped.collections) if scoped.collections else only
        return from_tables(scoped.datetime, self.count_limit,
                           lambda: visible_count(conn, query.viewer, collections),
                           lambda start, end: visible_at_least(conn, query.viewer, collections, start, end))

    def _count(self, conn: sqlite3.Connection, plan: Plan) -> int | None:
        """The number of matches, or None if more than `count_limit` match (counting stops
        there, so a broad search costs at most `count_limit` rows)."""
        cap = self.count_limit
        if cap == 0:
            return None
        if plan.sure_sql == "1":
            sql = f"SELECT count(*) FROM (SELECT 1 FROM items i WHERE {plan.where} LIMIT {cap + 1})"
            total = int(conn.execute(sql, plan.params).fetchone()[0])
            return None if total > cap else total
        # One pass over the candidates (an R*Tree-driven scan costs a row probe per hit, so it
        # is not run twice): sure rows are counted, the others' footprints tested in batches.
        total, uncertain = 0, []

        def exact(pks: list[int]) -> int:
            blobs = [r[0] for r in conn.execute(
                "SELECT geom FROM item_data WHERE pk IN (SELECT value FROM json_each(?))", (json.dumps(pks),),
            ).fetchall()]
            return int(plan.hits(blobs).sum())

        cursor = conn.execute(f"SELECT i.pk, {plan.sure_sql} FROM items i WHERE {plan.where}", plan.params)
        while total <= cap and (rows := cursor.fetchmany(4096)):
            total += sum(1 for _, ok in rows if ok)
            uncertain += [pk for pk, ok in rows if not ok]
            if len(uncertain) >= 4096:
                total += exact(uncertain)
                uncertain = []
        if uncertain and total <= cap:
            total += exact(uncertain)
        cursor.close()
        return None if total > cap else total

    @staticmethod
    def _rejected(conn: sqlite3.Connection, plan: Plan, uncertain: list[int]) -> set[int]:
        """Which of the `uncertain` candidates (pks) fail the exact footprint tests."""
        if not uncertain:
            return set()
        geoms = dict(conn.execute(
            "SELECT pk, geom FROM item_data WHERE pk IN (SELECT value FROM json_each(?))",
            (json.dumps(uncertain),),
        ).fetchall())
        hits = plan.hits([geoms[pk] for pk in uncertain])
        return {pk for pk, hit in zip(uncertain, hits, strict=True) if not hit}

    def _walk(
        self,
        conn: sqlite3.Connection,
        plan: Plan,
        sort: SortPlan,
        key: tuple[Any, ...] | None,
        forward: bool,
        want: int,
    ) -> list[tuple[Any, ...]]:
        """Up to `want` matching rows (*sort key, pk, content) in page order after `key`;
        exact tests run batch by batch, so rejected candidates never shorten a page."""
        nkeys = len(sort.keys)
        base = (f"SELECT {sort.select}, i.pk, {plan.sure_sql} FROM items i"
                f" WHERE {plan.where}")
        order = sort.order_by(forward)
        accepted: list[tuple[Any, ...]] = []
        batch = want if plan.sure_sql == "1" else max(want, 64)
        while True:
            params = {**plan.params, **sort.params}
            sql = base
            if key is not None:
                sql += f" AND ({sort.after(key, forward, params)})"
            rows = conn.execute(f"{sql}{order} LIMIT {batch}", params).fetchall()
            rejected = self._rejected(conn, plan, [r[nkeys] for r in rows if not r[nkeys + 1]])
            for r in rows:
                if r[nkeys] not in rejected:
                    accepted.append(r[: nkeys + 1])
                    if len(accepted) == want:
                        return self._with_content(conn, accepted)
            if len(rows) < batch:
                return self._with_content(conn, accepted)
            key = tuple(rows[-1][:nkeys])
            batch = min(batch * 4, 50_000)

    @staticmethod
    def _with_content(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not rows:
            return rows
        content = dict(conn.execute(
            "SELECT pk, content FROM item_data WHERE pk IN (SELECT value FROM json_each(?))",
            (json.dumps([r[-1] for r in rows]),),
        ).fetchall())
        return [(*r, content[r[-1]]) for r in rows]

    # extent -----------------------------------------------------------------------
    def collection_extent(self, collection_id: str, *, viewer: Viewer = ANONYMOUS) -> dict[str, Any]:
        """The extent of what `viewer` sees, kept per (collection, viewer) until the next
        write and for at most a minute (`catalog.query.viewer_cache`)."""
        generation = self._generation()
        extent = self._extents.get((collection_id, viewer), generation)
        if extent is None:
            extent = self._compute_extent(collection_id, viewer)
            self._extents.put((collection_id, viewer), generation, extent)
        return extent  # type: ignore[no-any-return]

    def collection_summaries(
        self, collection_id: str, fields: Sequence[str], *, viewer: Viewer = ANONYMOUS
    ) -> dict[str, list[Any]]:
        """Kept per (collection, viewer, fields) exactly as `collection_extent` is."""
        generation, key = self._generation(), (collection_id, viewer, tuple(fields))
        summaries = self._summaries.get(key, generation)
        if summaries is None:
            summaries = self._compute_summaries(collection_id, tuple(fields), viewer)
            self._summaries.put(key, generation, summaries)
        return summaries  # type: ignore[no-any-return]

    def _generation(self) -> int:
        with self._read() as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _compute_summaries(self, collection_id: str, fields: tuple[str, ...], viewer: Viewer) -> dict[str, list[Any]]:
        """One pass over the visible rows: the distinct combinations of the fields' JSON
        values (few: products of a collection share them), expanded here."""
        c_visible, c_params = collection_visibility(viewer)
        i_visible, i_params = visibility_sql(viewer, "i", "item_releasable", "pk")
        params: dict[str, Any] = {**c_params, **i_params, "cid": collection_id}
        columns = []
        for n, name in enumerate(fields):
            params[f"path{n}"] = "$." + json.dumps(name)  # $."processing:level"
            columns.append(f"json_quote(json_extract(i.props, :path{n}))")
        with self._read() as c:
            if c.execute(f"SELECT 1 FROM collections c WHERE id = :cid AND {c_visible}", params).fetchone() is None:
                raise self._collection_not_found(c, collection_id, viewer)
            try:
                rows = [[load_json(v) for v in row] for row in c.execute(
                    f"SELECT DISTINCT {', '.join(columns)} FROM items i"  # noqa: S608
                    f" WHERE i.collection = :cid AND {i_visible}", params)]  # fmt: skip
            except sqlite3.OperationalError:  # JSON SQLite cannot read (NaN): read it here
                rows = []
                for (props,) in c.execute(f"SELECT i.props FROM items i WHERE i.collection = :cid"  # noqa: S608
                                          f" AND {i_visible}", params):  # fmt: skip
                    loaded = load_json(props)
                    rows.append([loaded.get(name) for name in fields])
        return distinct_values(fields, rows)

    def _compute_extent(self, collection_id: str, viewer: Viewer) -> dict[str, Any]:
        c_visible, c_params = collection_visibility(viewer)
        i_visible, i_params = visibility_sql(viewer, "i", "item_releasable", "pk")
        with self._read() as c:
            if c.execute(
                f"SELECT 1 FROM collections c WHERE id = :cid AND {c_visible}",
                {**c_params, "cid": collection_id},
            ).fetchone() is None:
                raise self._collection_not_found(c, collection_id, viewer)
            # Only columns of the covering (collection, dt DESC, ...) index: no row is read. A
            # footprint across the antimeridian has bounds spanning -180..180 (it is split
            # there), so such a collection's box spans the globe, as one box must.
            row = c.execute(
                "SELECT count(*), min(w), min(s), max(e), max(n),"
                " min(min(t_start, dt)), max(max(t_end, dt)) FROM items i"
                f" WHERE collection = :cid AND {i_visible}",
                {**i_params, "cid": collection_id},
            ).fetchone()
        count, w, s, e, n, t0, t1 = row
        if count and w > e:  # only placeless items (geometry null): no spatial extent known
            w, s, e, n = -180.0, -90.0, 180.0, 90.0
        if not count:
            return {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[None, None]]},
            }
        return {
            "spatial": {"bbox": [[w, s, e, n]]},
            "temporal": {"interval": [[from_us(t0), from_us(t1)]]},
        }

