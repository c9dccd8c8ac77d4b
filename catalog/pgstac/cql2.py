"""CQL2 JSON and free text -> a PostgreSQL boolean expression over pgstac's ``items`` table.

Why not pgstac's own ``cql2_query``: its semantics differ from the catalog contract (and
from the SQLite backend) in ways users see: it reads an item's ``datetime`` as an instant in
the temporal operators (the contract uses the item's [start, end] interval), it stores
``end_datetime`` for every item (so ``end_datetime IS NULL`` never matches), it lower-cases
both sides of ``casei`` comparisons, sorts and compares unregistered properties as text
(``"50" > "400"``), and refuses a ``bbox`` literal that crosses the antimeridian. So user
filters are translated here, with the same meaning as `catalog.query.cql2`; pgstac keeps
the storage, the indexes and the base of the WHERE clause (collections, ids, bbox,
datetime, the access rule).

Every request is first run through `catalog.query.cql2.compile_filter`, a pure-Python
translation that touches no database: it is the reference validator, so both backends
refuse the same filters with the same messages. This module can then assume a well-formed
tree.

Values: an item property is read as ``jsonb`` (``content->'properties'->'name'``) and
compared with ``jsonb`` literals, so numbers compare as numbers and strings as strings
(SQL three-valued logic: a missing property makes a comparison unknown). ``id`` and
``collection`` are text columns; ``datetime`` / ``start_datetime`` / ``end_datetime`` are
pgstac's timestamp columns (an item's interval is [``datetime``, ``end_datetime``]).
Parameters are named (``%(f0)s``) for psycopg.
"""

from __future__ import annotations

import json
from typing import Any

import shapely

from catalog.query.cql2 import compile_filter, geometry_literal
from catalog.query.temporal import TEMPORAL_SQL

_COMPARE = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%%"}  # %% for psycopg
_TEXT_COLUMNS = {"id": "id", "collection": "collection"}
# name -> (value, interval start, interval end) over pgstac's columns
_TIME_COLUMNS = {"datetime": ("datetime", "datetime", "end_datetime"),
                 "start_datetime": ("datetime", "datetime", "datetime"),
                 "end_datetime": ("end_datetime", "end_datetime", "end_datetime")}
_SPATIAL = {"s_intersects": "ST_Intersects", "s_disjoint": "ST_Disjoint", "s_equals": "ST_Equals",
            "s_touches": "ST_Touches", "s_crosses": "ST_Crosses", "s_overlaps": "ST_Overlaps",
            "s_within": "ST_Within", "s_contains": "ST_Contains"}
_SWAPPED = {"s_within": "s_contains", "s_contains": "s_within"}
_TEMPORAL = TEMPORAL_SQL  # Allen relations, shared with the other backend

# kinds of compiled values
JSON, TEXT, TIME, NUM, BOOL = "json", "text", "time", "num", "bool"


def property_sql(name: str, params: dict[str, Any], prefix: str) -> str:
    """The item property `name` as jsonb (NULL when absent: pgstac strips JSON nulls)."""
    key = f"{prefix}{len(params)}"
    params[key] = name
    return f"(content->'properties'->%({key})s)"


def compile_pg_filter(expr: Any, params: dict[str, Any], *, prefix: str = "f") -> str:
    """The filter as SQL over ``items``; `InvalidRequest` (the SQLite backend's message) if
    it is malformed. Values land in `params`."""
    compile_filter(expr)  # the reference validator: same refusals, same messages
    return _Compiler(params, prefix).boolean(expr)


def _name(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("property"), str):
        return str(node["property"]).removeprefix("properties.")
    return None


def _is_literal(node: Any) -> bool:
    return not (isinstance(node, dict) and ("property" in node or "op" in node))


def _instant_text(value: Any) -> str:
    if isinstance(value, dict) and "timestamp" in value:
        return str(value["timestamp"])
    if isinstance(value, dict) and "date" in value:
        return f"{value['date']}T00:00:00Z"
    return str(value)


