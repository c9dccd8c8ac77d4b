"""The count tables of the pgstac backend (`catalog.pgstac_counts`): kept right by every
kind of write (our API's, pypgstac's loader straight into partitions, pgstac dropping a
partition to delete or repartition a collection, TRUNCATE), without writers blocking each
other, and used by broad counted searches for every viewer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from catalog.base import SearchQuery
from catalog.pgstac import PgstacCatalog, migrate
from datacenter.access import ANONYMOUS, SYSTEM, Viewer
from tests.catalog.conftest import make_item_dict

ESA = Viewer(partner_id="ESA")
FUTURE = (datetime.now(UTC) + timedelta(days=3650)).isoformat().replace("+00:00", "Z")
COLLECTION = {"type": "Collection", "dc:owner": "CNSA", "dc:access": "public"}


def _item(iid: str, collection: str = "moon", when: str = "2024-01-01T00:00:00Z", **access: object) -> dict:
    return make_item_dict(iid, collection=collection, datetime=when, **{"dc:owner": "CNSA", **access})


def _items(n: int, collection: str = "moon", **access: object) -> list[dict]:
    return [_item(f"{collection}-{k}", collection, f"2024-01-{k % 28 + 1:02d}T00:00:00Z", **access)
            for k in range(n)]


@pytest.fixture
def pg(pgstac_dsn: str) -> Iterator[PgstacCatalog]:
    with PgstacCatalog(pgstac_dsn) as cat:
        for cid in ("moon", "mars"):
            cat.upsert_collection({"id": cid, **COLLECTION})
        yield cat


def matched(cat: PgstacCatalog, viewer: Viewer = SYSTEM, **query: object) -> int | None:
    return cat.search(SearchQuery(viewer=viewer, limit=1, **query)).number_matched  # type: ignore[arg-type]


def scanned(cat: PgstacCatalog, viewer: Viewer = SYSTEM, **query: object) -> int | None:
    """The same count with the tables out of the way: a bbox covering the body forces a scan."""
    return matched(cat, viewer, bbox=(-180, -90, 180, 90), **query)


def tables(dsn: str) -> tuple[int, int, int]:
    """Items in item_counts, in item_time_counts, and the net of the unmerged changes."""
    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT (SELECT coalesce(sum(n), 0) FROM datacenter.item_counts),"
                        " (SELECT coalesce(sum(n), 0) FROM datacenter.item_time_counts),"
                        " (SELECT coalesce(sum(n), 0) FROM datacenter.item_count_changes)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_collection_only_searches_are_counted_from_the_table(pg, pgstac_dsn):
    pg.upsert_items(_items(3, **{"dc:access": "public"}) + _items(2, "mars", **{"dc:access": "partners"}))
    with psycopg.connect(pgstac_dsn) as c:  # a wrong table shows in the answer: it is what is read
        c.execute("UPDATE datacenter.item_counts SET n = n + 100 WHERE collection = 'moon'")
    assert matched(pg, collections=["moon"]) == 103
    assert scanned(pg, collections=["moon"]) == 3


def test_counts_follow_every_write_for_every_viewer(pg, pgstac_dsn):
    pg.upsert_items([_item("pub", **{"dc:access": "public"}), _item("par", **{"dc:access": "partners"}),
                     _item("esa", **{"dc:access": "restricted", "dc:releasable_to": ["ESA"]}),
                     _item("emb", **{"dc:access": "public", "dc:embargo_until": FUTURE}),
                     make_item_dict("unmarked", collection="moon", **{"dc:access": None}),
                     _item("m1", "mars", **{"dc:access": "public"})])

    viewers = {"admin": SYSTEM, "anonymous": ANONYMOUS, "ESA": ESA, "NASA": Viewer(partner_id="NASA"),
               "CNSA": Viewer(partner_id="CNSA")}
    queries = {"all": {}, "moon": {"collections": ["moon"]}, "both": {"collections": ["mars", "moon"]}}

    def counts() -> dict[tuple[str, str], int | None]:
        """Every viewer's count of every query, checked against a scan."""
        out = {}
        for name, viewer in viewers.items():
            for label, query in queries.items():
                out[name, label] = matched(pg, viewer, **query)
                assert out[name, label] == scanned(pg, viewer, **query), (name, label)
        return out

    first = counts()
    assert (first["admin", "all"], first["anonymous", "all"], first["anonymous", "moon"]) == (6, 2, 1)
    assert (first["ESA", "moon"], first["NASA", "moon"], first["CNSA", "moon"]) == (3, 2, 4)
    pg.upsert_items([_item("pub", **{"dc:access": "restricted", "dc:releasable_to": ["NASA"]})])  # re-ingest
    pg.upsert_items([_item("emb", **{"dc:access": "public"})])  # the embargo lifted
    later = counts()
    assert (later["anonymous", "moon"], later["ESA", "moon"], later["NASA", "moon"]) == (1, 3, 3)
    pg.delete_item("moon", "par")
    pg.delete_collection("mars")
    assert counts()["admin", "all"] == 4
    assert tables(pgstac_dsn) == (4, 4, 0)  # deleting a collection drops its partition: no rows fire


