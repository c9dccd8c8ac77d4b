"""A linear-time check of a CQL2 JSON expression's shape, run before `cql2.Expr.validate`.

cql2's validator (a JSON-schema check of the whole tree) is quick on a valid expression but
explores every alternative of the CQL2 schema when one is not: its time and memory grow
exponentially with the nesting of invalid parts. Found by the fuzz test
(`tests/api/test_fuzz_server.py`): `- - - S_INTERSECTS(geometry, POLYGON(...))` takes 28 s
and 6 GB, `NOT (NOT (NOT (NOT (S_INTERSECTS(1, 2)))))` aborts the process. So the shape is
checked here first, in one walk, and only a well-shaped expression reaches the validator:

* a predicate (comparison, LIKE, BETWEEN, IN, IS NULL, spatial, temporal, array) stands at
  the top or as an argument of AND / OR / NOT, never inside another operator or a function;
  arithmetic and CASEI / ACCENTI are values, never a predicate; an operator or function the
  catalog does not know is refused by name (its compilers would refuse it too);
* AND / OR take two or more arguments, NOT one, and each is a predicate, a boolean or a
  property;
* each operator has its number of arguments; spatial ones compare geometries (a property, a
  GeoJSON geometry or a bbox), temporal ones instants and intervals (a property, a
  timestamp, a date or an interval), LIKE a pattern that is text;
* literals have their form: a timestamp is RFC 3339, a date YYYY-MM-DD, an interval two
  instants (or ".."), a bbox 4 or 6 numbers, a geometry's coordinates nest as its type says.

Each refusal is an `InvalidRequest` naming the operator and what it got.
"""

from __future__ import annotations

import math
import re
from typing import Any

from catalog.query.cql2 import SPATIAL_OPERATORS, TEMPORAL_OPERATORS
from datacenter.errors import InvalidRequest

LOGICAL = {"and", "or", "not"}
COMPARISON = {"=", "<>", "<", "<=", ">", ">="}
SPATIAL = set(SPATIAL_OPERATORS)  # the compiler's own lists, so the two cannot drift
TEMPORAL = set(TEMPORAL_OPERATORS)
ARRAY = {"a_equals", "a_contains", "a_containedby", "a_overlaps"}
PREDICATES = COMPARISON | SPATIAL | TEMPORAL | ARRAY | {"like", "between", "in", "isnull"}
ARITHMETIC = {"+", "-", "*", "/", "%", "^", "div"}
TEXT_FUNCTIONS = {"casei", "accenti"}
KNOWN = LOGICAL | PREDICATES | ARITHMETIC | TEXT_FUNCTIONS
_ARITY = {**dict.fromkeys(COMPARISON | SPATIAL | TEMPORAL | ARRAY | ARITHMETIC | {"like", "in"}, 2),
          "between": 3, "isnull": 1, "not": 1, "casei": 1, "accenti": 1}  # fmt: skip
_GEOJSON = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
            "GeometryCollection"}  # fmt: skip


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: how deep a geometry's coordinates nest (a position is depth 1)
_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "MultiLineString": 3, "Polygon": 3, "MultiPolygon": 4}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _nests(coords: Any, depth: int) -> bool:
    if depth == 1:
        return isinstance(coords, list) and 2 <= len(coords) <= 4 and all(_number(c) for c in coords)
    return isinstance(coords, list) and all(_nests(c, depth - 1) for c in coords)


