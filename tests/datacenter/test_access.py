"""The access rule has three statements: `can_see` (Python), `visibility_cql2` (CQL2 JSON for
pgstac) and the SQLite catalog's SQL. They must agree on every record and viewer."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import cql2
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.query.temporal import to_us
from catalog.sqlite.access import access_columns, releasable_mask, visibility_sql
from datacenter.access import (
    ANONYMOUS,
    SYSTEM,
    AccessMeta,
    Viewer,
    can_see_fields,
    fields_from_options,
    narrowing_problem,
    visibility_cql2,
    visible_assets,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PARTNERS = ["ESA", "CNSA", "ROSCOSMOS"]

records = st.fixed_dictionaries({}, optional={
    "dc:owner": st.sampled_from(PARTNERS),
    "dc:access": st.sampled_from(["public", "partners", "restricted", "owner", "secret-typo"]),
    "dc:releasable_to": st.lists(st.sampled_from(PARTNERS), unique=True, max_size=3),
    "dc:embargo_until": st.integers(-3, 3).map(
        lambda d: (NOW + timedelta(days=d, hours=1)).isoformat().replace("+00:00", "Z")),
})
viewers = st.sampled_from([ANONYMOUS, SYSTEM, *(Viewer(partner_id=p) for p in [*PARTNERS, "ISRO"])])


def sql_sees(viewer: Viewer, fields: dict[str, Any], numbered: int = 2) -> bool:
    """`numbered`: partner ids the catalog already numbered before this record's (63 and
    more puts every new id beyond the bit set, so the side-table probe decides)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (pk INTEGER PRIMARY KEY, acc_owner, acc_class, acc_embargo, acc_rel_mask)")
    db.execute("CREATE TABLE rel (key INTEGER, partner TEXT, PRIMARY KEY (key, partner))")
    db.execute("CREATE TABLE releasable_bits (partner TEXT PRIMARY KEY, bit INTEGER UNIQUE)")
    first = ["CNSA", "ESA"] if numbered == 2 else [f"OTHER{n}" for n in range(numbered)]
    db.executemany("INSERT INTO releasable_bits VALUES (?, ?)", [(p, n) for n, p in enumerate(first)])
    cols = access_columns(fields, "test record")
    mask = releasable_mask(db, cols.releasable_to)
    db.execute("INSERT INTO t VALUES (1, ?, ?, ?, ?)", (cols.owner, cols.klass, cols.embargo, mask))
    db.executemany("INSERT INTO rel VALUES (1, ?)", [(p,) for p in cols.releasable_to])
    where, params = visibility_sql(viewer, "t", "rel", "pk", NOW)
    return db.execute(f"SELECT count(*) FROM t WHERE {where}", params).fetchone()[0] == 1


def cql2_sees(viewer: Viewer, fields: dict[str, Any]) -> bool:
    expr = visibility_cql2(viewer, NOW)
    if expr is None:
        return True
    # cql2's evaluator cannot compare a missing property (SQL's NULL does this by itself):
    # fill absent fields with values that grant nothing
    props = {"dc:owner": "", "dc:releasable_to": [], "dc:access": "", **fields}
    return bool(cql2.Expr(expr).matches({"type": "Feature", "properties": props}))


@settings(max_examples=300)
@given(viewer=viewers, fields=records)
def test_python_cql2_and_sql_statements_of_the_rule_agree(viewer: Viewer, fields: dict[str, Any]) -> None:
    expected = can_see_fields(viewer, fields, NOW)
    assert sql_sees(viewer, fields) == expected
    assert sql_sees(viewer, fields, numbered=63) == expected  # ids beyond the 63 mask bits
    assert cql2_sees(viewer, fields) == expected


def test_missing_or_unknown_access_is_owner_only_never_public() -> None:
    assert AccessMeta.from_fields({}).access.value == "owner"
    assert not can_see_fields(Viewer(partner_id="ESA"), {"dc:access": "Public!"}, NOW)
    assert can_see_fields(Viewer(partner_id="ESA"), {"dc:owner": "ESA", "dc:access": "oops"}, NOW)
    assert not can_see_fields(ANONYMOUS, {}, NOW)


def test_embargo_hides_from_everyone_but_the_owner_until_it_ends() -> None:
    fields = {"dc:owner": "CNSA", "dc:access": "public", "dc:embargo_until": "2026-06-02T00:00:00Z"}
    assert can_see_fields(Viewer(partner_id="CNSA"), fields, NOW)
    assert not can_see_fields(ANONYMOUS, fields, NOW)
    assert can_see_fields(ANONYMOUS, fields, NOW + timedelta(days=1))
    assert to_us(NOW) < access_columns(fields, "x").embargo  # stored as integer microseconds


def test_asset_fields_lay_over_the_item_and_hide_only_that_asset() -> None:
    item = {"properties": {"dc:owner": "CNSA", "dc:access": "public"},
            "assets": {"browse": {"href": "b"},
                       "data": {"href": "d", "dc:access": "restricted", "dc:releasable_to": ["ESA"]}}}
    assert set(visible_assets(ANONYMOUS, item, NOW)) == {"browse"}
    assert set(visible_assets(Viewer(partner_id="ESA"), item, NOW)) == {"browse", "data"}
    assert set(visible_assets(Viewer(partner_id="CNSA"), item, NOW)) == {"browse", "data"}


def test_narrowing_is_checked_field_by_field() -> None:
    coll = AccessMeta.from_fields({"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA"]})
    ok = AccessMeta.from_fields({"dc:owner": "CNSA", "dc:access": "owner"})
    wider = AccessMeta.from_fields({"dc:owner": "CNSA", "dc:access": "partners"})
    more = AccessMeta.from_fields({"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA", "ISRO"]})
    assert narrowing_problem(ok, coll) is None
    assert "wider" in str(narrowing_problem(wider, coll))
    assert "ISRO" in str(narrowing_problem(more, coll))


def test_command_line_options_become_checked_fields() -> None:
    fields = fields_from_options(owner="CNSA", access="Restricted", releasable_to="ESA, ROSCOSMOS",
                                 embargo_until="2027-06-01T00:00:00Z")
    assert fields == {"dc:owner": "CNSA", "dc:access": "restricted",
                      "dc:releasable_to": ["ESA", "ROSCOSMOS"], "dc:embargo_until": "2027-06-01T00:00:00Z"}


def test_published_dc_schema_accepts_good_and_rejects_bad_access_metadata(stac_offline) -> None:
    from datacenter.access import SCHEMA_URL

    item = {"type": "Feature", "stac_version": "1.1.0", "stac_extensions": [SCHEMA_URL], "id": "x",
            "geometry": {"type": "Point", "coordinates": [0, -89]}, "bbox": [0, -89, 0, -89], "links": [],
            "properties": {"datetime": "2026-01-01T00:00:00Z", "dc:owner": "CNSA", "dc:access": "restricted",
                           "dc:releasable_to": ["ESA"], "dc:embargo_until": "2027-06-01T00:00:00Z"},
            "assets": {"browse": {"href": "b.png", "dc:access": "public"}}}
    assert stac_offline.validate_dict(item) == []
    item["properties"]["dc:access"] = "secret"
    assert stac_offline.validate_dict(item) != []
