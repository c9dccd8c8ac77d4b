"""Extension parameters of a search turned into what the catalog contract takes.

* `filter` (cql2-text or cql2-json) and the Query extension's ``query`` both become one CQL2
  JSON expression: cql2-text is parsed by the `cql2` package, never by hand, and every
  expression is validated by it, so a malformed filter is a 400 that quotes the parser.
* ``sortby`` (``"-eo:cloud_cover,+id"`` or ``[{"field", "direction"}]``) becomes
  ((field, "asc"|"desc"), ...).
* ``q`` (``"crater,basin"``, ``"(south pole AND -mosaic)"`` or a list) is checked by
  `catalog.query.free_text` and handed on as text.
* ``fields`` becomes (include, exclude) and `apply_fields` shapes each returned item.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import cql2

from api.cql2_shape import check_cql2_shape
from api.request_limits import (
    DEFAULT_LIMITS,
    RequestLimits,
    check_cql2_json,
    check_cql2_json_text,
    check_cql2_text,
    check_q,
    check_sort_count,
    check_sortby,
    repair_filter_geometries,
)
from catalog.query.free_text import parse_free_text
from datacenter.errors import InvalidRequest

_QUERY_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_GEOJSON = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
            "GeometryCollection"}
_FILTER_CRS = ("http://www.opengis.net/def/crs/OGC/1.3/CRS84",)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:400]


def parse_filter(value: Any, lang: str | None,
                 limits: RequestLimits = DEFAULT_LIMITS) -> dict[str, Any] | None:
    """CQL2 JSON from a GET string (text or JSON) or a POST object; None when absent.

    Its size is bounded (`api.request_limits`) before the text reaches the parser, and its
    shape checked (`api.cql2_shape`) before the expression reaches cql2's validator, whose
    cost grows exponentially with the nesting of invalid parts; an invalid geometry literal
    comes back repaired."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, dict):
            check_cql2_json(value, limits)
            value = _modernise(value)
            if lang == "cql2-text":
                raise InvalidRequest("filter-lang is cql2-text but the filter is a JSON object; "
                                     "send filter-lang cql2-json or a text filter")
            expr = cql2.Expr(value)
        elif not isinstance(value, str):
            raise InvalidRequest(f"filter must be CQL2 text or a CQL2 JSON object, got {type(value).__name__}")
        elif lang == "cql2-json" or (lang is None and value.lstrip().startswith("{")):
            check_cql2_json_text(value, limits)
            try:
                data = json.loads(value)
            except (ValueError, RecursionError) as exc:
                raise InvalidRequest(f"filter is not valid CQL2 JSON: {exc}") from None
            if not isinstance(data, dict):
                raise InvalidRequest(f"filter is not a CQL2 JSON object: {value[:200]!r}")
            check_cql2_json(data, limits)
            expr = cql2.Expr(_modernise(data))
        elif lang in (None, "cql2-text"):
            check_cql2_text(value, limits)
            expr = cql2.parse_text(value)
            check_cql2_json(expr.to_json(), limits)
        else:
            raise InvalidRequest(f"filter-lang {lang!r} is not supported; use cql2-text or cql2-json")
        check_cql2_shape(expr.to_json())  # cql2's validator is exponential on bad shapes
        expr.validate()
    except InvalidRequest:
        raise
    except Exception as exc:  # noqa: BLE001 - cql2 raises bare Exception for unknown shapes
        raise InvalidRequest(f"filter is not valid CQL2 ({lang or 'cql2-text'}): {_first_line(exc)}") from None
    out = expr.to_json()
    if not isinstance(out, dict) and not isinstance(out, bool):
        raise InvalidRequest(f"filter {value!r} is not a boolean CQL2 expression")
    return repair_filter_geometries(out, limits)  # type: ignore[no-any-return]


