"""Collections and items: round trips, replacement, validation, deletion."""

from __future__ import annotations

import pytest

from catalog.base import SearchQuery
from datacenter.errors import CollectionNotFound, InvalidRequest, ItemNotFound

DROP_COUNTS = ("DROP TRIGGER items_count_insert", "DROP TRIGGER items_count_delete",
               "DROP TRIGGER items_count_update", "DROP TABLE item_counts", "DROP TABLE item_time_counts")


def test_collection_round_trips_and_lists_by_id(catalog):
    catalog.upsert_collection({"id": "chang-e-7", "type": "Collection", "dc:access": "public", "extra": {"a": [1, 2]}})
    assert catalog.get_collection("chang-e-7") == {
        "id": "chang-e-7", "type": "Collection", "dc:access": "public", "extra": {"a": [1, 2]}
    }
    assert [c["id"] for c in catalog.list_collections()] == ["chang-e-7", "lro-nac"]


def test_upserting_a_collection_replaces_it(catalog):
    catalog.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public", "title": "renamed"})
    assert catalog.get_collection("lro-nac")["title"] == "renamed"
    assert len(catalog.list_collections()) == 1


def test_missing_collection_is_named_in_the_error(catalog):
    with pytest.raises(CollectionNotFound, match="'nope'.*known collections: 'lro-nac'"):
        catalog.get_collection("nope")


def test_collection_without_id_is_rejected(catalog):
    with pytest.raises(InvalidRequest, match="no 'id'"):
        catalog.upsert_collection({"type": "Collection", "dc:access": "public"})


def test_item_round_trips_unchanged(catalog, make_item):
    item = make_item("M1", title="ünïcode", nested={"x": [1.5, None]})
    assert catalog.upsert_items([item]) == 1
    assert catalog.get_item("lro-nac", "M1") == item


def test_upserting_an_item_replaces_content_and_footprint(catalog, make_item, rect):
    catalog.upsert_items([make_item("M1", rect(0, 0, 1, 1), version=1)])
    catalog.upsert_items([make_item("M1", rect(50, 50, 51, 51), version=2)])
    assert catalog.get_item("lro-nac", "M1")["properties"]["version"] == 2
    assert catalog.search(SearchQuery(bbox=(-1, -1, 2, 2))).items == []
    found = catalog.search(SearchQuery(bbox=(49, 49, 52, 52)))
    assert [i["id"] for i in found.items] == ["M1"]
    assert found.number_matched == 1


def test_same_item_id_may_live_in_two_collections(catalog, make_item):
    catalog.upsert_collection({"id": "other", "type": "Collection", "dc:access": "public"})
    catalog.upsert_items([make_item("M1"), make_item("M1", collection="other")])
    assert catalog.get_item("other", "M1")["collection"] == "other"
    assert catalog.search(SearchQuery(ids=["M1"])).number_matched == 2


def test_item_of_unknown_collection_writes_nothing(catalog, make_item):
    with pytest.raises(CollectionNotFound, match="item 'M2' names collection 'ghost'"):
        catalog.upsert_items([make_item("M1"), make_item("M2", collection="ghost")])
    with pytest.raises(ItemNotFound):
        catalog.get_item("lro-nac", "M1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: i.pop("id"), "has no 'id'"),
        (lambda i: i.pop("collection"), "item 'bad' has no 'collection'"),
        (lambda i: i["properties"].update(datetime=None), "item 'bad' .*has no time"),
        (lambda i: i["properties"].update(datetime="yesterday"), "not an RFC 3339 time"),
        (lambda i: i["properties"].update(datetime="2024-01-01T00:00:00"), "has no time zone"),
        (lambda i: i["properties"].update(datetime=None, start_datetime="2024-02-01T00:00:00Z",
                                          end_datetime="2024-01-01T00:00:00Z"), "is after end_datetime"),
        (lambda i: i.update(geometry={"type": "Polygon", "coordinates": "x"}), "not valid GeoJSON"),
        (lambda i: i.update(geometry={"type": "Polygon", "coordinates": [[[170, 0], [190, 0], [190, 1], [170, 0]]]}),
         "outside lon.*antimeridian"),
    ],
    ids=["no-id", "no-collection", "no-time", "bad-time", "naive-time",
         "start-after-end", "bad-geometry", "beyond-180"],
)
def test_invalid_item_is_rejected_with_its_name_and_nothing_is_written(catalog, make_item, change, message):
    bad = make_item("bad")
    change(bad)
    with pytest.raises(InvalidRequest, match=message):
        catalog.upsert_items([make_item("good"), bad])
    assert catalog.search(SearchQuery()).number_matched == 0


