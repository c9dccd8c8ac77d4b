"""`SearchQuery` -> the SQL filter, exactness rule and test geometry the SQLite catalog runs.

A `Plan` splits matches into *sure* rows (SQL alone proves they match) and *uncertain* rows
(their WKB footprint must pass a shapely `intersects` test against the prepared query
geometry). For a bbox query, a rectangular footprint is decided in SQL with double-precision
bounds (the R*Tree stores float32); any footprint whose bounds lie inside the query box is
sure too, so only footprints straddling the box edge reach shapely.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from catalog.base import SearchQuery
from catalog.query.cql2 import SpatialTest
from catalog.query.spatial import (
    Box,
    box_geometry,
    is_own_bbox,
    part_boxes,
    query_boxes,
    query_geometry,
)
from catalog.query.temporal import to_us
from catalog.sqlite.cql2 import compile_sqlite_filter
from catalog.sqlite.free_text import free_text_sql
from datacenter.errors import InvalidRequest

_INLINE_LIST = 200  # longer id/collection lists go through json_each
# Relative cost of one R*Tree hit (probe the row, then sort every hit) and of one entry of the
# covering (dt DESC, ...) index read in order: measured 1.45 us and 0.25 us at 1 M items.
_RTREE_HIT_COST, _INDEX_ROW_COST = 1.45, 0.25
_SPHERE_DEG2 = 360.0 * 180.0


@dataclass
class Plan:
    where: str  # over `items i`
    params: dict[str, Any]
    sure_sql: str  # "1": every row of `where` matches; "0": every row needs the shapely test
    geometry: shapely.Geometry | None  # prepared query geometry for uncertain rows
    tests: list[SpatialTest] = field(default_factory=list)  # CQL2 spatial post-tests (AND)

    def hits(self, blobs: Sequence[bytes]) -> np.ndarray:
        """Which uncertain rows' WKB footprints pass the geometry and every post-test."""
        if not self.tests:
            return exact_hits(self.geometry, blobs)
        footprints = shapely.from_wkb(np.asarray(blobs, dtype=object))
        ok = (np.ones(len(blobs), dtype=bool) if self.geometry is None
              else shapely.intersects(self.geometry, footprints))
        for test in self.tests:
            ok &= test.hits(footprints)
        return ok


def exact_hits(geometry: shapely.Geometry | None, blobs: Sequence[bytes]) -> np.ndarray:
    """Which WKB footprints intersect the (prepared) query geometry, vectorised."""
    if geometry is None:
        return np.ones(len(blobs), dtype=bool)
    return shapely.intersects(geometry, shapely.from_wkb(np.asarray(blobs, dtype=object)))


def plan_search(query: SearchQuery, *, max_span: int, total: int = 0, want: int = 0,
                in_time_order: bool = False) -> Plan:
    """The plan for `query`. `total` (about how many items the catalog holds), `want` (how
    many matches the caller reads at most: page + count cap) and `in_time_order` (the page is
    sorted by the default datetime order) let a broad box skip the R*Tree: see `_walk_index`."""
    where: list[str] = ["1"]
    params: dict[str, Any] = {}
    _in_list(where, params, "collection", "collections", query.collections)
    _in_list(where, params, "id", "ids", query.ids)
    if query.datetime is not None:
        _time_filter(where, params, query.datetime, max_span)
    sure, geometry = "1", None
    if query.bbox is not None and query.intersects is not None:
        raise InvalidRequest("give either bbox or intersects, not both")
    if query.bbox is not None:
        boxes = query_boxes(query.bbox)
        walk = in_time_order and _walk_index(boxes, total, want)
        sure, geometry = _rect_filter(where, params, boxes, use_rtree=not walk)
    elif query.intersects is not None:
        geom = query_geometry(query.intersects)
        bounds = tuple(float(v) for v in shapely.bounds(geom))
        if is_own_bbox(geom, bounds):  # type: ignore[arg-type]
            walk = in_time_order and _walk_index([bounds], total, want)  # type: ignore[list-item]
            sure, geometry = _rect_filter(where, params, [bounds], use_rtree=not walk)  # type: ignore[list-item]
        else:
            parts = part_boxes(geom)
            if in_time_order and _walk_index(parts, total, want):
                where.append(_overlap_sql(params, parts))
            else:
                _rtree_filter(where, params, parts)
            sure, geometry = "0", geom
            shapely.prepare(geometry)
    tests: list[SpatialTest] = []
    if query.filter is not None:
        compiled = compile_sqlite_filter(query.filter)
        where.append(compiled.sql)
        params.update(compiled.params)
        for k, boxes in enumerate(compiled.boxes):
            if boxes:
                _rtree_filter(where, params, boxes, prefix=f"c{k}_")
        tests = compiled.tests
        if tests:
            sure = "0"
    if query.q:
        where.append(free_text_sql(query.q, params))
    return Plan(" AND ".join(where), params, sure, geometry, tests)