def _check_literal(node: dict[str, Any]) -> None:
    """The form of a timestamp, date, interval, bbox or geometry literal."""
    if "timestamp" in node and len(node) == 1:
        if not (isinstance(node["timestamp"], str) and _TIMESTAMP.match(node["timestamp"])):
            raise InvalidRequest(f"filter: TIMESTAMP {_show(node['timestamp'])} is not an RFC 3339 "
                                 "time such as '2024-01-31T12:00:00Z'")
    elif "date" in node and len(node) == 1:
        if not (isinstance(node["date"], str) and _DATE.match(node["date"])):
            raise InvalidRequest(f"filter: DATE {_show(node['date'])} is not a date such as '2024-01-31'")
    elif "interval" in node and len(node) == 1:
        ends = node["interval"]
        if not (isinstance(ends, list) and len(ends) == 2):
            raise InvalidRequest(f"filter: INTERVAL takes two instants (or '..'), got {_show(ends)}")
        for end in ends:
            if isinstance(end, str):
                if end != ".." and not (_TIMESTAMP.match(end) or _DATE.match(end)):
                    raise InvalidRequest(f"filter: INTERVAL end {end!r} is not an RFC 3339 time, a date or '..'")
            elif isinstance(end, dict) and (_is_property(end) or _is_temporal(end)):
                if not _is_property(end):
                    _check_literal(end)
            else:
                raise InvalidRequest(f"filter: INTERVAL end {_show(end)} is not an instant, a property or '..'")
    elif set(node) == {"bbox"}:
        box = node["bbox"]
        if not (isinstance(box, list) and len(box) in (4, 6) and all(_number(v) for v in box)):
            raise InvalidRequest(f"filter: BBOX takes 4 or 6 numbers, got {_show(box)}")
    elif node.get("type") in _GEOJSON:
        _check_geometry(node)


