"""Item counts kept on write, so broad searches count in microseconds for any viewer.

A filtered `numberMatched` scan tests the access rule on every counted row (and reads more
rows than an unfiltered one, since some are hidden), which made broad counted searches
2-10x dearer than unfiltered ones. Two small tables, maintained by triggers on `items` in
the same transaction as every insert, update (re-ingest, `access set`) and delete, answer
them instead:

    item_counts (collection, acc_class, acc_owner, acc_embargo, acc_rel_mask) -> n
        every item, grouped by everything the access rule reads (NULL owner as '', no
        embargo as `NO_EMBARGO`, a date that is past for any "now"). `visibility_sql` runs on
        the groups unchanged, so a search restricted only by collections is counted
        exactly by summing the visible groups (a few hundred rows, not 10 000).

    item_time_counts (collection, bucket, kind) -> n
        items whose datetime lies inside their own [start, end] (so any query interval
        containing the datetime matches them), per `BUCKET_US` span of datetime, by kind:
        0 public and never embargoed, 1 partners and never embargoed, 2 anything else.
        For a datetime-only search the buckets inside the query interval give a lower
        bound of what the viewer sees; above the count cap that settles `numberMatched`
        (left out) without a scan.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from catalog.sqlite.access import has_mask_bit, visibility_sql
from datacenter.access import Viewer

NO_EMBARGO = -(1 << 62)  # stands for "no embargo" in item_counts (before any "now")
BUCKET_US = 1 << 42  # datetime bucket of item_time_counts: about 50.9 days
_OFFSET = 1 << 62  # added to datetimes before bucketing, so SQL's integer division floors

_GROUP = (f"ifnull({{r}}.acc_owner, ''), ifnull({{r}}.acc_embargo, {NO_EMBARGO})")
_KIND = ("CASE WHEN {r}.acc_embargo IS NOT NULL OR {r}.acc_class > 1 THEN 2"
         " ELSE {r}.acc_class END")
_PLAIN = "{r}.t_start <= {r}.dt AND {r}.dt <= {r}.t_end"


def _add(r: str, delta: int) -> str:
    group = _GROUP.format(r=r)
    return f"""
    INSERT INTO item_counts VALUES ({r}.collection, {r}.acc_class, {group}, {r}.acc_rel_mask, {delta})
        ON CONFLICT DO UPDATE SET n = n + ({delta});
    INSERT INTO item_time_counts
        SELECT {r}.collection, ({r}.dt + {_OFFSET}) / {BUCKET_US}, {_KIND.format(r=r)}, {delta}
        WHERE {_PLAIN.format(r=r)}
        ON CONFLICT DO UPDATE SET n = n + ({delta});"""


COUNTS_SCHEMA = f"""
CREATE TABLE item_counts (collection TEXT NOT NULL, acc_class INTEGER NOT NULL,
    acc_owner TEXT NOT NULL, acc_embargo INTEGER NOT NULL, acc_rel_mask INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (collection, acc_class, acc_owner, acc_embargo, acc_rel_mask)) WITHOUT ROWID;
CREATE TABLE item_time_counts (collection TEXT NOT NULL, bucket INTEGER NOT NULL,
    kind INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (bucket, collection, kind)) WITHOUT ROWID;
CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN {_add("new", 1)}
END;
CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN {_add("old", -1)}
END;
CREATE TRIGGER items_count_update AFTER UPDATE OF collection, dt, t_start, t_end, acc_class,
    acc_owner, acc_embargo, acc_rel_mask ON items BEGIN {_add("old", -1)} {_add("new", 1)}
END;
"""


def create_counts(c: sqlite3.Connection) -> None:
    """Create the tables and triggers and fill them from the items already there."""
    for statement in _statements(COUNTS_SCHEMA):
        c.execute(statement)
    group = _GROUP.format(r="i")
    c.execute(f"INSERT INTO item_counts SELECT collection, acc_class, {group}, acc_rel_mask, count(*)"
              " FROM items i GROUP BY 1, 2, 3, 4, 5")
    c.execute(f"INSERT INTO item_time_counts SELECT collection, (dt + {_OFFSET}) / {BUCKET_US}, {_KIND.format(r='i')},"
              f" count(*) FROM items i WHERE {_PLAIN.format(r='i')} GROUP BY 1, 2, 3")


def _statements(script: str) -> list[str]:
    """Split on the `END;` of each trigger and the `;` of plain statements."""
    out, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        in_trigger = "BEGIN" in pending and not pending.rstrip(";").rstrip().endswith("END")
        if not in_trigger:
            if pending.strip(" \n;"):
                out.append(pending)
            pending = ""
    return out


def _in_collections(collections: Sequence[str] | None, params: dict[str, object]) -> str:
    if collections is None:
        return "1"
    names = [f"k_c{n}" for n in range(len(collections))]
    params.update(zip(names, collections, strict=True))
    return f"collection IN ({', '.join(':' + n for n in names) or 'NULL'})"


def visible_count(c: sqlite3.Connection, viewer: Viewer, collections: Sequence[str] | None) -> int | None:
    """Items in `collections` (None: all) that `viewer` sees by their own access; the
    caller has already cut `collections` to those the viewer sees. Exact; None for a
    partner numbered beyond the releasable bit set (only a probe per item can say)."""
    if not has_mask_bit(c, viewer):
        return None
    visible, params = visibility_sql(viewer, "k", None, "")
    where = _in_collections(collections, params)
    row = c.execute(f"SELECT sum(n) FROM item_counts k WHERE {where} AND {visible}", params).fetchone()
    return int(row[0] or 0)


def visible_at_least(c: sqlite3.Connection, viewer: Viewer, collections: Sequence[str] | None,
                     start_us: int, end_us: int) -> int:
    """A lower bound of the items in `collections` whose time overlaps [start_us, end_us]
    that `viewer` sees: those counted in the buckets wholly inside the interval."""
    first = -(-(start_us + _OFFSET) // BUCKET_US)  # the first bucket starting at or after start
    last = (end_us + _OFFSET + 1) // BUCKET_US - 1  # the last bucket ending at or before end
    if first > last:
        return 0
    kinds = 2 if viewer.admin else 1 if viewer.partner_id is not None else 0
    params: dict[str, object] = {"k_first": first, "k_last": last, "k_kind": kinds}
    where = _in_collections(collections, params)
    row = c.execute("SELECT sum(n) FROM item_time_counts WHERE bucket BETWEEN :k_first AND :k_last"
                    f" AND kind <= :k_kind AND {where}", params).fetchone()
    return int(row[0] or 0)