def test_item_with_only_a_bbox_is_found_by_place(catalog, make_item):
    catalog.upsert_items([make_item("B", bbox=[10, 10, 20, 20]) | {"geometry": None}])
    assert [i["id"] for i in catalog.search(SearchQuery(bbox=(15, 15, 16, 16))).items] == ["B"]


def test_item_without_footprint_is_found_by_time_and_never_by_place(catalog, make_item):
    """`"geometry": null` without a bbox is valid STAC (a raw image whose label says nothing
    of where it looked): both backends keep it out of every spatial search and every spatial
    extent, and give it back with geometry null and no bbox."""
    placeless = make_item("N") | {"geometry": None}
    placeless.pop("bbox", None)
    catalog.upsert_items([placeless, make_item("P")])
    back = catalog.get_item("lro-nac", "N")
    assert back["geometry"] is None and "bbox" not in back
    assert sorted(i["id"] for i in catalog.search(SearchQuery()).items) == ["N", "P"]
    for query in (SearchQuery(bbox=(-180, -90, 180, 90)), SearchQuery(bbox=(170, -90, -170, 90)),
                  SearchQuery(intersects={"type": "Polygon", "coordinates": [
                      [[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}),
                  SearchQuery(filter={"op": "s_intersects", "args": [
                      {"property": "geometry"},
                      {"type": "Polygon", "coordinates": [
                          [[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}]})):
        found = [i["id"] for i in catalog.search(query).items]
        assert found == ([] if query.bbox and query.bbox[0] > query.bbox[2] else ["P"]), query
    bbox = catalog.collection_extent("lro-nac")["spatial"]["bbox"][0]
    assert -180 <= bbox[0] <= bbox[2] <= 180 and -90 <= bbox[1] <= bbox[3] <= 90


def test_a_collection_of_placeless_items_only_has_their_times_as_extent(catalog, make_item):
    placeless = make_item("N", datetime="2021-05-06T07:08:09Z") | {"geometry": None}
    placeless.pop("bbox", None)
    catalog.upsert_items([placeless])
    extent = catalog.collection_extent("lro-nac")
    assert extent["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]
    assert extent["temporal"]["interval"][0][0].startswith("2021-05-06T07:08:09")


def test_item_with_start_and_end_only_is_accepted(catalog, make_item):
    item = make_item("I", datetime=None, start="2024-01-01T00:00:00Z", end="2024-01-02T00:00:00Z")
    assert catalog.upsert_items([item]) == 1


def test_get_item_distinguishes_missing_item_from_missing_collection(catalog):
    with pytest.raises(ItemNotFound, match="item 'M9' is not in collection 'lro-nac'"):
        catalog.get_item("lro-nac", "M9")
    with pytest.raises(CollectionNotFound, match="'ghost'"):
        catalog.get_item("ghost", "M9")


def test_deleted_item_is_gone_from_get_and_search(catalog, make_item):
    catalog.upsert_items([make_item("M1"), make_item("M2")])
    catalog.delete_item("lro-nac", "M1")
    with pytest.raises(ItemNotFound):
        catalog.get_item("lro-nac", "M1")
    assert [i["id"] for i in catalog.search(SearchQuery(bbox=(0, 0, 1, 1))).items] == ["M2"]
    with pytest.raises(ItemNotFound):
        catalog.delete_item("lro-nac", "M1")


def test_deleting_a_collection_removes_its_items(catalog, make_item):
    catalog.upsert_collection({"id": "keep", "type": "Collection", "dc:access": "public"})
    catalog.upsert_items([make_item("M1"), make_item("K1", collection="keep")])
    catalog.delete_collection("lro-nac")
    with pytest.raises(CollectionNotFound):
        catalog.get_collection("lro-nac")
    page = catalog.search(SearchQuery(bbox=(-180, -90, 180, 90)))
    assert [(i["collection"], i["id"]) for i in page.items] == [("keep", "K1")]
    with pytest.raises(CollectionNotFound):
        catalog.delete_collection("lro-nac")


def test_recreated_collection_starts_empty(catalog, make_item):
    catalog.upsert_items([make_item("M1")])
    catalog.delete_collection("lro-nac")
    catalog.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public"})
    assert catalog.search(SearchQuery(collections=["lro-nac"])).number_matched == 0


def test_collection_extent_covers_items_in_space_and_time(catalog, make_item, rect):
    catalog.upsert_items([
        make_item("a", rect(10, -20, 11, -19), datetime="2024-01-05T00:00:00Z"),
        make_item("b", rect(-30, 5, -29, 6), datetime=None,
                  start="2023-12-31T00:00:00Z", end="2024-03-01T12:30:00.5Z"),
    ])
    assert catalog.collection_extent("lro-nac") == {
        "spatial": {"bbox": [[-30.0, -20.0, 11.0, 6.0]]},
        "temporal": {"interval": [["2023-12-31T00:00:00Z", "2024-03-01T12:30:00.500000Z"]]},
    }


def test_collection_extent_of_antimeridian_items_spans_all_longitudes(catalog, make_item):
    split = {"type": "MultiPolygon", "coordinates": [
        [[[170, 0], [180, 0], [180, 5], [170, 5], [170, 0]]],
        [[[-180, 0], [-170, 0], [-170, 5], [-180, 5], [-180, 0]]],
    ]}
    catalog.upsert_items([make_item("x", split, bbox=[170, 0, -170, 5])])
    assert catalog.collection_extent("lro-nac")["spatial"]["bbox"] == [[-180.0, 0.0, 180.0, 5.0]]


def test_extent_of_empty_and_unknown_collections(catalog):
    assert catalog.collection_extent("lro-nac")["temporal"]["interval"] == [[None, None]]
    with pytest.raises(CollectionNotFound):
        catalog.collection_extent("ghost")


def test_same_item_twice_in_one_batch_keeps_the_last(catalog, make_item):
    assert catalog.upsert_items([make_item("M1", version=1), make_item("M1", version=2)]) == 1
    assert catalog.get_item("lro-nac", "M1")["properties"]["version"] == 2
    assert catalog.search(SearchQuery()).number_matched == 1


def test_upsert_accepts_a_generator_and_an_empty_batch(catalog, make_item):
    assert catalog.upsert_items(make_item(f"g{n}") for n in range(3)) == 3
    assert catalog.upsert_items([]) == 0


def test_a_schema_1_catalog_upgrades_and_records_without_dc_fields_become_owner_only(
    catalog_path, make_item
):
    import sqlite3

    from catalog.sqlite import SQLiteCatalog
    from datacenter.access import SYSTEM, Viewer

    with SQLiteCatalog(catalog_path) as cat:
        cat.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public"})
        cat.upsert_items([make_item("open"), make_item("legacy", **{"dc:access": None}),
                          make_item("esa", **{"dc:access": "restricted", "dc:releasable_to": ["ESA"]})])
    db = sqlite3.connect(catalog_path)  # turn it back into a schema-1 file
    for statement in (*DROP_COUNTS, "DROP INDEX items_dt", "DROP INDEX items_collection_dt",
                      "DROP TABLE item_releasable", "DROP TABLE collection_releasable",
                      "DROP TABLE releasable_bits", "ALTER TABLE items DROP COLUMN props",
                      "DROP TRIGGER items_fts_insert",
                      "DROP TRIGGER items_fts_update", "DROP TRIGGER items_fts_delete",
                      "DROP TABLE items_fts",
                      *(f"ALTER TABLE {t} DROP COLUMN {c}" for t in ("items", "collections")
                        for c in ("acc_owner", "acc_class", "acc_embargo", "acc_rel_mask")),
                      "CREATE INDEX items_dt ON items (dt DESC, collection, id, t_start, t_end)",
                      "CREATE INDEX items_collection_dt ON items (collection, dt DESC, id, t_start, t_end)",
                      "DELETE FROM schema_version", "INSERT INTO schema_version VALUES (1)"):
        db.execute(statement)
    db.commit()
    db.close()
    with SQLiteCatalog(catalog_path) as cat:
        ids = lambda viewer: sorted(i["id"] for i in cat.search(SearchQuery(viewer=viewer)).items)  # noqa: E731
        assert ids(SYSTEM) == ["esa", "legacy", "open"]
        assert ids(Viewer(partner_id="ESA")) == ["esa", "open"]
        assert ids(Viewer(partner_id="CNSA")) == ["open"]
    assert [r[2] for r in sqlite3.connect(catalog_path).execute("PRAGMA index_info(items_dt)")][-5:] == \
        ["needs_exact", "w", "s", "e", "n"]  # schema 3: the bounds joined the sort indexes


def test_a_schema_2_catalog_upgrades_its_sort_indexes_and_searches_the_same(catalog_path, make_item):
    import sqlite3

    from catalog.sqlite import SCHEMA_VERSION, SQLiteCatalog

    with SQLiteCatalog(catalog_path) as cat:
        cat.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public"})
        cat.upsert_items([make_item(f"i{k}", datetime=f"2020-01-{k + 1:02d}T00:00:00Z") for k in range(5)])
    db = sqlite3.connect(catalog_path)
    for index, lead in (("items_dt", "dt DESC"), ("items_collection_dt", "collection, dt DESC")):
        db.execute(f"DROP INDEX {index}")
        db.execute(f"CREATE INDEX {index} ON items ({lead}, id, t_start, t_end, acc_class, acc_embargo,"
                   " acc_owner, acc_rel_mask)")
    for statement in (*DROP_COUNTS, "ALTER TABLE items DROP COLUMN props", "DROP TRIGGER items_fts_insert",
                      "DROP TRIGGER items_fts_update", "DROP TRIGGER items_fts_delete",
                      "DROP TABLE items_fts", "DELETE FROM schema_version",
                      "INSERT INTO schema_version VALUES (2)"):
        db.execute(statement)
    db.commit()
    db.close()
    with SQLiteCatalog(catalog_path) as cat:
        page = cat.search(SearchQuery(bbox=(-180, -90, 180, 90), limit=2))
        assert [i["id"] for i in page.items] == ["i4", "i3"]
        # CQL2 reads the properties copied into `props` by the upgrade
        cql2 = {"op": "<", "args": [{"property": "datetime"}, {"timestamp": "2020-01-03T00:00:00Z"}]}
        assert [i["id"] for i in cat.search(SearchQuery(filter=cql2)).items] == ["i1", "i0"]
        by_access = {"op": "=", "args": [{"property": "dc:access"}, "public"]}
        assert len(cat.search(SearchQuery(filter=by_access)).items) == 5
    db = sqlite3.connect(catalog_path)
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert "w" in [r[2] for r in db.execute("PRAGMA index_info(items_collection_dt)")]


def test_stored_content_with_nan_reads_back(catalog_path, make_item):
    import math

    from catalog.sqlite import SQLiteCatalog

    with SQLiteCatalog(catalog_path) as cat:  # JSON with NaN is what `json` writes, orjson refuses
        cat.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public"})
        cat.upsert_items([make_item("nan", **{"raster:nodata": float("nan")})])
        read = cat.search(SearchQuery()).items[0]
        assert math.isnan(read["properties"]["raster:nodata"])
        assert math.isnan(cat.get_item("lro-nac", "nan")["properties"]["raster:nodata"])


def test_an_older_catalog_gets_count_tables_that_count_what_each_viewer_sees(catalog_path, make_item):
    import sqlite3

    from catalog.sqlite import SQLiteCatalog
    from datacenter.access import ANONYMOUS, SYSTEM, Viewer

    with SQLiteCatalog(catalog_path) as cat:
        cat.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public"})
        cat.upsert_items([make_item("open", **{"dc:access": "public"}),
                          make_item("esa", **{"dc:access": "restricted", "dc:releasable_to": ["ESA"]})])
    db = sqlite3.connect(catalog_path)  # back to a schema-4 file, without count tables
    for statement in (*DROP_COUNTS, "DELETE FROM schema_version", "INSERT INTO schema_version VALUES (4)"):
        db.execute(statement)
    db.commit()
    db.close()
    with SQLiteCatalog(catalog_path) as cat:
        count = lambda viewer: cat.search(SearchQuery(viewer=viewer)).number_matched  # noqa: E731
        assert (count(SYSTEM), count(Viewer(partner_id="ESA")), count(ANONYMOUS)) == (2, 2, 1)
        cat.upsert_items([make_item("later", **{"dc:access": "public"})])  # the triggers are back
        assert (count(SYSTEM), count(Viewer(partner_id="CNSA")), count(ANONYMOUS)) == (3, 2, 2)


def test_a_collection_extent_follows_each_write_for_every_viewer(catalog, make_item, rect):
    from datacenter.access import ANONYMOUS, Viewer

    catalog.upsert_items([make_item("a", rect(0, 0, 1, 1))])
    esa = Viewer(partner_id="ESA")
    assert catalog.collection_extent("lro-nac", viewer=ANONYMOUS)["spatial"]["bbox"] == [[0, 0, 1, 1]]
    catalog.upsert_items([make_item("far", rect(50, 50, 51, 51))])  # a write after the first read
    assert catalog.collection_extent("lro-nac", viewer=ANONYMOUS)["spatial"]["bbox"] == [[0, 0, 51, 51]]
    catalog.upsert_items([make_item("far", rect(50, 50, 51, 51),
                                    **{"dc:access": "restricted", "dc:releasable_to": ["ESA"]})])
    assert catalog.collection_extent("lro-nac", viewer=ANONYMOUS)["spatial"]["bbox"] == [[0, 0, 1, 1]]
    assert catalog.collection_extent("lro-nac", viewer=esa)["spatial"]["bbox"] == [[0, 0, 51, 51]]
    catalog.delete_item("lro-nac", "far")
    assert catalog.collection_extent("lro-nac", viewer=esa)["spatial"]["bbox"] == [[0, 0, 1, 1]]


def test_collection_summaries_follow_each_write_for_every_viewer(catalog, make_item):
    from datacenter.access import ANONYMOUS, Viewer

    fields = ("instruments", "processing:level", "gsd")
    esa = Viewer(partner_id="ESA")
    catalog.upsert_items([make_item("a", instruments=["lola"], gsd=20.0, **{"processing:level": "CDR"})])
    assert catalog.collection_summaries("lro-nac", fields, viewer=ANONYMOUS) == {
        "instruments": ["lola"], "processing:level": ["CDR"], "gsd": [20.0]}
    catalog.upsert_items([make_item("b", instruments=["lroc", "lola"])])  # a write after the first read
    assert catalog.collection_summaries("lro-nac", fields, viewer=ANONYMOUS)["instruments"] == ["lola", "lroc"]
    catalog.upsert_items([make_item("b", instruments=["lroc"], **{"dc:access": "restricted", "dc:releasable_to": ["ESA"]})])
    assert catalog.collection_summaries("lro-nac", fields, viewer=ANONYMOUS)["instruments"] == ["lola"]
    assert catalog.collection_summaries("lro-nac", fields, viewer=esa)["instruments"] == ["lola", "lroc"]
    catalog.delete_item("lro-nac", "a")
    assert catalog.collection_summaries("lro-nac", fields, viewer=ANONYMOUS) == {}  # nothing it may see
    assert catalog.collection_summaries("lro-nac", fields, viewer=esa) == {"instruments": ["lroc"]}
    with pytest.raises(CollectionNotFound):
        catalog.collection_summaries("no-such", fields, viewer=esa)
