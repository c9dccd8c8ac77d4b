"""CQL2 JSON -> a boolean SQL expression: the compiler core both backends share.

The API parses cql2-text with the `cql2` package and hands backends CQL2 JSON only, so this
module sees plain dicts. `Compiler` walks the tree and refuses, with one message for both
backends, whatever the catalog contract does not take; the SQL it writes for each node goes
through hooks a dialect overrides (`TRUE` / `FALSE`, `like`, `spatial`, `timestamp`,
`as_timestamp`, `json_property`, `array`, the column tables), in the way SQLAlchemy's dialects
override its base compiler. `catalog.sqlite.cql2.SQLiteCompiler` is the SQLite dialect. The
base compiler's own spellings are plain SQL no backend runs: `compile_filter` with it is the
reference validator, which `catalog.pgstac.cql2` runs first so that pgstac refuses the same
filters with the same messages.

Core fields map to columns (`id`, `collection`; `datetime`, `start_datetime`, `end_datetime`
to the integer-microsecond time columns); any other name is an item property read from the
stored JSON (``properties.`` prefixes are accepted). Comparisons follow SQL's three-valued
logic: a missing property makes a comparison unknown, so neither ``p = 1`` nor ``NOT (p = 1)``
matches it.

Spatial operators on `geometry` that sit in the top-level AND become *post-tests*: a box
prefilter plus a vectorised shapely predicate on the candidates' footprints, applied while
the page is walked (pages stay full). Spatial operators inside OR / NOT are compiled to SQL
(`Compiler.spatial`), row by row.

Temporal operators treat `datetime` as the item's interval [start, end] (its instant when
it has no start/end) and follow the CQL2 definitions of the Allen relations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely

from catalog.query.spatial import Box, box_geometry, part_boxes
from catalog.query.temporal import TEMPORAL_SQL, from_us, to_us
from datacenter.errors import InvalidRequest

_COMPARE = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
# item-first predicate -> the same predicate with the arguments swapped
_SPATIAL = {"s_intersects": "s_intersects", "s_disjoint": "s_disjoint", "s_equals": "s_equals",
            "s_touches": "s_touches", "s_crosses": "s_crosses", "s_overlaps": "s_overlaps",
            "s_within": "s_contains", "s_contains": "s_within"}
_SHAPELY: dict[str, Callable[..., np.ndarray]] = {
    "s_intersects": shapely.intersects, "s_disjoint": shapely.disjoint, "s_equals": shapely.equals,
    "s_touches": shapely.touches, "s_crosses": shapely.crosses, "s_overlaps": shapely.overlaps,
    "s_within": shapely.within, "s_contains": shapely.contains,
}
_TEMPORAL = TEMPORAL_SQL  # Allen relations, shared with the other backend
#: the spatial and temporal operators the compiler knows (the API's shape check uses them)
SPATIAL_OPERATORS = frozenset(_SPATIAL)
TEMPORAL_OPERATORS = frozenset(_TEMPORAL)
_FAR_PAST, _FAR_FUTURE = -(2**62), 2**62


@dataclass
class SpatialTest:
    """`predicate(item footprint, geometry)` for every candidate row (vectorised)."""

    predicate: str
    geometry: shapely.Geometry

    def hits(self, footprints: np.ndarray) -> np.ndarray:
        return _SHAPELY[self.predicate](footprints, self.geometry)


@dataclass
class CompiledFilter:
    sql: str  # boolean SQL over `items i`
    params: dict[str, Any]
    tests: list[SpatialTest] = field(default_factory=list)  # ANDed post-tests on footprints
    boxes: list[list[Box]] = field(default_factory=list)  # R*Tree prefilters, one per test


def compile_filter(expr: Any, *, prefix: str = "f", dialect: type[Compiler] | None = None) -> CompiledFilter:
    """Translate a CQL2 JSON expression with `dialect` (the base `Compiler`: validate only);
    `InvalidRequest` naming the part it cannot use."""
    compiler = (dialect or Compiler)(prefix)
    conjuncts = _flatten_and(expr)
    sql: list[str] = []
    for node in conjuncts:
        test = compiler.top_level_spatial(node)
        if test is None:
            sql.append(compiler.boolean(node))
    return CompiledFilter(" AND ".join(f"({s})" for s in sql) or compiler.TRUE, compiler.params,
                          compiler.tests, compiler.boxes)


def spatial_test(predicate: str, footprints: Any, geometry: shapely.Geometry) -> Any:
    """`predicate(footprints, geometry)` with shapely (vectorised over `footprints`)."""
    return _SHAPELY[predicate](footprints, geometry)


def _flatten_and(expr: Any) -> list[Any]:
    if isinstance(expr, dict) and str(expr.get("op", "")).lower() == "and":
        out: list[Any] = []
        for arg in _args(expr, "and"):
            out.extend(_flatten_and(arg))
        return out
    return [expr]


def _args(node: dict[str, Any], op: str) -> list[Any]:
    args = node.get("args")
    if not isinstance(args, list):
        raise InvalidRequest(f"CQL2 operator {op!r} needs an 'args' list, got {args!r}")
    return args


def _short(node: Any) -> str:
    text = json.dumps(node, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def _is_property(node: Any, name: str | None = None) -> bool:
    if not (isinstance(node, dict) and isinstance(node.get("property"), str)):
        return False
    return name is None or property_name(node) == name


def property_name(node: dict[str, Any]) -> str:
    name: str = node["property"]
    return name.removeprefix("properties.")


def _instant(value: Any, where: str) -> int:
    """Microseconds of a timestamp/date literal (or RFC 3339 text)."""
    if isinstance(value, dict) and "timestamp" in value:
        value = value["timestamp"]
    elif isinstance(value, dict) and "date" in value:
        value = f"{value['date']}T00:00:00Z"
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: {_short(value)} is not a timestamp or date")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise InvalidRequest(f"{where}: {value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return to_us(parsed)


def _is_temporal_literal(node: Any) -> bool:
    return isinstance(node, dict) and ("timestamp" in node or "date" in node or "interval" in node)


class Compiler:
    """Walks CQL2 JSON and refuses what the contract does not take; a dialect overrides the
    hooks (the methods and tables below the walk) with its own SQL."""

    # name -> (value, interval start, interval end)
    TIME_COLUMNS: dict[str, tuple[str, str, str]] = {
        "datetime": ("datetime", "start_datetime", "end_datetime"),
        "start_datetime": ("start_datetime", "start_datetime", "start_datetime"),
        "end_datetime": ("end_datetime", "end_datetime", "end_datetime")}
    TEXT_COLUMNS: dict[str, str] = {"id": "id", "collection": "collection"}
    TRUE, FALSE = "TRUE", "FALSE"

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.params: dict[str, Any] = {}
        self.tests: list[SpatialTest] = []
        self.boxes: list[list[Box]] = []

    def param(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    # booleans ----------------------------------------------------------------------
    def boolean(self, node: Any) -> str:
        if isinstance(node, bool):
            return self.TRUE if node else self.FALSE
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            raise InvalidRequest(
                f"CQL2 expression {_short(node)} is not a boolean expression "
                "(an object with 'op' and 'args')"
            )
        op = node["op"].lower()
        args = _args(node, op)
        if op in ("and", "or"):
            if len(args) < 2:
                raise InvalidRequest(f"CQL2 {op!r} needs at least two arguments: {_short(node)}")
            return f" {op.upper()} ".join(f"({self.boolean(a)})" for a in args)
        if op == "not":
            self._arity(node, op, 1)
            return f"NOT ({self.boolean(args[0])})"
        if op in _COMPARE:
            self._arity(node, op, 2)
            return self._comparison(_COMPARE[op], args[0], args[1])
        if op == "like":
            self._arity(node, op, 2)
            pattern = args[1]
            if not isinstance(pattern, str):
                raise InvalidRequest(f"CQL2 like needs a text pattern, got {_short(pattern)}")
            return self.like(self.value(args[0]), pattern)
        if op == "between":
            self._arity(node, op, 3)
            return (f"{self.value(args[0])} BETWEEN {self._scalar_for(args[0], args[1])}"
                    f" AND {self._scalar_for(args[0], args[2])}")
        if op == "in":
            self._arity(node, op, 2)
            if not isinstance(args[1], list) or not args[1]:
                raise InvalidRequest(f"CQL2 in needs a non-empty list, got {_short(args[1])}")
            values = ", ".join(self._scalar_for(args[0], v) for v in args[1])
            return f"{self.value(args[0])} IN ({values})"
        if op == "isnull":
            self._arity(node, op, 1)
            return f"{self.value(args[0], for_null=True)} IS NULL"
        if op in _SPATIAL:
            self._arity(node, op, 2)
            predicate, geometry = self._spatial_parts(op, args)
            return self.spatial(predicate, geometry)
        if op.startswith("t_"):
            return self._temporal(op, node, args)
        if op in ("a_contains", "a_containedby", "a_overlaps", "a_equals"):
            self._arity(node, op, 2)
            return self._array(op, args)
        raise InvalidRequest(
            f"CQL2 operator {node['op']!r} is not supported (in {_short(node)}); supported: "
            "and, or, not, =, <>, <, <=, >, >=, like, between, in, isNull, s_*, t_*, a_contains, "
            "a_containedBy, a_overlaps, a_equals, casei, + - * /"
        )

    @staticmethod
    def _arity(node: dict[str, Any], op: str, n: int) -> None:
        if len(node["args"]) != n:
            raise InvalidRequest(f"CQL2 {op!r} takes {n} argument(s), got {_short(node)}")

    def top_level_spatial(self, node: Any) -> SpatialTest | None:
        """A spatial op of the top-level AND becomes a post-test (+ R*Tree prefilter)."""
        if not (isinstance(node, dict) and str(node.get("op", "")).lower() in _SPATIAL):
            return None
        op = node["op"].lower()
        self._arity(node, op, 2)
        predicate, geometry = self._spatial_parts(op, node["args"])
        shapely.prepare(geometry)
        test = SpatialTest(predicate, geometry)
        self.tests.append(test)
        self.boxes.append([] if predicate == "s_disjoint" else part_boxes(geometry))
        return test

    def _spatial_parts(self, op: str, args: list[Any]) -> tuple[str, shapely.Geometry]:
        first, second = args
        if _is_property(second, "geometry") and not _is_property(first):
            first, second, op = second, first, _SPATIAL[op]
        if not _is_property(first, "geometry"):
            raise InvalidRequest(
                f"CQL2 {op} compares {_short(first)}; only the item 'geometry' property has a "
                "footprint, e.g. s_intersects(geometry, POLYGON(...))"
            )
        return op, geometry_literal(second, op)

    # values ------------------------------------------------------------------------
    def value(self, node: Any, *, for_null: bool = False) -> str:
        if isinstance(node, dict) and "property" in node:
            return self.property(node, for_null=for_null)
        if isinstance(node, dict) and "op" in node:
            op = str(node["op"]).lower()
            args = _args(node, op)
            if op in _ARITHMETIC:
                self._arity(node, op, 2)
                return f"({self.value(args[0])} {_ARITHMETIC[op]} {self.value(args[1])})"
            if op == "casei":
                self._arity(node, op, 1)
                return f"lower({self.value(args[0])})"
            return f"({self.boolean(node)})"
        if isinstance(node, dict) and ("timestamp" in node or "date" in node):
            return self.timestamp(_instant(node, 'CQL2 timestamp'))
        if isinstance(node, bool):
            return self.param(int(node))
        if isinstance(node, int | float | str):
            return self.param(node)
        raise InvalidRequest(f"CQL2 value {_short(node)} is not a property, number, text or timestamp")

    def property(self, node: dict[str, Any], *, for_null: bool = False, as_json: bool = False) -> str:
        name = property_name(node)
        if name in self.TEXT_COLUMNS:
            return self.TEXT_COLUMNS[name]
        if name == "geometry":
            raise InvalidRequest("CQL2 'geometry' can only be used in spatial operators (s_intersects, ...)")
        if name in self.TIME_COLUMNS and not for_null:
            return self.TIME_COLUMNS[name][0]
        if '"' in name or not name:
            raise InvalidRequest(f"CQL2 property name {name!r} is not usable")
        return self.json_property(name, as_json=as_json)

    def _scalar_for(self, left: Any, literal: Any) -> str:
        """A literal compared with `left`: instants for the time columns, else as it is."""
        if _is_property(left) and property_name(left) in self.TIME_COLUMNS and not _is_property(literal):
            return self.param(_instant(literal, f"CQL2 comparison with {property_name(left)}"))
        return self.value(literal)

    def _comparison(self, op: str, left: Any, right: Any) -> str:
        if _is_property(right) and not _is_property(left):
            left, right, op = right, left, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        if _is_property(left) and property_name(left) in self.TIME_COLUMNS and not _is_property(right):
            return f"{self.value(left)} {op} {self._scalar_for(left, right)}"
        if _is_temporal_literal(right):  # a free-form property against a timestamp
            return f"{self.as_timestamp(self.value(left))} {op} {self.value(right)}"
        return f"{self.value(left)} {op} {self.value(right)}"

    def _temporal(self, op: str, node: dict[str, Any], args: list[Any]) -> str:
        if op not in _TEMPORAL:
            raise InvalidRequest(f"CQL2 temporal operator {node['op']!r} is not supported")
        self._arity(node, op, 2)
        first, second = args
        if not _is_property(first) or property_name(first) not in self.TIME_COLUMNS:
            raise InvalidRequest(
                f"CQL2 {node['op']} needs datetime, start_datetime or end_datetime first, got {_short(first)}"
            )
        _, a_start, a_end = self.TIME_COLUMNS[property_name(first)]
        b_start, b_end = self._interval(second, node["op"])
        return "(" + _TEMPORAL[op].format(as_=a_start, ae=a_end, bs=b_start, be=b_end) + ")"

    def _interval(self, node: Any, op: str) -> tuple[str, str]:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise InvalidRequest(f"CQL2 {op}: interval {_short(node)} needs two ends")
            start = _FAR_PAST if bounds[0] in ("..", None) else _instant(bounds[0], f"CQL2 {op}")
            end = _FAR_FUTURE if bounds[1] in ("..", None) else _instant(bounds[1], f"CQL2 {op}")
            return self.param(start), self.param(end)
        if _is_property(node) and property_name(node) in self.TIME_COLUMNS:
            _, s, e = self.TIME_COLUMNS[property_name(node)]
            return s, e
        moment = self.param(_instant(node, f"CQL2 {op}"))
        return moment, moment

    def _array(self, op: str, args: list[Any]) -> str:
        left, right = args
        if not _is_property(left):
            left, right = right, left
            op = {"a_contains": "a_containedby", "a_containedby": "a_contains"}.get(op, op)
        if not _is_property(left) or not isinstance(right, list):
            raise InvalidRequest(f"CQL2 {op} needs a property and a literal list, got {_short(args)}")
        return self.array(op, left, right)

    # dialect hooks: the SQL of one node ----------------------------------------------
    def like(self, value: str, pattern: str) -> str:
        """`value` matching the CQL2 LIKE `pattern` (% _ with backslash escapes)."""
        return f"{value} LIKE {self.param(pattern)}"

    def spatial(self, predicate: str, geometry: shapely.Geometry) -> str:
        """`predicate(item footprint, geometry)` in SQL (inside OR / NOT)."""
        return f"{predicate}(geometry, {self.param(shapely.to_wkb(geometry))})"

    def timestamp(self, us: int) -> str:
        """A timestamp literal (microseconds) comparable with `as_timestamp` of a property."""
        return self.param(from_us(us))

    def as_timestamp(self, value: str) -> str:
        """A free-form property's value read as a timestamp."""
        return value

    def json_property(self, name: str, *, as_json: bool = False) -> str:
        """The item property `name` (not a core field) from the stored JSON; `as_json`: its
        JSON text even for strings, for the array operators."""
        return f"property({self.param(name)})"

    def array(self, op: str, left: dict[str, Any], right: list[Any]) -> str:
        """An array operator (`a_contains`, `a_containedby`, `a_overlaps`, `a_equals`) of the
        property `left` and the literal list `right`."""
        return f"{op}({self.property(left, for_null=True, as_json=True)}, {self.param(json.dumps(right))})"


