"""The SQLite dialect of the CQL2 compiler (`catalog.query.cql2.Compiler`): SQL over ``items i``.

Core fields are the columns of ``items`` (the times as integer microseconds); any other name
is read with ``json_extract`` from ``i.props``, the item's properties. LIKE becomes a GLOB
(case-sensitive, as CQL2 wants); a timestamp is compared through ``julianday``; a spatial
operator inside OR / NOT runs through the ``dc_spatial`` SQL function
(`spatial_sql_function`, registered on every connection), row by row.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import shapely

from catalog.query.cql2 import CompiledFilter, Compiler, compile_filter, property_name, spatial_test
from catalog.query.temporal import from_us


class SQLiteCompiler(Compiler):
    TIME_COLUMNS = {"datetime": ("i.dt", "i.t_start", "i.t_end"),
                    "start_datetime": ("i.t_start", "i.t_start", "i.t_start"),
                    "end_datetime": ("i.t_end", "i.t_end", "i.t_end")}
    TEXT_COLUMNS = {"id": "i.id", "collection": "i.collection"}
    TRUE, FALSE = "1", "0"

    def like(self, value: str, pattern: str) -> str:
        return f"{value} GLOB {self.param(_like_to_glob(pattern))}"

    def spatial(self, predicate: str, geometry: shapely.Geometry) -> str:
        wkb = shapely.to_wkb(geometry)
        return (f"dc_spatial({self.param(predicate)},"
                f" (SELECT d.geom FROM item_data d WHERE d.pk = i.pk), {self.param(wkb)})")

    def timestamp(self, us: int) -> str:
        return f"julianday({self.param(from_us(us))})"

    def as_timestamp(self, value: str) -> str:
        return f"julianday({value})"

    def json_property(self, name: str, *, as_json: bool = False) -> str:
        path = self.param(f'$."{name}"')  # in `i.props`, the item's properties
        if as_json:  # JSON text even for strings ('"lro"'), so json_each() takes any value
            return f"(i.props -> {path})"
        return f"json_extract(i.props, {path})"

    def array(self, op: str, left: dict[str, Any], right: list[Any]) -> str:
        name = property_name(left)
        if name in self.TEXT_COLUMNS:
            prop = f"json_quote({self.TEXT_COLUMNS[name]})"
        else:
            prop = self.property(left, for_null=True, as_json=True)
        lit = self.param(json.dumps(right))
        mine = f"(SELECT value FROM json_each({prop}))"
        theirs = f"(SELECT value FROM json_each({lit}))"
        body = {
            "a_contains": f"NOT EXISTS (SELECT 1 FROM json_each({lit}) l WHERE l.value NOT IN {mine})",
            "a_containedby": f"NOT EXISTS (SELECT 1 FROM json_each({prop}) p WHERE p.value NOT IN {theirs})",
            "a_overlaps": f"EXISTS (SELECT 1 FROM json_each({prop}) p WHERE p.value IN {theirs})",
            "a_equals": f"json({prop}) = json({lit})",
        }[op]
        return f"CASE WHEN {prop} IS NULL THEN NULL ELSE ({body}) END"


def compile_sqlite_filter(expr: Any, *, prefix: str = "f") -> CompiledFilter:
    """The filter as SQL over ``items i`` (+ spatial post-tests); `InvalidRequest` naming the
    part it cannot use."""
    return compile_filter(expr, prefix=prefix, dialect=SQLiteCompiler)


def spatial_sql_function(predicate: str, footprint: bytes, geometry: bytes) -> int | None:
    """``dc_spatial(predicate, footprint_wkb, query_wkb)``: registered on every connection."""
    if footprint is None or geometry is None:
        return None
    return int(bool(spatial_test(predicate, shapely.from_wkb(footprint), _prepared(geometry))))


@lru_cache(maxsize=64)
def _prepared(wkb: bytes) -> shapely.Geometry:
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


def _like_to_glob(pattern: str) -> str:
    """CQL2 LIKE (% _ with backslash escapes, case-sensitive) as an SQLite GLOB pattern."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(f"[{ch}]" if ch in "*?[" else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    if escaped:
        out.append("\\")
    return "".join(out)