class _Compiler:
    def __init__(self, params: dict[str, Any], prefix: str) -> None:
        self.params = params
        self.prefix = prefix

    def param(self, value: Any, cast: str = "") -> str:
        key = f"{self.prefix}{len(self.params)}"
        self.params[key] = value
        return f"%({key})s{cast}"

    # booleans ----------------------------------------------------------------------
    def boolean(self, node: Any) -> str:
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        op = str(node["op"]).lower()
        args = node["args"]
        if op in ("and", "or"):
            return f" {op.upper()} ".join(f"({self.boolean(a)})" for a in args)
        if op == "not":
            return f"NOT ({self.boolean(args[0])})"
        if op in _COMPARE:
            return self._comparison(_COMPARE[op], args[0], args[1])
        if op == "like":
            value, kind = self.value(args[0])
            return f"{self._as_text(value, kind)} LIKE {self.param(args[1])}"
        if op == "between":
            left, kind = self.value(args[0])
            low, high = self._literal_for(args[1], kind), self._literal_for(args[2], kind)
            if low is None or high is None:
                left, low, high = self._as_json(left, kind), self._json(args[1]), self._json(args[2])
            return f"{left} BETWEEN {low} AND {high}"
        if op == "in":
            left, kind = self.value(args[0])
            values = [self._literal_for(v, kind) for v in args[1]]
            if any(v is None for v in values):
                left, values = self._as_json(left, kind), [self._json(v) for v in args[1]]
            return f"{left} IN ({', '.join(str(v) for v in values)})"
        if op == "isnull":
            name = _name(args[0])
            if name in _TIME_COLUMNS:  # the property itself: end_datetime may be absent
                return f"{property_sql(name, self.params, self.prefix)} IS NULL"
            return f"{self.value(args[0])[0]} IS NULL"
        if op in _SPATIAL:
            return self._spatial(op, args)
        if op in _TEMPORAL:
            return self._temporal(op, args)
        return self._array(op, args)

    def _spatial(self, op: str, args: list[Any]) -> str:
        first, second = args
        if _name(second) == "geometry" and _name(first) is None:
            first, second, op = second, first, _SWAPPED.get(op, op)
        geometry = geometry_literal(second, op)
        wkb = self.param(shapely.to_wkb(geometry), "::bytea")
        return f"{_SPATIAL[op]}(geometry, ST_GeomFromWKB({wkb}, 4326))"

    def _temporal(self, op: str, args: list[Any]) -> str:
        _, a_start, a_end = _TIME_COLUMNS[str(_name(args[0]))]
        b_start, b_end = self._interval(args[1])
        return "(" + _TEMPORAL[op].format(as_=a_start, ae=a_end, bs=b_start, be=b_end) + ")"

    def _interval(self, node: Any) -> tuple[str, str]:
        if isinstance(node, dict) and "interval" in node:
            start, end = node["interval"]
            bs = "'-infinity'::timestamptz" if start in ("..", None) else self._time(start)
            be = "'infinity'::timestamptz" if end in ("..", None) else self._time(end)
            return bs, be
        name = _name(node)
        if name in _TIME_COLUMNS:
            _, s, e = _TIME_COLUMNS[name]
            return s, e
        moment = self._time(node)
        return moment, moment

    def _time(self, value: Any) -> str:
        return self.param(_instant_text(value), "::timestamptz")

    def _array(self, op: str, args: list[Any]) -> str:
        left, right = args
        if _name(left) is None:
            left, right = right, left
            op = {"a_contains": "a_containedby", "a_containedby": "a_contains"}.get(op, op)
        value, kind = self.value(left)
        prop = self._as_json(value, kind)
        lit = self.param(json.dumps(right), "::jsonb")
        body = {
            "a_contains": f"{prop} @> {lit}",
            "a_containedby": f"{prop} <@ {lit}",
            "a_overlaps": f"EXISTS (SELECT 1 FROM jsonb_array_elements({lit}) l"
                          f" WHERE {prop} @> jsonb_build_array(l.value))",
            "a_equals": f"{prop} = {lit}",
        }[op]
        return f"CASE WHEN {prop} IS NULL THEN NULL ELSE ({body}) END"

    # values ------------------------------------------------------------------------
    def value(self, node: Any) -> tuple[str, str]:
        name = _name(node)
        if name is not None:
            if name in _TEXT_COLUMNS:
                return _TEXT_COLUMNS[name], TEXT
            if name in _TIME_COLUMNS:
                return _TIME_COLUMNS[name][0], TIME
            return property_sql(name, self.params, self.prefix), JSON
        if isinstance(node, dict) and "op" in node:
            op = str(node["op"]).lower()
            args = node["args"]
            if op in _ARITHMETIC:
                a, b = (self._as_num(*self.value(x)) for x in args)
                return f"({a} {_ARITHMETIC[op]} {b})", NUM
            if op == "casei":
                inner, kind = self.value(args[0])
                return f"lower({self._as_text(inner, kind)})", TEXT
            return f"({self.boolean(node)})", BOOL
        if isinstance(node, dict) and ("timestamp" in node or "date" in node):
            return self._time(node), TIME
        if isinstance(node, bool):
            return self.param(node), BOOL
        if isinstance(node, int | float):
            return self.param(node, "::numeric"), NUM
        return self.param(node, "::text"), TEXT

    def _literal_for(self, literal: Any, kind: str) -> str | None:
        """`literal` typed to compare with a value of `kind`; None when it cannot be."""
        if not _is_literal(literal):
            value, other = self.value(literal)
            return value if other == kind else None
        if kind == JSON:
            return self._json(literal)
        if kind == TIME:
            return self._time(literal)
        if kind == TEXT and isinstance(literal, str):
            return self.param(literal, "::text")
        if kind == NUM and isinstance(literal, int | float) and not isinstance(literal, bool):
            return self.param(literal, "::numeric")
        return None

    def _json(self, literal: Any) -> str:
        if isinstance(literal, dict) and ("timestamp" in literal or "date" in literal):
            literal = _instant_text(literal)
        if not _is_literal(literal):
            return self._as_json(*self.value(literal))
        return self.param(json.dumps(literal), "::jsonb")

    def _comparison(self, op: str, left: Any, right: Any) -> str:
        if _name(right) is not None and _name(left) is None:
            left, right, op = right, left, _FLIP.get(op, op)
        value, kind = self.value(left)
        if kind == JSON and isinstance(right, dict) and ("timestamp" in right or "date" in right):
            return f"({value} #>> '{{}}')::timestamptz {op} {self._time(right)}"
        other = self._literal_for(right, kind)
        if other is None:
            return f"{self._as_json(value, kind)} {op} {self._json(right)}"
        return f"{value} {op} {other}"

    @staticmethod
    def _as_json(value: str, kind: str) -> str:
        return value if kind == JSON else f"to_jsonb({value})"

    @staticmethod
    def _as_text(value: str, kind: str) -> str:
        return f"({value} #>> '{{}}')" if kind == JSON else f"({value})::text"

    @staticmethod
    def _as_num(value: str, kind: str) -> str:
        if kind == JSON:
            return f"(CASE WHEN jsonb_typeof({value}) = 'number' THEN ({value})::numeric END)"
        return value if kind == NUM else f"({value})::numeric"