def geometry_literal(node: Any, where: str = "CQL2") -> shapely.Geometry:
    """A GeoJSON geometry or ``{"bbox": [...]}`` as a valid shapely geometry (lon/lat)."""
    if isinstance(node, dict) and "bbox" in node:
        values = node["bbox"]
        if not isinstance(values, list) or len(values) not in (4, 6):
            raise InvalidRequest(f"{where}: bbox {_short(node)} needs 4 or 6 numbers")
        w, s, e, n = (values[0], values[1], values[3], values[4]) if len(values) == 6 else values
        if w > e:  # crosses the antimeridian
            return shapely.union_all([box_geometry((w, s, 180, n)), box_geometry((-180, s, e, n))])
        return box_geometry((w, s, e, n))
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise InvalidRequest(f"{where} needs a GeoJSON geometry, got {_short(node)}")
    if node["type"] not in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                            "MultiPolygon", "GeometryCollection"):
        raise InvalidRequest(
            f"{where}: GeoJSON type {node['type']!r} is not supported; use Point, LineString, "
            "Polygon, their Multi* forms or GeometryCollection (RFC 7946)"
        )
    try:
        geom = shapely.from_geojson(json.dumps(node))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InvalidRequest(f"{where}: {_short(node)} is not a valid GeoJSON geometry ({exc})") from None
    if geom is None or geom.is_empty:
        raise InvalidRequest(f"{where}: the geometry {_short(node)} is empty")
    return geom if shapely.is_valid(geom) else shapely.make_valid(geom)