def _modernise(node: Any) -> Any:
    """Older CQL2 JSON drafts wrote ``between`` as [property, [low, high]]; GeoJSON types
    outside RFC 7946 (PolyhedralSurface, TIN, ...) are refused by name."""
    if isinstance(node, list):
        return [_modernise(n) for n in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if isinstance(kind, str) and ("coordinates" in node or "geometries" in node) and kind not in _GEOJSON:
        raise InvalidRequest(
            f"filter: GeoJSON type {kind!r} is not supported; use Point, LineString, Polygon, "
            "their Multi* forms or GeometryCollection (RFC 7946)"
        )
    out = {k: _modernise(v) for k, v in node.items()}
    args = out.get("args")
    if (str(out.get("op", "")).lower() == "between" and isinstance(args, list) and len(args) == 2
            and isinstance(args[1], list) and len(args[1]) == 2):
        out["args"] = [args[0], *args[1]]
    return out


def check_filter_crs(crs: str | None) -> None:
    if crs and crs not in _FILTER_CRS:
        raise InvalidRequest(
            f"filter-crs {crs!r} is not supported; filters use longitude/latitude on the body "
            f"({_FILTER_CRS[0]})"
        )


def query_to_cql2(query: Any) -> dict[str, Any] | None:
    """The Query extension's ``{"prop": {"op": value}}`` as CQL2 JSON (ANDed)."""
    if query is None or query == "":
        return None
    if isinstance(query, str):
        try:
            query = json.loads(query)
        except (ValueError, RecursionError) as exc:
            raise InvalidRequest(f"query is not JSON: {exc}") from None
    if not isinstance(query, dict):
        raise InvalidRequest('query must be an object such as {"eo:cloud_cover": {"lt": 10}}')
    args: list[dict[str, Any]] = []
    for name, ops in query.items():
        if not isinstance(ops, dict) or not ops:
            raise InvalidRequest(f'query on {name!r} must be an object such as {{"lt": 10}}, got {ops!r}')
        prop = {"property": name}
        for op, value in ops.items():
            if op in _QUERY_OPS:
                args.append(_query_comparison(_QUERY_OPS[op], prop, value))
            elif op == "in":  # a value in the list, or (array properties) a common element
                if not isinstance(value, list) or not value:
                    raise InvalidRequest(f"query {name!r} 'in' needs a non-empty list, got {value!r}")
                args.append({"op": "a_overlaps", "args": [prop, value]})
            elif op in ("startsWith", "endsWith", "contains"):
                if not isinstance(value, str):
                    raise InvalidRequest(f"query {name!r} {op!r} needs text, got {value!r}")
                escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                pattern = {"startsWith": f"{escaped}%", "endsWith": f"%{escaped}",
                           "contains": f"%{escaped}%"}[op]
                args.append({"op": "like", "args": [prop, pattern]})
            else:
                raise InvalidRequest(
                    f"query operator {op!r} on {name!r} is not supported; use eq, neq, lt, lte, "
                    "gt, gte, startsWith, endsWith, contains or in"
                )
    if not args:  # `"query": {}` asks for nothing (an empty AND was a 500 on pgstac)
        return None
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def _number(value: Any) -> float | int | None:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def _query_comparison(op: str, prop: dict[str, Any], value: Any) -> dict[str, Any]:
    """GET query values arrive as text: "10" also matches the number 10 (not only the text)."""
    number = _number(value)
    if number is None:
        return {"op": op, "args": [prop, value]}
    if op in ("=", "<>"):
        both = [{"op": op, "args": [prop, value]}, {"op": op, "args": [prop, number]}]
        return {"op": "or" if op == "=" else "and", "args": both}
    return {"op": op, "args": [prop, number]}


def combine(*exprs: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [e for e in exprs if e is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"op": "and", "args": present}


def parse_sortby(value: Any, limits: RequestLimits = DEFAULT_LIMITS) -> tuple[tuple[str, str], ...] | None:
    """From ``["-gsd", "+id"]`` (GET) or ``[{"field", "direction"}]`` / models (POST)."""
    if not value:
        return None
    if isinstance(value, str):
        value = value.split(",")
    check_sort_count(len(value), limits)  # before the entries are looked at
    out = []
    for entry in value:
        if hasattr(entry, "model_dump"):
            entry = entry.model_dump(mode="json")
        if isinstance(entry, dict):
            field, direction = entry.get("field"), str(entry.get("direction", "asc")).lower()
        elif isinstance(entry, str):
            text = entry.strip()
            direction = "desc" if text.startswith("-") else "asc"
            field = text.lstrip("+-").strip()
        else:
            raise InvalidRequest(f"sortby entry {entry!r} is not a field name or {{field, direction}}")
        if not field:
            raise InvalidRequest(f"sortby entry {entry!r} names no field")
        if direction not in ("asc", "desc"):
            raise InvalidRequest(f"sortby direction {direction!r} of {field!r} must be asc or desc")
        out.append((field, direction))
    check_sortby(tuple(out), limits)
    return tuple(out)


def parse_q(value: Any, limits: RequestLimits = DEFAULT_LIMITS) -> str | tuple[str, ...] | None:
    """``q`` as the catalog takes it (a string, or a tuple whose entries are ORed), checked
    here so that a malformed one is a 400 naming the problem; None when absent."""
    if value is None or value == "" or value == []:
        return None
    q = value if isinstance(value, str) else tuple(value)
    check_q(q, limits)
    parse_free_text(q)
    return q


# fields -----------------------------------------------------------------------------
DEFAULT_FIELDS = ("type", "stac_version", "id", "geometry", "bbox", "links", "assets",
                  "properties.datetime", "collection")
MINIMAL_FIELDS = ("type", "stac_version", "id", "collection")
Fields = tuple[set[str], set[str], bool]  # include, exclude, include given (even empty)


def parse_fields(value: Any) -> Fields | None:
    """(include, exclude, include given) from GET ``["id", "-geometry"]`` or the POST model;
    None: full items."""
    if value is None:
        return None
    given = False
    if hasattr(value, "model_dump"):
        given = "include" in value.model_fields_set
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        include = {str(f) for f in value.get("include") or ()}
        exclude = {str(f) for f in value.get("exclude") or ()}
    else:
        include, exclude = set(), set()
        for entry in value if not isinstance(value, str) else value.split(","):
            text = str(entry).strip()
            if text.startswith("-"):
                exclude.add(text[1:])
            elif text:
                include.add(text.lstrip("+"))
    if not include and not exclude:
        return None
    return include, exclude, given


def apply_fields(item: dict[str, Any], fields: Fields | None) -> dict[str, Any]:
    """The STAC Fields extension, as stac-api-validator 0.6.8 checks it:

    * include (with or without exclude): those fields plus type, stac_version, id, collection;
    * exclude only: the full item without them; exclude with an explicitly empty include:
      the default set (type, stac_version, id, geometry, bbox, links, assets,
      properties.datetime, collection) without them;
    * a field both included and excluded stays; ``-properties,+properties.gsd`` keeps gsd.
    """
    if fields is None:
        return item
    include, exclude, given = fields
    exclude = exclude - include
    if include or given:
        out: dict[str, Any] = {}
        for path in (*MINIMAL_FIELDS, *sorted(include)) if include else DEFAULT_FIELDS:
            _copy_path(item, out, path)
    else:
        out = copy.deepcopy(item)
    for path in sorted(exclude):
        _delete_path(out, path)
        for inner in include:
            if inner.startswith(path + "."):
                _copy_path(item, out, inner)
    return out


def _copy_path(src: dict[str, Any], dst: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(src.get(part), dict):
            return
        src = src[part]
        dst = dst.setdefault(part, {})
    if parts[-1] in src:
        dst[parts[-1]] = copy.deepcopy(src[parts[-1]])


def _delete_path(obj: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj.get(part)  # type: ignore[assignment]
        if not isinstance(obj, dict):
            return
    obj.pop(parts[-1], None)
