"""Helping PostgreSQL's planner with pgstac searches, whose filters are JSON expressions
without statistics (measured at 1 M items in docs/benchmarks.md, "pgstac backend").

* `planner_neutral`: the access rule as a CASE, estimated to keep half of the rows rather
  than ~0.5 %, so broad searches read the per-partition datetime indexes in order.
* `count_sql`: the capped count, which also bounds the page's first sort key, so a page
  reads a short range of the datetime index whatever the planner guesses.
"""

from __future__ import annotations

from catalog.pgstac.sort import PgSortPlan


def planner_neutral(condition: str) -> str:
    """`condition` as a CASE, which the planner estimates to keep half of the rows.

    Written out, the access rule's JSON comparisons have no statistics, so PostgreSQL
    guesses they keep ~0.5 % of the rows (it keeps ~80 % in a typical catalog): a broad
    search then looks tiny, and it collects and sorts every candidate (~220 k rows a page
    at 1 M items) rather than reading the per-partition datetime indexes in order and
    stopping at the page's end (~30 ms instead of ~700 ms). Same truth value; NULL is false,
    as in WHERE."""
    return f"CASE WHEN {condition} THEN TRUE ELSE FALSE END"


def count_sql(where: str, sort: PgSortPlan, after: str | None, forward: bool, limit: int,
              count_limit: int) -> str:
    """SQL for (the number of matches up to ``count_limit + 1``, a bound or NULL).

    The bound: the matches counted are a subset of all matches, so if at least
    ``limit + 1`` of them come after the token (`after`), the page (the first ``limit + 1``
    in page order) lies within the first ``limit + 1`` of those, and its first key is no
    further than theirs: the ``limit + 1``-th of their first keys. Added to the page query
    (`PgSortPlan.first_bound`) it narrows a broad search to a short range of the datetime
    index (a filter matching in one collection only made the per-partition ordered scans
    read every other partition to its end: 2 s at 1 M items; with the bound ~70 ms).
    Only for orders of plain columns (the default); NULL otherwise."""
    bound = "NULL"
    if sort.columns_only:
        order, _ = sort.first_bound(forward)
        only = f" FILTER (WHERE {after})" if after is not None else ""
        bound = f"(array_agg({sort.keys[0].sql} ORDER BY {order}){only})[{limit + 1}]"
    columns = ", ".join(dict.fromkeys(["1", *(k.sql for k in sort.keys if sort.columns_only)]))
    return (f"SELECT count(*), {bound} FROM (SELECT {columns} FROM items WHERE {where}"  # noqa: S608
            f" LIMIT {count_limit + 1}) x")
