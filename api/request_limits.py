"""Bounds on what one search may ask for, checked before anything expensive runs.

An outside attack run found requests under the 1 MiB body cap that crashed or held the
server: cql2-text nested 2,000 parentheses deep segfaults the `cql2` parser (50k ORs do
too), nested ``NOT``s cost the validator ~25 ms a level, an ``in`` list of 20k values or a
``q`` of 50k ORs took half a minute, a self-intersecting polygon of a few hundred vertices
took minutes to repair, 20,000 ``sortby`` fields exceeded SQLite's column limit. Each is a
400 here that names the parameter and the limit (and its setting):

* cql2-text is scanned *before* the parser sees it (one regular-expression pass over its
  tokens: nesting depth, operators, values per list, WKT vertices), and cql2-json (and
  the parsed text) is walked with an explicit stack, never recursively;
* ``q`` is scanned for its nesting depth and number of terms before `catalog.query.free_text`
  parses it (a recursive-descent parser);
* ``sortby``: the number of keys, and property names with control characters (a NUL byte
  broke SQLite's JSON paths);
* geometries (``intersects`` and CQL2 spatial literals): the number of vertices; an
  invalid one (self-intersecting) is repaired here with GEOS's ``structure`` method, and
  only up to `max_repair_vertices`, so neither backend ever repairs one itself (the
  ``linework`` repair costs minutes from a few hundred crossing edges).

The limits are `RequestLimits`, one per app (`limits_of`), from ``DATACENTER_API_MAX_*``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import shapely
from starlette.requests import Request

from datacenter.errors import InvalidRequest
from datacenter.settings import Settings


@dataclass(frozen=True)
class RequestLimits:
    """What one search may ask for; each field is the setting ``DATACENTER_API_<FIELD>``
    (defaults in `datacenter.settings.Settings`)."""

    max_nesting: int  # operators / parentheses inside each other (filter and q)
    max_not_nesting: int  # NOTs inside NOTs (the validator's cost grows ~10 MiB a level)
    max_filter_terms: int  # operators of a filter (comparisons, AND / OR / NOT, functions)
    max_list_values: int  # values of one list in a filter (IN, arrays)
    max_like_length: int  # characters of a LIKE pattern
    max_vertices: int  # vertices of all the geometries of one search
    max_repair_vertices: int  # vertices of an invalid geometry that is still repaired
    max_sort_fields: int  # sortby keys
    max_q_terms: int  # words, phrases and groups of q

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(**{name: getattr(settings, f"api_{name}") for name in cls.__dataclass_fields__})


DEFAULT_LIMITS = RequestLimits(**{
    name: Settings.model_fields[f"api_{name}"].default for name in RequestLimits.__dataclass_fields__
})


def limits_of(request: Request) -> RequestLimits:
    """The limits of the app serving `request` (the defaults for an app built without)."""
    return getattr(request.app.state, "request_limits", DEFAULT_LIMITS)  # type: ignore[no-any-return]


def _refuse(param: str, what: str, limit: int, setting: str, advice: str) -> InvalidRequest:
    return InvalidRequest(
        f"{param} {what}; the limit is {limit} (DATACENTER_API_{setting.upper()}): {advice}"
    )


# -- cql2-text: a scan of its tokens ----------------------------------------------------------
_CQL2_TOKEN = re.compile(
    r"""'(?:[^']|'')*'?                 # a string literal (an unclosed one: the parser says so)
      | "(?:[^"]|"")*"?                 # a quoted identifier
      | [A-Za-z_][A-Za-z0-9_:.]*        # a word: keyword, function, property, WKT type
      | (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?
      | <>|<=|>=|!=|[=<>]
      | [()\[\],]
      | [-+*/%]
      | \s+
      | .""",
    re.VERBOSE,
)
_WKT = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
        "GEOMETRYCOLLECTION", "BBOX", "ENVELOPE"}
_WORD_OPERATORS = {"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "DIV"}
_BOOLEAN = {"AND", "OR"}


def check_cql2_text(text: str, limits: RequestLimits, param: str = "filter") -> None:
    """Refuse cql2-text too deep or too big for the parser, before it is parsed.

    Depth counts parentheses and chains of prefix operators (``NOT NOT``, ``- -``); a chain
    ends at the next AND / OR of its group. Operators are comparisons, AND / OR / NOT, LIKE,
    BETWEEN, IN, IS, arithmetic and function calls; WKT vertices are counted as pairs of
    numbers inside a WKT literal. The parsed expression is checked exactly afterwards
    (`check_cql2_json`); this pass keeps what cannot be parsed safely from the parser."""
    # one frame per open group: [depth of the group, prefix chain, values, inside WKT]
    frames: list[list[Any]] = [[0, 0, 1, False]]
    deepest = operators = numbers_in_wkt = 0
    prefix_position = True  # at the start, after '(' ',' or an operator
    after_prefix = False  # the previous token was a prefix operator: its '(' adds no level
    previous_word = ""
    for match in _CQL2_TOKEN.finditer(text):
        token = match.group()
        if token.isspace():
            continue
        frame = frames[-1]
        is_prefix = False
        upper = token.upper()
        word = token[0].isalpha() or token[0] == "_"
        if token in ("(", "["):
            wkt = frame[3] or previous_word in _WKT
            if not wkt and previous_word and previous_word not in _WORD_OPERATORS:
                operators += 1  # a function call
            frames.append([frame[0] + frame[1] + (0 if after_prefix else 1), 0, 1, wkt])
            deepest = max(deepest, frames[-1][0])
            prefix_position = True
        elif token in (")", "]"):
            if len(frames) > 1:
                frames.pop()
            prefix_position = False
        elif token == ",":
            frame[1] = 0  # list entries and arguments are siblings
            frame[2] += 1
            if not frame[3] and frame[2] > limits.max_list_values:
                raise _refuse(param, f"has a list of more than {limits.max_list_values} values",
                              limits.max_list_values, "max_list_values",
                              "split the search, or match fewer values at once")
            prefix_position = True
        elif frame[3] and token in ("-", "+"):
            pass  # the sign of a WKT coordinate
        elif (upper == "NOT" and previous_word != "IS" or token == "-") and prefix_position:
            frame[1] += 1
            is_prefix = True
            operators += 1
            deepest = max(deepest, frame[0] + frame[1])
        elif word and upper in _WORD_OPERATORS or token in ("=", "<>", "<", ">", "<=", ">=", "!=",
                                                              "+", "-", "*", "/", "%"):
            operators += 1
            if upper in _BOOLEAN:
                frame[1] = 0
            prefix_position = True
        else:
            if frame[3] and token[0].isdigit() or frame[3] and token[0] == ".":
                numbers_in_wkt += 1
            prefix_position = False
        if deepest > limits.max_nesting:
            raise _refuse(param, f"is nested more than {limits.max_nesting} levels deep",
                          limits.max_nesting, "max_nesting", "write it with fewer nested "
                          "parentheses and NOTs (an IN list, or De Morgan's laws)")
        if operators > limits.max_filter_terms:
            raise _refuse(param, f"has more than {limits.max_filter_terms} operators",
                          limits.max_filter_terms, "max_filter_terms",
                          "use IN (...) for many values of one property, or split the search")
        if numbers_in_wkt > 3 * limits.max_vertices:  # up to 3 numbers a vertex (x y z)
            break
        after_prefix = is_prefix
        previous_word = upper if word else ""
    if numbers_in_wkt // 2 > limits.max_vertices:
        raise _vertices(param, numbers_in_wkt // 2, limits)


def check_cql2_json_text(text: str, limits: RequestLimits, param: str = "filter") -> None:
    """The bracket depth of a cql2-json string, before `json.loads` reads it."""
    depth = deepest = 0
    in_string = escaped = False
    bound = 3 * limits.max_nesting + 8
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > bound:
                deepest = depth
                break
        elif ch in "]}":
            depth -= 1
    if deepest > bound:
        raise _refuse(param, f"is nested more than {bound} brackets deep", limits.max_nesting,
                      "max_nesting", "write it with fewer nested operators")


# -- cql2-json: an explicit-stack walk ------------------------------------------------------
_GEOJSON_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_geometry(node: dict[str, Any]) -> bool:
    return node.get("type") in _GEOJSON_TYPES and ("coordinates" in node or "geometries" in node)


def check_property_name(name: str, param: str) -> None:
    if _CONTROL.search(name):
        raise InvalidRequest(
            f"{param} names the property {name[:80]!r}, which holds a control character "
            "(such as a NUL byte); property names are printable text"
        )


def check_cql2_json(expr: Any, limits: RequestLimits, param: str = "filter") -> int:
    """Refuse a CQL2 JSON expression that is too deep, has too many operators, too long a
    list or LIKE pattern, too many vertices, or a property name with a control character.
    Returns the vertices of its geometry literals (they count toward `max_vertices` together
    with ``intersects``)."""
    operators = vertices = 0
    bound = 3 * limits.max_nesting + 8  # containers: an operator is a dict and its args list
    # (node, operator depth, NOT depth, container depth, inside a LIKE, an operator's args)
    stack: list[tuple[Any, int, int, int, bool, bool]] = [(expr, 0, 0, 0, False, False)]
    while stack:
        node, depth, nots, nest, like, is_args = stack.pop()
        if nest > bound:
            raise _refuse(param, f"is nested more than {bound} containers deep", limits.max_nesting,
                          "max_nesting", "write it with fewer nested operators")
        if isinstance(node, dict):
            if _is_geometry(node):
                vertices += count_vertices(node, param, limits)
                if vertices > limits.max_vertices:
                    raise _vertices(param, vertices, limits)
                continue
            op = node.get("op")
            args_of_op = False
            if isinstance(op, str):
                operators += 1
                depth += 1
                if depth > limits.max_nesting:
                    raise _refuse(param, f"is nested more than {limits.max_nesting} operators deep",
                                  limits.max_nesting, "max_nesting", "write it with fewer "
                                  "nested operators (an IN list, or De Morgan's laws)")
                if operators > limits.max_filter_terms:
                    raise _refuse(param, f"has more than {limits.max_filter_terms} operators",
                                  limits.max_filter_terms, "max_filter_terms", "use an `in` list "
                                  "for many values of one property, or split the search")
                like = like or op.lower() == "like"
                if op.lower() == "not":
                    nots += 1
                    if nots > limits.max_not_nesting:
                        raise _refuse(param, f"has more than {limits.max_not_nesting} NOTs inside "
                                      "each other", limits.max_not_nesting, "max_not_nesting",
                                      "write it with fewer nested NOTs (NOT NOT x is x; De "
                                      "Morgan's laws move a NOT inwards)")
                args_of_op = True
            name = node.get("property")
            if isinstance(name, str):
                check_property_name(name, param)
            for key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append((value, depth, nots, nest + 1, like, args_of_op and key == "args"))
        elif isinstance(node, list):
            if not is_args and len(node) > limits.max_list_values:
                raise _refuse(param, f"has a list of {len(node)} values", limits.max_list_values,
                              "max_list_values", "split the search, or match fewer values at once")
            for value in node:
                if isinstance(value, dict | list):
                    stack.append((value, depth, nots, nest + 1, like, False))
                elif like and isinstance(value, str) and len(value) > limits.max_like_length:
                    raise _refuse(param, f"has a LIKE pattern of {len(value)} characters",
                                  limits.max_like_length, "max_like_length",
                                  "match a shorter pattern")
    return vertices


# -- geometries -------------------------------------------------------------------------------
def _vertices(param: str, count: int, limits: RequestLimits) -> InvalidRequest:
    return _refuse(param, f"has geometries of {count} vertices", limits.max_vertices,
                   "max_vertices", "simplify the geometry (e.g. shapely's simplify) or search "
                   "by its bbox")


def count_vertices(geometry: dict[str, Any], param: str, limits: RequestLimits) -> int:
    """Positions in a GeoJSON geometry, walked without recursion (bounded depth)."""
    count = 0
    stack: list[tuple[Any, int]] = [(geometry, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 8:
            raise InvalidRequest(f"{param} holds a geometry nested {depth} levels deep; GeoJSON "
                                 "coordinates nest at most 4 levels (a MultiPolygon)")
        if isinstance(node, dict):
            for key in ("coordinates", "geometries"):
                if key in node:
                    stack.append((node[key], depth + 1))
        elif isinstance(node, list):
            if node and all(isinstance(v, int | float) and not isinstance(v, bool) for v in node):
                count += 1
                continue
            stack.extend((value, depth + 1) for value in node)
        if count > limits.max_vertices:
            break
    return count


def repaired_geometry(geometry: dict[str, Any], param: str, limits: RequestLimits,
                      vertices: int) -> dict[str, Any]:
    """`geometry` itself when it is valid; an invalid one (self-intersecting, ...) repaired
    by GEOS's ``structure`` method if it has at most `max_repair_vertices` vertices, else a
    400 that says where it is invalid. A geometry GEOS cannot read is left to the catalog,
    which names the problem."""
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, TypeError, ValueError):
        return geometry
    if shape is None or shape.is_empty or shapely.is_valid(shape):
        return geometry
    if vertices > limits.max_repair_vertices:
        reason = shapely.is_valid_reason(shape)
        raise _refuse(param, f"is not a valid geometry ({reason}) and has {vertices} vertices; "
                      "only geometries of up to that many vertices are repaired",
                      limits.max_repair_vertices, "max_repair_vertices",
                      "send a valid geometry (e.g. split it where its edges cross)")
    fixed = shapely.make_valid(shape, method="structure", keep_collapsed=False)
    return json.loads(shapely.to_geojson(fixed))  # type: ignore[no-any-return]


def check_geometry(geometry: dict[str, Any] | None, limits: RequestLimits, param: str = "intersects",
                   already: int = 0) -> tuple[dict[str, Any] | None, int]:
    """(`geometry`, repaired if need be, its vertices): refused above `max_vertices`
    (counting the `already` vertices of the filter's geometries)."""
    if geometry is None:
        return None, 0
    vertices = count_vertices(geometry, param, limits)
    if already + vertices > limits.max_vertices:
        raise _vertices(param, already + vertices, limits)
    return repaired_geometry(geometry, param, limits, vertices), vertices


def repair_filter_geometries(expr: Any, limits: RequestLimits, param: str = "filter") -> Any:
    """`expr` with each invalid geometry literal repaired (`repaired_geometry`); walked after
    `check_cql2_json`, so its size is already bounded (recursion depth included)."""
    if isinstance(expr, dict):
        if _is_geometry(expr):
            return repaired_geometry(expr, param, limits, count_vertices(expr, param, limits))
        return {k: repair_filter_geometries(v, limits, param) for k, v in expr.items()}
    if isinstance(expr, list):
        return [repair_filter_geometries(v, limits, param) for v in expr]
    return expr


# -- q and sortby ---------------------------------------------------------------------------
_Q_TOKEN = re.compile(r'"[^"]*"?|[(),]|[^\s(),"]+|\s+')


def check_q(q: str | tuple[str, ...], limits: RequestLimits) -> None:
    """Refuse a ``q`` nested deeper than `max_nesting` or with more than `max_q_terms`
    words, phrases and groups, before it is parsed."""
    terms = 0
    for entry in (q,) if isinstance(q, str) else q:
        if not isinstance(entry, str):
            continue  # `parse_free_text` names it
        depth = 0
        for match in _Q_TOKEN.finditer(entry):
            token = match.group()
            if token == "(":
                depth += 1
                terms += 1
                if depth > limits.max_nesting:
                    raise _refuse("q", f"is nested more than {limits.max_nesting} parentheses deep",
                                  limits.max_nesting, "max_nesting", "write it with fewer groups")
            elif token == ")":
                depth = max(depth - 1, 0)
            elif token != "," and not token.isspace() and token not in ("AND", "OR"):
                terms += 1
            if terms > limits.max_q_terms:
                raise _refuse("q", f"has more than {limits.max_q_terms} terms", limits.max_q_terms,
                              "max_q_terms", "look for fewer words at once")


def check_sort_count(count: int, limits: RequestLimits) -> None:
    if count > limits.max_sort_fields:
        raise _refuse("sortby", f"has {count} fields", limits.max_sort_fields,
                      "max_sort_fields", "sort by fewer fields")


def check_sortby(fields: tuple[tuple[str, str], ...] | None, limits: RequestLimits) -> None:
    """At most `max_sort_fields` keys, each a printable property name."""
    if not fields:
        return
    check_sort_count(len(fields), limits)
    for name, _ in fields:
        check_property_name(name, "sortby")