def test_pypgstac_loading_straight_into_partitions_is_counted(pg, pgstac_dsn):
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    pg.upsert_items(_items(2, **{"dc:access": "public"}))
    assert pg.collection_extent("mars", viewer=ESA)["temporal"]["interval"] == [[None, None]]  # kept
    with PgstacDB(dsn=pgstac_dsn) as db:
        Loader(db=db).load_items(iter(_items(30, "mars", **{"dc:access": "partners"})), Methods.insert)
    assert pg.collection_extent("mars", viewer=ESA)["temporal"]["interval"] == [
        ["2024-01-01T00:00:00Z", "2024-01-28T00:00:00Z"]]  # the kept extent saw the load
    assert matched(pg) == 32 == scanned(pg)
    assert matched(pg, ANONYMOUS) == 2 == scanned(pg, ANONYMOUS)
    assert tables(pgstac_dsn)[2] == 30  # left for the next merge; readers add them meanwhile
    pg.upsert_items([_item("late", **{"dc:access": "public"})])  # a write through pgstac's root merges
    assert tables(pgstac_dsn) == (33, 33, 0)


def test_too_many_unmerged_changes_count_rows_and_migrate_merges_them(pg, pgstac_dsn, monkeypatch):
    import catalog.pgstac.counts as counts

    pg.upsert_items(_items(2, **{"dc:access": "public"}))
    monkeypatch.setattr(counts, "MAX_CHANGES", 3)
    with psycopg.connect(pgstac_dsn) as c:  # changes waiting, as after a bulk load into partitions
        c.execute("INSERT INTO datacenter.item_count_changes VALUES"
                  " ('moon', 'public', '', '-infinity', 'null', 0, 5), ('moon', 'public', '', '-infinity', 'null', 0, -5)"
                  ", ('moon', 'public', '', '-infinity', 'null', 0, 1), ('moon', 'public', '', '-infinity', 'null', 0, -1)")
        c.execute("UPDATE datacenter.item_counts SET n = n + 50")  # would show if the tables were read
    assert matched(pg) == 2  # rows were counted, not the tables (52)
    migrate(pgstac_dsn)
    assert tables(pgstac_dsn)[2] == 0


def test_repartitioning_a_collection_counts_its_items_once(pg, pgstac_dsn):
    pg.upsert_items(_items(12, **{"dc:access": "public"}))
    with psycopg.connect(pgstac_dsn) as c:  # pgstac copies the rows out, drops the partition, inserts them
        c.execute("UPDATE pgstac.collections SET partition_trunc = 'month' WHERE id = 'moon'")
    assert matched(pg) == 12 == scanned(pg)
    assert tables(pgstac_dsn)[:2] == (12, 12)