def _check_geometry(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if kind == "GeometryCollection":
        parts = node.get("geometries")
        if not isinstance(parts, list) or not all(isinstance(g, dict) and g.get("type") in _GEOJSON for g in parts):
            raise InvalidRequest("filter: a GeometryCollection takes a list of GeoJSON geometries")
        for part in parts:
            _check_geometry(part)
    elif not _nests(node.get("coordinates"), _DEPTH[str(kind)]):
        raise InvalidRequest(f"filter: the coordinates of a {kind} are not positions nested "
                             f"{_DEPTH[str(kind)]} deep (lists of 2 or 3 numbers)")


def _op(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("op"), str):
        return node["op"].lower()
    return None


def _show(node: Any) -> str:
    op = _op(node)
    if op is not None:
        return f"{op.upper()}(...)"
    text = repr(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse(op: str, what: str) -> InvalidRequest:
    return InvalidRequest(f"filter: {op.upper()} {what}; see the CQL2 grammar (OGC 21-065)")


def _is_property(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"property"}


def _is_geometry(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    if set(node) == {"bbox"}:
        return True
    return node.get("type") in _GEOJSON and ("coordinates" in node or "geometries" in node)


def _is_temporal(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("timestamp", "date", "interval")


def check_cql2_shape(node: Any, param: str = "filter") -> None:
    """`InvalidRequest` naming the first misplaced predicate, wrong argument count or wrong
    kind of argument in the CQL2 JSON `node`; linear in its size (the size and depth are
    bounded before, by `api.request_limits.check_cql2_json`)."""
    _predicate(node)


def _predicate(node: Any) -> None:
    """`node` where a boolean is expected."""
    if isinstance(node, bool):
        return
    if _is_property(node):  # cql2 refuses it too, after seconds and gigabytes under a few NOTs
        raise InvalidRequest(f"filter: a property alone is not a predicate ({_show(node)}); "
                             "compare it, e.g. {\"op\": \"=\", \"args\": [{\"property\": ...}, true]}")
    op = _op(node)
    if op is None:
        raise InvalidRequest(f"filter: expected a predicate (a comparison, LIKE, S_INTERSECTS, ...) "
                             f"where it has {_show(node)}")
    args = node.get("args")
    if not isinstance(args, list):
        raise _refuse(op, "has no list of arguments (\"args\")")
    if op in LOGICAL:
        if op == "not" and len(args) != 1 or op != "not" and len(args) < 2:
            raise _refuse(op, f"takes {'one argument' if op == 'not' else 'two or more arguments'}, "
                              f"got {len(args)}")
        for arg in args:
            _predicate(arg)
        return
    if op not in PREDICATES:
        _known(op)
        raise InvalidRequest(f"filter: expected a predicate (a comparison, LIKE, S_INTERSECTS, ...) "
                             f"where it has {_show(node)}")
    arity = _ARITY.get(op)
    if arity is not None and len(args) != arity:
        raise _refuse(op, f"takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}")
    if op in SPATIAL:
        for arg in args:
            if not (_is_property(arg) or _is_geometry(arg)):
                raise _refuse(op, f"compares geometries (a property, a GeoJSON geometry or a bbox), got {_show(arg)}")
            if not _is_property(arg):
                _check_literal(arg)
        return
    if op in TEMPORAL:
        for arg in args:
            if not (_is_property(arg) or _is_temporal(arg)):
                raise _refuse(op, f"compares instants or intervals (a property, TIMESTAMP, DATE or INTERVAL), "
                                  f"got {_show(arg)}")
            if not _is_property(arg):
                _check_literal(arg)
        return
    if op == "in":
        _value(args[0], op)
        if not isinstance(args[1], list):
            raise _refuse(op, f"takes a list of values after the first argument, got {_show(args[1])}")
        for arg in args[1]:
            _value(arg, op)
        return
    for arg in args:
        _value(arg, op)
    if op == "like" and not _is_pattern(args[1]):
        raise _refuse(op, f"takes a pattern (a text, or CASEI / ACCENTI of one) as its second "
                          f"argument, got {_show(args[1])}")


def _is_pattern(node: Any) -> bool:
    """CQL2's patternExpression: a character literal, or CASEI / ACCENTI of a pattern (a
    property there made cql2's validator take seconds and hundreds of MB before refusing)."""
    if isinstance(node, str):
        return True
    args = node.get("args") if isinstance(node, dict) else None
    return (_op(node) in TEXT_FUNCTIONS and isinstance(args, list) and len(args) == 1
            and _is_pattern(args[0]))


#: what each operator's value arguments may be (a property or a function may be anything)
_NUMERIC = {"number", "any"}
_TEXT = {"text", "any"}
_WANTS = {**dict.fromkeys(ARITHMETIC, (_NUMERIC, "numbers")), "between": (_NUMERIC, "numbers"),
          **dict.fromkeys(TEXT_FUNCTIONS, (_TEXT, "text")), "like": (_TEXT, "text"),
          **dict.fromkeys(ARRAY, ({"array", "any"}, "arrays (a property or a list of values)"))}  # fmt: skip
_SCALAR = {"number", "text", "bool", "time", "any"}


def _value(node: Any, parent: str) -> str:
    """`node` where a value (not a predicate) is expected, as an argument of `parent`; its
    kind: number, text, bool, time, geom, array or any (a property, a function)."""
    if isinstance(node, list):  # the list is what `parent` takes; its items are any values
        for item in node:
            _value(item, "[]")
        kind = "array"
    elif isinstance(node, bool):
        kind = "bool"
    elif isinstance(node, int | float):
        kind = "number"
    elif isinstance(node, str):
        kind = "text"
    elif _op(node) is None:
        if isinstance(node, dict) and not _is_property(node):
            _check_literal(node)
            kind = "geom" if _is_geometry(node) else "time" if _is_temporal(node) else "any"
        else:
            kind = "any"
    else:
        kind = _operation(node, parent)
    wanted, words = _WANTS.get(parent, (None, ""))
    if wanted is not None and kind not in wanted:
        raise _refuse(parent, f"takes {words}, got {_show(node)}")
    if parent in COMPARISON and kind not in _SCALAR:
        raise _refuse(parent, f"compares values (numbers, text, times, booleans), got {_show(node)}")
    return kind


def _known(op: str) -> None:
    if op not in KNOWN:
        raise InvalidRequest(f"filter: CQL2 operator or function {op!r} is not supported; supported: "
                             + ", ".join(sorted(KNOWN)))


def _operation(node: dict[str, Any], parent: str) -> str:
    op = str(node["op"]).lower()
    if op in PREDICATES or op in LOGICAL:
        raise _refuse(parent, f"cannot take a predicate ({op.upper()}) as an argument; "
                              "combine predicates with AND, OR and NOT")
    _known(op)
    args = node.get("args")
    if not isinstance(args, list):
        raise _refuse(op, "has no list of arguments (\"args\")")
    arity = _ARITY.get(op)
    if arity is not None and len(args) != arity:
        raise _refuse(op, f"takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}")
    for arg in args:
        _value(arg, op)
    return "number" if op in ARITHMETIC else "text" if op in TEXT_FUNCTIONS else "any"
