"""Issue 16: a fuzz run (hypothesis) of hostile search parameters against a real server
process (`datacenter serve` in a subprocess, on both catalog backends): CQL2 text and
JSON, ``q``, ``sortby``, ``datetime``, paging tokens and geometries. Every answer must be
2xx or 4xx (never 5xx, never a dead server), come within `TIME_BOUND` seconds, and the
server's RSS must stay within `RSS_GROWTH` of what it was after warming up.

CI runs ``DATACENTER_FUZZ_EXAMPLES`` examples per family (default 10, under a minute per
backend on a quiet machine); set it higher for a longer local run.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import open_catalog
from tests.api.conftest import _collection, add_extra, build_items
from tests.conftest import free_port

EXAMPLES = int(os.environ.get("DATACENTER_FUZZ_EXAMPLES", "10"))
TIME_BOUND = 20.0  # seconds per request (the machine is shared; the limits keep it ~1 s)
RSS_GROWTH = 600 * 1024 * 1024
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


@dataclass
class Server:
    url: str
    process: psutil.Process
    baseline_rss: int
    client: httpx.Client
    grew_during: str | None = None  # the request after which RSS first passed the bound

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            alive = self.process.is_running() and self.process.status() != psutil.STATUS_ZOMBIE
            raise AssertionError(f"{method} {path} {kwargs}: no answer ({exc}); server alive: {alive}") from exc
        elapsed = time.monotonic() - started
        assert response.status_code < 500, (method, path, kwargs, response.status_code, response.text[:500])
        assert elapsed < TIME_BOUND, (method, path, str(kwargs)[:300], elapsed)
        rss = self.process.memory_info().rss
        if rss >= self.baseline_rss + RSS_GROWTH and self.grew_during is None:
            self.grew_during = f"{method} {path} {str(kwargs)[:1000]}"  # hypothesis then shrinks
        assert rss < self.baseline_rss + RSS_GROWTH, (str(kwargs)[:300], rss, self.baseline_rss,
                                                      f"first over the bound after: {self.grew_during}")
        return response


@pytest.fixture(scope="module", params=["sqlite", "pgstac"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("fuzz")
    if request.param == "pgstac":
        url = request.getfixturevalue("pg_cluster").new_database()
    else:
        url = f"sqlite:///{home / 'catalog.sqlite'}"
    catalog = open_catalog(url)
    catalog.upsert_collection(_collection("lunar-dem", "Lunar elevation models"))
    catalog.upsert_collection(_collection("lunar-images", "Lunar images"))
    catalog.upsert_items(add_extra(build_items()))
    catalog.close()
    port = free_port()
    env = {**os.environ, "DATACENTER_HOME": str(home), "DATACENTER_CATALOG_URL": url,
           "DATACENTER_STORE_URL": str(home / "store"), "PYTHONPATH": os.getcwd()}
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", "from datacenter.cli import main; main()", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/"
    client = httpx.Client(base_url=base, timeout=TIME_BOUND + 10)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if client.get("").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {(home / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        for warm in ({"filter": "gsd = 100"}, {"q": "crater"}, {"sortby": "-gsd"}):
            client.get("search", params=warm)
        process = psutil.Process(proc.pid)
        yield Server(base, process, process.memory_info().rss, client)
        assert proc.poll() is None, "the server died during the fuzz run"
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# -- strategies --------------------------------------------------------------------------------
PROPS = st.sampled_from(["gsd", "platform", "instruments", "id", "collection", "datetime",
                         "dc:access", "properties.gsd", "missing", "geometry", "plat\x00form", ""])
LITERALS = st.one_of(st.integers(-(2**80), 2**80), st.floats(allow_nan=False), st.text(max_size=30),
                     st.booleans(), st.just("2020-01-01T00:00:00Z"))
TEXT_ATOMS = st.sampled_from([
    "gsd = 100", "platform = 'lro'", "platform LIKE 'l%'", "gsd BETWEEN 50 AND 200", "gsd IN (50, 100)",
    "S_INTERSECTS(geometry, POLYGON((0 0, 30 0, 30 30, 0 30, 0 0)))", "T_AFTER(datetime, TIMESTAMP('2020-01-01T00:00:00Z'))",
    "A_CONTAINS(instruments, ('lola'))", "gsd IS NULL", "CASEI(platform) = CASEI('LRO')", "id = 'eq-east'",
    "gsd + 1 > -2", "NOT gsd = 1", "datetime > TIMESTAMP('0001-01-01T00:00:00Z')", "'", "(", ")", "--",
])


@st.composite
def cql2_text(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["combine", "deep", "nots", "wide", "raw"]))
    if shape == "deep":
        n = draw(st.integers(1, 3000))
        return "(" * n + draw(TEXT_ATOMS) + ")" * draw(st.sampled_from([n, n - 1, 0]))
    if shape == "nots":
        return draw(st.sampled_from(["NOT ", "NOT (", "-", "- "])) * draw(st.integers(1, 300)) + draw(TEXT_ATOMS)
    if shape == "wide":
        op = draw(st.sampled_from([" OR ", " AND ", ", "]))
        return op.join([draw(TEXT_ATOMS)] * draw(st.integers(1, 1500)))
    if shape == "raw":
        return draw(st.text(max_size=200))
    atoms = draw(st.lists(TEXT_ATOMS, min_size=1, max_size=8))
    joins = draw(st.lists(st.sampled_from([" AND ", " OR ", " AND NOT ", " OR ("]), min_size=len(atoms) - 1,
                          max_size=len(atoms) - 1))
    out = atoms[0]
    for join, atom in zip(joins, atoms[1:], strict=True):
        out += join + atom
    return out


def _json_expr(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda op, args: {"op": op, "args": args},
                  st.sampled_from(["and", "or", "not", "=", "<", "like", "in", "between", "s_intersects",
                                   "t_after", "a_contains", "isNull", "casei", "+", "unknown"]),
                  st.lists(children, max_size=4)),
    )


CQL2_JSON = st.recursive(
    st.one_of(LITERALS, st.builds(lambda p: {"property": p}, PROPS), st.lists(LITERALS, max_size=5)),
    _json_expr, max_leaves=40,
)


@st.composite
def geometry(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.sampled_from([3, 4, 10, 150, 400, 3000, 12_000]))
    coord = st.integers(-180, 180) if n > 1000 else st.floats(-200, 200, allow_nan=False)
    ring = [[draw(coord), draw(st.integers(-95, 95))] for _ in range(min(n, 40))]
    ring = (ring * (n // len(ring) + 1))[:n]
    if draw(st.booleans()):
        ring.append(ring[0])
    kind = draw(st.sampled_from(["Polygon", "LineString", "MultiPoint", "Bogus"]))
    coordinates: Any = [ring] if kind == "Polygon" else ring
    return {"type": kind, "coordinates": coordinates}


def _token(key: list[Any], direction: str) -> str:
    raw = json.dumps({"k": key, "d": direction}, allow_nan=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


TOKENS = st.one_of(
    st.builds(_token, st.lists(st.one_of(LITERALS, st.none(), st.floats()), max_size=5),
              st.sampled_from(["next", "prev", "sideways"])),
    st.text(max_size=60),
)
DATETIMES = st.one_of(
    st.builds(lambda d, tz: d.strftime("%Y-%m-%dT%H:%M:%S") + tz,
              st.datetimes(), st.sampled_from(["Z", "+23:59", "-23:59", "+00:00", "+24:00", ""])),
    st.builds(lambda a, b: f"{a}/{b}", st.sampled_from(["..", "", "0001-01-01T00:00:00+23:59"]),
              st.sampled_from(["..", "9999-12-31T23:59:59-23:59", "2020-01-01T00:00:00Z"])),
    st.text(max_size=40),
)
SORT_FIELD = st.builds(lambda s, p: s + p, st.sampled_from(["", "+", "-"]),
                       st.one_of(PROPS, st.text(max_size=12)))
Q_TEXT = st.one_of(
    st.builds("".join, st.lists(st.sampled_from([*'ab crater()"+-,', " AND ", " OR "]), max_size=80)),
    st.builds(lambda n: "(" * n + "crater" + ")" * n, st.integers(1, 20_000)),
    st.builds(lambda n: " OR ".join(["crater"] * n), st.integers(1, 20_000)),
)


# -- the runs --------------------------------------------------------------------------------
@FUZZ
@given(text=cql2_text())
def test_cql2_text_never_breaks_the_server(server: Server, text: str) -> None:
    if len(text.encode()) < 12_000:  # uvicorn caps a request line near 16 kB
        server.send("GET", "search", params={"filter": text})


@FUZZ
@given(expr=CQL2_JSON, deep=st.integers(0, 400), wrap=st.sampled_from(["not", "and", "or"]))
def test_cql2_json_never_breaks_the_server(server: Server, expr: Any, deep: int, wrap: str) -> None:
    for _ in range(deep):
        expr = {"op": wrap, "args": [expr] if wrap == "not" else [expr, True]}
    body = '{"filter-lang": "cql2-json", "filter": ' + json.dumps(expr) + "}"
    server.send("POST", "search", content=body, headers={"Content-Type": "application/json"})


@FUZZ
@given(q=st.one_of(Q_TEXT, st.lists(Q_TEXT, max_size=4)), sortby=st.lists(SORT_FIELD, max_size=30))
def test_q_and_sortby_never_break_the_server(server: Server, q: Any, sortby: list[str]) -> None:
    server.send("POST", "search", json={"q": q})
    server.send("POST", "search", json={"sortby": [{"field": f.lstrip("+-"), "direction": "desc"} for f in sortby]})
    if len(",".join(sortby)) < 4000:
        server.send("GET", "search", params={"sortby": ",".join(sortby)})


@FUZZ
@given(value=DATETIMES, token=TOKENS)
def test_datetimes_and_tokens_never_break_the_server(server: Server, value: str, token: str) -> None:
    server.send("GET", "search", params={"datetime": value})
    server.send("POST", "search", json={"datetime": value})
    server.send("GET", "search", params={"token": token, "sortby": "-gsd"})
    server.send("GET", "search", params={"token": token})


@FUZZ
@given(geom=geometry(), as_filter=st.booleans())
def test_geometries_never_break_the_server(server: Server, geom: dict[str, Any], as_filter: bool) -> None:
    if as_filter:
        body = {"filter-lang": "cql2-json",
                "filter": {"op": "s_intersects", "args": [{"property": "geometry"}, geom]}}
    else:
        body = {"intersects": geom}
    server.send("POST", "search", json=body)


def test_the_server_is_alive_and_small_after_the_run(server: Server) -> None:
    assert server.send("GET", "").status_code == 200
    assert server.process.memory_info().rss < server.baseline_rss + RSS_GROWTH