def test_truncating_the_items_empties_the_counts(pg, pgstac_dsn):
    pg.upsert_items(_items(4))
    with psycopg.connect(pgstac_dsn) as c:
        c.execute("TRUNCATE pgstac.items")
    assert matched(pg) == 0
    assert tables(pgstac_dsn) == (0, 0, 0)


def test_concurrent_writers_do_not_wait_for_each_other_on_the_counts(pg, pgstac_dsn):
    pg.upsert_items(_items(3, **{"dc:access": "public"}) + _items(2, "mars", **{"dc:access": "public"}))
    first, second = psycopg.connect(pgstac_dsn), psycopg.connect(pgstac_dsn)
    # Two open transactions, each in its own collection (pgstac itself serialises writers of
    # one partition, on its partition_stats row): the second merges nothing and waits for nothing.
    try:
        for conn, iid in ((first, "moon-0"), (second, "mars-0")):
            conn.execute("SET lock_timeout TO '2s'")
            conn.execute("DELETE FROM pgstac.items WHERE id = %s", (iid,))
        assert matched(pg, ANONYMOUS) == 5  # neither has committed
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    assert matched(pg) == 3 == scanned(pg)
    assert matched(pg, ANONYMOUS) == 3 == scanned(pg, ANONYMOUS)


def test_a_datetime_search_with_more_visible_matches_than_the_cap_is_not_counted(pgstac_dsn):
    with PgstacCatalog(pgstac_dsn, count_limit=3) as cat:
        cat.upsert_collection({"id": "moon", **COLLECTION})
        cat.upsert_items(_items(5, **{"dc:access": "public"}))
        year = (datetime(2023, 6, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))
        assert matched(cat, ANONYMOUS, datetime=year) is None  # 5 > 3, settled by the buckets
        narrow = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
        assert matched(cat, ANONYMOUS, datetime=narrow) == 2  # inside one bucket: rows are counted


def test_an_older_database_gets_count_tables_filled_by_migrate(pg, pgstac_dsn):
    pg.upsert_items(_items(3, **{"dc:access": "public"}) + _items(2, "mars", **{"dc:access": "partners"}))
    with psycopg.connect(pgstac_dsn) as c:
        c.execute("DROP TABLE datacenter.item_counts, datacenter.item_time_counts, datacenter.item_count_changes")
        c.execute("DROP TRIGGER datacenter_count_row ON pgstac.items")
        c.execute("DROP TRIGGER datacenter_count_merge ON pgstac.items")
    with PgstacCatalog(pgstac_dsn) as old:  # without the tables, rows are counted
        assert matched(old, ANONYMOUS) == 3
    migrate(pgstac_dsn)
    assert tables(pgstac_dsn) == (5, 5, 0)
    with PgstacCatalog(pgstac_dsn) as cat:
        assert (matched(cat), matched(cat, ANONYMOUS), matched(cat, ESA)) == (5, 3, 5)


def test_pgstacs_own_roles_keep_and_read_the_counts(pg, pgstac_dsn):
    with psycopg.connect(pgstac_dsn, autocommit=True) as c:
        for role, member_of in (("dc_test_ingest", "pgstac_ingest"), ("dc_test_read", "pgstac_read")):
            if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                c.execute(f"CREATE ROLE {role} LOGIN IN ROLE {member_of}")  # type: ignore[arg-type]
    as_role = lambda role: pgstac_dsn.replace("postgres@", f"{role}@")  # noqa: E731
    with PgstacCatalog(as_role("dc_test_ingest")) as ingest:
        ingest.upsert_items(_items(4, **{"dc:access": "public"}) + _items(3, "mars", **{"dc:access": "partners"}))
        ingest.delete_item("moon", "moon-0")
    with PgstacCatalog(as_role("dc_test_read")) as read:
        assert (matched(read), matched(read, ANONYMOUS), matched(read, ESA, collections=["mars"])) == (6, 3, 3)
        assert tables(pgstac_dsn) == (6, 6, 0)
        assert read.collection_extent("moon", viewer=ANONYMOUS)["temporal"]["interval"] == [
            ["2024-01-02T00:00:00Z", "2024-01-04T00:00:00Z"]]