def _in_list(where: list[str], params: dict[str, Any], column: str, name: str,
             values: Sequence[str] | None) -> None:
    if not values:
        return
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise InvalidRequest(f"{name} must be a list of strings, got {values!r}")
    values = list(dict.fromkeys(values))
    if len(values) > _INLINE_LIST:
        params[name] = json.dumps(values)
        where.append(f"i.{column} IN (SELECT value FROM json_each(:{name}))")
        return
    names = [f"{name}{n}" for n in range(len(values))]
    params.update(zip(names, values, strict=True))
    where.append(f"i.{column} IN ({', '.join(':' + n for n in names)})")


def _time_filter(where: list[str], params: dict[str, Any], interval: Any, max_span: int) -> None:
    start, end = interval
    qs = None if start is None else to_us(start)
    qe = None if end is None else to_us(end)
    if qs is not None and qe is not None and qs > qe:
        raise InvalidRequest(f"datetime interval starts ({start}) after it ends ({end})")
    # dt lies in [min(t_start, dt), max(t_end, dt)], never longer than max_span: the dt bounds
    # let the (dt DESC, ...) indexes walk only the relevant range.
    if qs is not None:
        params.update(qs=qs, qs_lo=qs - max_span)
        where.append("i.t_end >= :qs AND i.dt >= :qs_lo")
    if qe is not None:
        params.update(qe=qe, qe_hi=qe + max_span)
        where.append("i.t_start <= :qe AND i.dt <= :qe_hi")


def _rtree_filter(where: list[str], params: dict[str, Any], boxes: list[Box], prefix: str = "r") -> None:
    # `id >> 10` (R*Tree id = pk * 1024 + part) is the item's pk without reading the
    # auxiliary `item` column, which costs a lookup per hit (about 10x slower on big boxes).
    selects = []
    for k, (w, s, e, n) in enumerate(boxes):
        p = f"{prefix}{{}}{k}".format
        params.update({p("w"): w, p("s"): s, p("e"): e, p("n"): n})
        selects.append(
            f"SELECT id >> 10 FROM items_rtree WHERE minx <= :{p('e')} AND maxx >= :{p('w')}"
            f" AND miny <= :{p('n')} AND maxy >= :{p('s')}"
        )
    where.append(f"i.pk IN ({' UNION ALL '.join(selects)})")


def _walk_index(boxes: list[Box], total: int, want: int) -> bool:
    """Whether walking the datetime index in page order, testing each row's bounds (columns
    of that covering index), beats collecting every R*Tree hit and sorting them.

    The R*Tree visits about ``total * f`` items for a box holding the fraction `f` of the
    sphere (in degree area); the ordered walk stops after about ``want / f`` rows. A 10° box
    at 1 M items keeps the R*Tree; half the globe walks the index (0.7 s -> 2 ms a page)."""
    if total <= 0 or want <= 0:
        return False
    f = min(1.0, sum(max(0.0, e - w) * max(0.0, n - s) for w, s, e, n in boxes) / _SPHERE_DEG2)
    if f <= 0.0:
        return False
    return want / f * _INDEX_ROW_COST < total * f * _RTREE_HIT_COST


def _overlap_sql(params: dict[str, Any], boxes: list[Box], prefix: str = "r") -> str:
    """Bounds overlapping any of `boxes`: true for every footprint that can touch them."""
    ors = []
    for k, (w, s, e, n) in enumerate(boxes):
        p = f"{prefix}{{}}{k}".format
        params.update({p("w"): w, p("s"): s, p("e"): e, p("n"): n})
        ors.append(f"(i.w <= :{p('e')} AND i.e >= :{p('w')} AND i.s <= :{p('n')} AND i.n >= :{p('s')})")
    return f"({' OR '.join(ors)})"


def _rect_filter(where: list[str], params: dict[str, Any], boxes: list[Box], *,
                 use_rtree: bool = True) -> tuple[str, shapely.Geometry]:
    """Filter by non-crossing query boxes; returns (sure SQL, prepared geometry). Without
    the R*Tree, the bounds test alone selects the candidates (it holds for every footprint:
    one lies inside its bounds)."""
    overlap = _overlap_sql(params, boxes)
    if use_rtree:
        _rtree_filter(where, params, boxes)
        where.append(f"(i.needs_exact = 1 OR {overlap})")
    else:
        where.append(overlap)
    inside = [
        f"(i.w >= :rw{k} AND i.e <= :re{k} AND i.s >= :rs{k} AND i.n <= :rn{k})"
        for k in range(len(boxes))
    ]
    shapes = [box_geometry(b) for b in boxes]
    geometry = shapely.union_all(shapes) if len(shapes) > 1 else shapes[0]
    shapely.prepare(geometry)
    return f"(i.needs_exact = 0 OR {' OR '.join(inside)})", geometry

