"""Property-based: pystac-client search (bbox incl. polar caps and antimeridian crossings,
time windows, random CQL2 on numeric and text properties, sortby, paging) returns exactly
the ids a brute-force Python filter finds over the same items, in the same order."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pystac_client
import pytest
import shapely
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from shapely.geometry import box, mapping

from api.app import create_app
from catalog.sqlite import SQLiteCatalog
from datacenter.storage import Store
from tests.api.conftest import serving

PLATFORMS = ["lro", "kaguya", "change-2", "chandrayaan-2", "lro-2"]
T0 = datetime(2010, 1, 1, tzinfo=UTC)


def _footprint(rng: random.Random) -> shapely.Geometry:
    kind = rng.random()
    if kind < 0.15:  # polar cap
        lat = rng.uniform(60, 89)
        return box(-180, lat, 180, 90) if rng.random() < 0.5 else box(-180, -90, 180, -lat)
    if kind < 0.3:  # across the antimeridian, split per RFC 7946
        w, e = rng.uniform(150, 179), rng.uniform(-179, -150)
        s = rng.uniform(-60, 50)
        n = s + rng.uniform(1, 20)
        return shapely.MultiPolygon([box(w, s, 180, n), box(-180, s, e, n)])
    w, s = rng.uniform(-180, 170), rng.uniform(-85, 80)
    return box(w, s, min(180, w + rng.uniform(0.5, 30)), min(90, s + rng.uniform(0.5, 20)))


def make_items(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items = []
    for k in range(n):
        geom = _footprint(rng)
        w, s, e, nn = shapely.bounds(geom).tolist()
        bbox = [w, s, e, nn]
        if isinstance(geom, shapely.MultiPolygon):
            bbox = [float(shapely.bounds(geom.geoms[0])[0]), s, float(shapely.bounds(geom.geoms[1])[2]), nn]
        props: dict[str, Any] = {
            "datetime": (T0 + timedelta(hours=rng.randrange(0, 20 * 365 * 24))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "platform": rng.choice(PLATFORMS),
            "dc:access": "public",  # these tests are about search, not access
        }
        if rng.random() < 0.9:  # some items lack the numeric property
            props["gsd"] = rng.randrange(0, 50)
        items.append({
            "type": "Feature", "stac_version": "1.0.0", "stac_extensions": [],
            "id": f"p{k:05d}", "collection": "moon" if k % 3 else "moon-b",
            "geometry": mapping(geom), "bbox": bbox, "properties": props,
            "links": [], "assets": {},
        })
    return items


def _collection(cid: str) -> dict[str, Any]:
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid, "description": cid,
            "license": "CC-BY-4.0", "links": [], "dc:access": "public",
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [["2010-01-01T00:00:00Z", None]]}}}


@pytest.fixture(scope="module")
def moon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("moon")
    catalog = SQLiteCatalog(root / "catalog.sqlite")
    catalog.upsert_collection(_collection("moon"))
    catalog.upsert_collection(_collection("moon-b"))
    items = make_items(300)
    catalog.upsert_items(items)
    with serving(create_app(catalog, Store(str(root / "store")))) as url:
        yield url, items
    catalog.close()


# --- brute force -------------------------------------------------------------------
def _value(item: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict) and "property" in node:
        return item["properties"].get(node["property"])
    return node


def _like(value: str, pattern: str) -> bool:
    import re

    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.S) is not None


def evaluate(item: dict[str, Any], node: Any) -> bool | None:
    """CQL2 with SQL's three-valued logic (None = unknown)."""
    op, args = node["op"], node["args"]
    if op == "and":
        values = [evaluate(item, a) for a in args]
        return False if False in values else (None if None in values else True)
    if op == "or":
        values = [evaluate(item, a) for a in args]
        return True if True in values else (None if None in values else False)
    if op == "not":
        value = evaluate(item, args[0])
        return None if value is None else not value
    left = _value(item, args[0])
    if left is None:
        return None
    if op == "in":
        return left in args[1]
    if op == "like":
        return _like(left, args[1])
    if op == "between":
        return args[1] <= left <= args[2]
    right = _value(item, args[1])
    return {"=": left == right, "<>": left != right, "<": left < right, "<=": left <= right,
            ">": left > right, ">=": left >= right}[op]


def _sort_key(item: dict[str, Any], sortby: list[tuple[str, str]]) -> tuple[Any, ...]:
    key: list[Any] = []
    for name, direction in sortby:
        value = item["properties"].get(name)
        # SQLite: NULL sorts first ascending; numbers and text are never mixed here
        rank = (0, 0) if value is None else (1, value)
        if direction == "desc":
            rank = (-rank[0], -rank[1]) if isinstance(rank[1], int) else (-rank[0], _Desc(rank[1]))
        key.append(rank)
    return (*key, item["collection"], item["id"])


class _Desc:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value


def _rect(w: float, s: float, e: float, n: float) -> shapely.Geometry:
    """A box, or the line / point it is when it has no height or width."""
    if w == e and s == n:
        return shapely.Point(w, s)
    if w == e or s == n:
        return shapely.LineString([(w, s), (e, n)])
    return box(w, s, e, n)


