"""`datacenter.access` rules as SQLite: the access columns of a row and the visibility filter.

Items and collections carry three narrow columns and a side table:

    acc_owner    TEXT     dc:owner (NULL: none)
    acc_class    INTEGER  0 public, 1 partners, 2 restricted, 3 owner (missing/unknown: 3)
    acc_embargo  INTEGER  dc:embargo_until in microseconds since the epoch (NULL: none)
    <table>_releasable (key, partner)  one row per dc:releasable_to entry, primary key first
                                       on the record so the EXISTS probe is one index seek

`visibility_sql` is `datacenter.access.can_see` written over those columns (tests compare
the two on random records); the viewer's id and the current time are bound parameters,
never pasted into the SQL text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from catalog.sqlite_rows import AccessColumns, access_columns, to_us
from datacenter.access import Viewer

__all__ = ["AccessColumns", "access_columns", "item_visibility", "visibility_sql"]

def visibility_sql(
    viewer: Viewer, alias: str, releasable: str, key: str, now: datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """(SQL condition over `alias`'s access columns, parameters) true for rows `viewer` sees.

    `releasable` is the side table and `key` the column of `alias` its first column refers to.
    """
    if viewer.admin:
        return "1", {}
    now_us = to_us(now or datetime.now(UTC))
    open_now = f"({alias}.acc_embargo IS NULL OR {alias}.acc_embargo <= :v_now)"
    if viewer.partner_id is None:
        return f"({alias}.acc_class = 0 AND {open_now})", {"v_now": now_us}
    released = (
        f"({alias}.acc_class = 2 AND EXISTS (SELECT 1 FROM {releasable} r"
        f" WHERE r.key = {alias}.{key} AND r.partner = :v_pid))"
    )
    sql = (
        f"({alias}.acc_owner = :v_pid OR ({open_now} AND"
        f" ({alias}.acc_class <= 1 OR {released})))"
    )
    return sql, {"v_now": now_us, "v_pid": viewer.partner_id}


def item_visibility(viewer: Viewer, now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Items `viewer` sees, over `items i`: the item's own access AND its collection's (the
    collection test is an uncorrelated subquery SQLite evaluates once per statement)."""
    if viewer.admin:
        return "1", {}
    now = now or datetime.now(UTC)
    own, params = visibility_sql(viewer, "i", "item_releasable", "pk", now)
    coll, _ = visibility_sql(viewer, "c", "collection_releasable", "id", now)
    return f"({own} AND i.collection IN (SELECT c.id FROM collections c WHERE {coll}))", params
