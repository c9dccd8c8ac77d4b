"""`sortby` -> ORDER BY and keyset conditions for the SQLite catalog.

Every order ends with the unique pair (collection, id), so the key of a row (its values of
all sort expressions) names one position and keyset paging never skips or repeats a row.
The default order, datetime desc then collection, id, is the one the ``items_dt`` indexes
serve. Any other property sorts through ``json_extract`` on the stored item.

SQLite takes NULL as smaller than every value (first in ASC, last in DESC) and compares
values of different types by type (numbers < text), the same way in ORDER BY and in ``<`` /
``>``; the keyset conditions follow those rules, so items lacking a sort property page
correctly too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.query.paging import Scalar
from catalog.query.sort import TIES, sort_request

_COLUMNS = {"datetime": "i.dt", "id": "i.id", "collection": "i.collection",
            "start_datetime": "i.t_start", "end_datetime": "i.t_end"}


@dataclass(frozen=True)
class SortKey:
    sql: str
    descending: bool
    nullable: bool


@dataclass
class SortPlan:
    keys: list[SortKey]
    params: dict[str, Any]
    signature: str  # "" for the default order (keeps old tokens valid)

    @property
    def select(self) -> str:
        return ", ".join(k.sql for k in self.keys)

    def order_by(self, forward: bool) -> str:
        parts = [f"{k.sql} {'DESC' if k.descending == forward else 'ASC'}" for k in self.keys]
        return " ORDER BY " + ", ".join(parts)

    def after(self, key: tuple[Scalar, ...], forward: bool, params: dict[str, Any]) -> str:
        """SQL true for rows strictly after `key` in page order (before it when not `forward`)."""
        names = []
        for n, value in enumerate(key):
            params[f"k{n}"] = value
            names.append(f":k{n}")
        ors = []
        for n, k in enumerate(self.keys):
            descending = k.descending == forward
            greater = _beyond(k, names[n], key[n], descending)
            if greater != "0":
                equal = [_same(self.keys[j], names[j]) for j in range(n)]
                ors.append(" AND ".join([*equal, greater]))
        condition = " OR ".join(f"({c})" for c in ors) or "0"
        first = self.keys[0]
        if not first.nullable:  # a range the index can seek to
            condition = f"{first.sql} {'<=' if first.descending == forward else '>='} {names[0]} AND ({condition})"
        return condition


def _same(k: SortKey, name: str) -> str:
    return f"{k.sql} {'IS' if k.nullable else '='} {name}"


def _beyond(k: SortKey, name: str, value: Scalar, descending: bool) -> str:
    if value is None:  # NULL is the smallest value
        return "0" if descending else f"{k.sql} IS NOT NULL"
    if descending:
        return f"({k.sql} < {name} OR {k.sql} IS NULL)" if k.nullable else f"{k.sql} < {name}"
    return f"{k.sql} > {name}"


def plan_sort(sortby: tuple[tuple[str, str], ...] | None) -> SortPlan:
    """The order for `sortby` ((field, "asc"|"desc"), ...); default datetime desc."""
    request = sort_request(sortby)
    params: dict[str, Any] = {}
    keys: list[SortKey] = []
    for field in request.fields:
        if field.name in _COLUMNS:
            keys.append(SortKey(_COLUMNS[field.name], field.descending, False))
        else:
            params[f"sp{field.position}"] = f'$."{field.name}"'
            sql = f"json_extract(i.props, :sp{field.position})"
            keys.append(SortKey(sql, field.descending, True))
    named = {field.name for field in request.fields}
    for tie in TIES:
        if tie not in named:
            keys.append(SortKey(_COLUMNS[tie], False, False))
    return SortPlan(keys, params, request.signature)