def brute_force(items: list[dict[str, Any]], *, bbox: list[float] | None, window: tuple[str, str] | None,
                cql: dict[str, Any] | None, sortby: list[tuple[str, str]]) -> list[str]:
    if bbox is not None:
        w, s, e, n = bbox
        parts = [(w, s, 180, n), (-180, s, e, n)] if w > e else [(w, s, e, n)]
        area = shapely.GeometryCollection([_rect(*p) for p in parts])
    hits = []
    for item in items:
        if bbox is not None and not shapely.intersects(shapely.geometry.shape(item["geometry"]), area):
            continue
        if window is not None and not window[0] <= item["properties"]["datetime"] <= window[1]:
            continue
        if cql is not None and evaluate(item, cql) is not True:
            continue
        hits.append(item)
    hits.sort(key=lambda i: _sort_key(i, sortby))
    return [i["id"] for i in hits]


# --- strategies ----------------------------------------------------------------------
numeric = st.builds(
    lambda op, v: {"op": op, "args": [{"property": "gsd"}, v]},
    st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), st.integers(-5, 55),
) | st.builds(
    lambda a, b: {"op": "between", "args": [{"property": "gsd"}, min(a, b), max(a, b)]},
    st.integers(0, 50), st.integers(0, 50),
)
text = st.builds(
    lambda op, v: {"op": op, "args": [{"property": "platform"}, v]},
    st.sampled_from(["=", "<>", "<", ">="]), st.sampled_from(PLATFORMS),
) | st.builds(
    lambda vs: {"op": "in", "args": [{"property": "platform"}, vs]},
    st.lists(st.sampled_from(PLATFORMS), min_size=1, max_size=3, unique=True),
) | st.builds(
    lambda p: {"op": "like", "args": [{"property": "platform"}, p]},
    st.sampled_from(["lro%", "%-2", "ch_n%", "%a%", "LRO%"]),
)
leaf = numeric | text
cql = st.recursive(
    leaf,
    lambda inner: st.builds(lambda a, b, op: {"op": op, "args": [a, b]}, inner, inner,
                            st.sampled_from(["and", "or"]))
    | st.builds(lambda a: {"op": "not", "args": [a]}, inner),
    max_leaves=4,
)
lon = st.integers(-180, 180)
bboxes = st.one_of(
    st.none(),
    st.builds(lambda w, e, s, n: [w, min(s, n), e, max(s, n)], lon, lon,
              st.integers(-90, 90), st.integers(-90, 90)),  # w > e crosses the antimeridian
    st.builds(lambda lat: [-180, lat, 180, 90], st.integers(50, 89)),  # north cap
    st.builds(lambda lat: [-180, -90, 180, -lat], st.integers(50, 89)),  # south cap
)
windows = st.one_of(st.none(), st.builds(
    lambda a, b: tuple(sorted(((T0 + timedelta(days=a)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               (T0 + timedelta(days=b)).strftime("%Y-%m-%dT%H:%M:%SZ")))),
    st.integers(0, 7300), st.integers(0, 7300)))
sorts = st.sampled_from([
    [], [("gsd", "asc")], [("gsd", "desc")], [("platform", "asc"), ("gsd", "desc")],
    [("datetime", "asc")],
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bbox=bboxes, window=windows, filter_=st.one_of(st.none(), cql), sortby=sorts,
       limit=st.integers(15, 120))
def test_search_returns_what_brute_force_finds(moon, bbox, window, filter_, sortby, limit) -> None:
    url, items = moon
    note(f"bbox={bbox} window={window} filter={filter_} sortby={sortby} limit={limit}")
    client = pystac_client.Client.open(url)
    search = client.search(
        bbox=bbox, datetime=None if window is None else f"{window[0]}/{window[1]}",
        filter=filter_, filter_lang="cql2-json" if filter_ else None,
        sortby=[{"field": f, "direction": d} for f, d in sortby] or None, limit=limit,
        max_items=None,
    )
    got = [item.id for item in search.items()]
    order = sortby or [("datetime", "desc")]
    assert got == brute_force(items, bbox=bbox, window=window, cql=filter_, sortby=order)


def test_cql2_text_and_json_select_the_same_items(moon) -> None:
    url, items = moon
    client = pystac_client.Client.open(url)
    text = "gsd >= 10 AND (platform LIKE 'lro%' OR NOT platform IN ('kaguya', 'change-2'))"
    by_text = [i.id for i in client.search(filter=text, filter_lang="cql2-text", limit=200,
                                            method="GET").items()]
    as_json = {"op": "and", "args": [
        {"op": ">=", "args": [{"property": "gsd"}, 10]},
        {"op": "or", "args": [{"op": "like", "args": [{"property": "platform"}, "lro%"]},
                              {"op": "not", "args": [{"op": "in", "args": [
                                  {"property": "platform"}, ["kaguya", "change-2"]]}]}]}]}
    by_json = [i.id for i in client.search(filter=as_json, limit=200).items()]
    # POST takes CQL2 text too (filter-lang cql2-text, or a string without filter-lang)
    by_post = [i.id for i in client.search(filter=text, filter_lang="cql2-text", limit=200,
                                            method="POST").items()]
    posted = httpx.post(f"{url}search", json={"filter": text, "limit": 200}, timeout=30)
    assert posted.status_code == 200, posted.text
    assert by_post == [f["id"] for f in posted.json()["features"]] == by_text
    assert by_text == by_json == brute_force(items, bbox=None, window=None, cql=as_json,
                                             sortby=[("datetime", "desc")])
    assert by_text
