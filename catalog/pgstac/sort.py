"""`sortby` -> ORDER BY and keyset conditions over pgstac's ``items``, with the contract's
order: the same as the SQLite backend (`catalog.sqlite.sort`).

* Requests are validated by `catalog.query.sort.sort_request` (same refusals, same messages
  as the SQLite backend) and carry its `signature`, so a token replayed with another sortby is refused by
  `catalog.query.paging.PageToken` on both backends alike.
* A missing value is the smallest: first in ASC, last in DESC (``NULLS FIRST`` /
  ``NULLS LAST``), as SQLite orders NULL. pgstac's own search puts NULL last in ASC.
* A property sorts by its ``jsonb`` value, so numbers sort as numbers (pgstac's search sorts
  an unregistered property as text: "50" after "400").
* Every order ends with (collection, id) ascending, unique, so keys never tie.

Key values travel in tokens as text: ISO timestamps for the time columns, the ``jsonb``
text of a property (``5``, ``"lro"``), or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.pgstac.cql2 import property_sql
from catalog.query.paging import Scalar
from catalog.query.sort import TIES, sort_request
from datacenter.errors import InvalidRequest

_COLUMNS = {"datetime": ("datetime", "timestamptz"), "start_datetime": ("datetime", "timestamptz"),
            "end_datetime": ("end_datetime", "timestamptz"), "id": ("id", "text"),
            "collection": ("collection", "text")}
_PLAIN = {column for column, _ in _COLUMNS.values()}


@dataclass(frozen=True)
class PgSortKey:
    sql: str
    cast: str  # of a token value: "timestamptz", "text" or "jsonb"
    descending: bool
    nullable: bool

    @property
    def select(self) -> str:
        """The key as the text a token holds."""
        if self.cast == "timestamptz":
            return f"to_char({self.sql} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        return f"({self.sql})::text"


@dataclass
class PgSortPlan:
    keys: list[PgSortKey]
    signature: str

    @property
    def select(self) -> str:
        return ", ".join(f"{k.select} AS k{n}" for n, k in enumerate(self.keys))

    def order_by(self, forward: bool) -> str:
        parts = []
        for k in self.keys:
            descending = k.descending == forward
            nulls = (" NULLS LAST" if descending else " NULLS FIRST") if k.nullable else ""
            parts.append(f"{k.sql} {'DESC' if descending else 'ASC'}{nulls}")
        return " ORDER BY " + ", ".join(parts)

    @property
    def columns_only(self) -> bool:
        """Every key is a plain column of ``items`` (the default order is)."""
        return all(not k.nullable and k.sql in _PLAIN for k in self.keys)

    def first_bound(self, forward: bool) -> tuple[str, str]:
        """For an order of plain columns: the aggregate ordering of the first key in page
        order, and the comparison a bound on it takes (``>=`` when the page descends)."""
        first = self.keys[0]
        descending = first.descending == forward
        return (f"{first.sql} {'DESC' if descending else 'ASC'}", ">=" if descending else "<=")

    def after(self, key: tuple[Scalar, ...], forward: bool, params: dict[str, Any]) -> str:
        """SQL true for rows strictly after `key` in page order (before it when not `forward`)."""
        names = []
        for n, (k, value) in enumerate(zip(self.keys, key, strict=True)):
            if k.cast in ("timestamptz", "text") and value is not None and not isinstance(value, str):
                raise InvalidRequest(  # a forged token: the column cannot be compared with it
                    "invalid paging token: pass back the next/prev token of a previous page "
                    "unchanged, with the same sortby, or drop it to start from the first page"
                )
            params[f"k{n}"] = value
            names.append(f"%(k{n})s::{k.cast}")
        ors = []
        for n, k in enumerate(self.keys):
            greater = _beyond(k, names[n], key[n], k.descending == forward)
            if greater != "FALSE":
                same = [_same(self.keys[j], names[j], key[j]) for j in range(n)]
                ors.append(" AND ".join([*same, greater]))
        condition = " OR ".join(f"({c})" for c in ors) or "FALSE"
        first = self.keys[0]
        if not first.nullable:  # a range an index can seek to
            condition = f"{first.sql} {'<=' if first.descending == forward else '>='} {names[0]} AND ({condition})"
        return condition


def _same(k: PgSortKey, name: str, value: Scalar) -> str:
    return f"{k.sql} IS NULL" if value is None else f"{k.sql} = {name}"


def _beyond(k: PgSortKey, name: str, value: Scalar, descending: bool) -> str:
    if value is None:  # NULL is the smallest value
        return "FALSE" if descending else f"{k.sql} IS NOT NULL"
    if descending:
        return f"({k.sql} < {name} OR {k.sql} IS NULL)" if k.nullable else f"{k.sql} < {name}"
    return f"{k.sql} > {name}"


def plan_pg_sort(sortby: tuple[tuple[str, str], ...] | None, params: dict[str, Any]) -> PgSortPlan:
    """The order for `sortby` ((field, "asc"|"desc"), ...); default datetime desc.
    Property names land in `params`."""
    request = sort_request(sortby)  # validates, with the messages both backends share
    keys: list[PgSortKey] = []
    for field in request.fields:
        if field.name in _COLUMNS:
            column, cast = _COLUMNS[field.name]
            keys.append(PgSortKey(column, cast, field.descending, False))
        else:
            keys.append(PgSortKey(property_sql(field.name, params, "sp"), "jsonb", field.descending, True))
    named = {field.name for field in request.fields}
    for tie in TIES:
        if tie not in named:
            keys.append(PgSortKey(tie, "text", False, False))
    return PgSortPlan(keys, request.signature)
