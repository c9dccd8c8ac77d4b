"""The loaders, servers and HTTP workloads the search benchmarks share (`bench/search.py`,
`bench/access_http.py`): the same synthetic items (`bench/search_items.py`) loaded into SQLite
and pgstac, our API started on a free port, and the timed GET workloads.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_items import COLLECTIONS, batches, collections, is_public, item_id  # noqa: E402

from catalog.pgstac import PgstacCatalog  # noqa: E402
from catalog.sqlite import SQLiteCatalog  # noqa: E402
from tests.postgres import PG_BIN  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WALK_ITEMS, WALK_PAGE = 10_000, 1000
# The reference compresses (Brotli, gzip fallback) when asked, ours never: ask for plain bytes
# so both spend their time on the search, not on compression.
PLAIN = {"Accept-Encoding": "identity"}


# loading ------------------------------------------------------------------------------
def load_sqlite(path: Path, count: int) -> float:
    started = time.monotonic()
    catalog = SQLiteCatalog(path)
    try:
        for collection in collections():
            catalog.upsert_collection(collection)
        for batch in batches(count):
            catalog.upsert_items(batch)
        with catalog._write() as c:  # noqa: SLF001 - planner statistics, once after a bulk load
            c.execute("ANALYZE")
    finally:
        catalog.close()
    return time.monotonic() - started


def load_pgstac(dsn: str, count: int) -> float:
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    started = time.monotonic()
    with PgstacCatalog(dsn) as catalog:
        for collection in collections():
            catalog.upsert_collection(collection)
    with PgstacDB(dsn=dsn) as db:
        loader = Loader(db=db)
        loader.load_items((item for batch in batches(count) for item in batch), Methods.insert, chunksize=20_000)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET search_path TO pgstac, public")
        # Typed queryables for the filtered properties, as an operator would register them.
        for name, kind, wrapper in (("gsd", "number", "to_float"), ("platform", "string", "to_text"),
                                    ("view:sun_elevation", "number", "to_float")):
            conn.execute("SELECT upsert_queryable(%s, jsonb_build_object('type', %s::text), %s)",
                         (name, kind, wrapper))
        # The loader writes straight into partitions, where no statement trigger merges the
        # count changes (`catalog.pgstac.counts`): merge them once, as `catalog migrate` would.
        conn.execute("SELECT datacenter.merge_item_counts(true)")
        conn.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def tune_and_restart(cluster: Any) -> None:
    """Memory settings for a million-row catalog (the test cluster is sized for tiny data)."""
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        for setting, value in (("shared_buffers", "1GB"), ("work_mem", "32MB"),
                               ("effective_cache_size", "8GB"), ("maintenance_work_mem", "512MB"),
                               ("max_wal_size", "4GB"), ("random_page_cost", "1.1")):
            conn.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
    cluster._run(str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-l", str(cluster.log),  # noqa: SLF001
                 "-w", "-t", "60", "restart")


# servers ------------------------------------------------------------------------------
OUR_SERVER = (
    "import sys, uvicorn; from api.app import app_from_settings; from datacenter.settings import Settings;"
    " uvicorn.run(app_from_settings(Settings()), host='127.0.0.1', port=int(sys.argv[1]),"
    " access_log=False, log_level='warning')"
)


@contextmanager
def server(name: str, argv: list[str], env: dict[str, str], port: int, logs: Path) -> Any:
    log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=logs)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} server exited ({proc.returncode}); see {logs / f'{name}.log'}")
            try:
                if httpx.get(url + "/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} server did not answer on {url} within 120 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# workloads ----------------------------------------------------------------------------
def bbox_queries(rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    out = []
    for _ in range(n):
        w, s = rng.uniform(-180, 170), rng.uniform(-90, 80)
        year = int(rng.integers(2010, 2021))
        out.append({"bbox": f"{w:.3f},{s:.3f},{w + 10:.3f},{s + 10:.3f}",
                    "datetime": f"{year}-01-01T00:00:00Z/{year + 4}-01-01T00:00:00Z", "limit": "100"})
    return out


def filter_queries(rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    out = []
    for _ in range(n):
        _, platform, _, _, (g0, g1) = COLLECTIONS[int(rng.integers(len(COLLECTIONS)))]
        gsd = round(float(rng.uniform(g0, g1)), 2)
        sun = int(rng.integers(0, 60))
        out.append({"filter": f"platform = '{platform}' AND gsd < {gsd} AND \"view:sun_elevation\" > {sun}",
                    "filter-lang": "cql2-text", "limit": "100"})
    return out


def item_paths(rng: np.random.Generator, n: int, count: int) -> list[str]:
    paths = []
    while len(paths) < n:
        k = int(rng.integers(count))
        if is_public(k):
            paths.append(f"/collections/{COLLECTIONS[k % len(COLLECTIONS)][0]}/items/{item_id(k)}")
    return paths


WALK = {"bbox": "-180,-90,180,0", "datetime": "2011-01-01T00:00:00Z/2019-01-01T00:00:00Z",
        "limit": str(WALK_PAGE)}


async def _get(client: httpx.AsyncClient, url: str, params: dict[str, str] | None = None) -> dict:
    response = await client.get(url, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"GET {response.url} -> {response.status_code}: {response.text[:300]}")
    return response.json()  # type: ignore[no-any-return]


async def search(client: httpx.AsyncClient, base: str, params: dict[str, str]) -> int:
    await _get(client, base + "/search", params)
    return 1


async def get_item(client: httpx.AsyncClient, base: str, path: str) -> int:
    await _get(client, base + path)
    return 1


async def walk(client: httpx.AsyncClient, base: str, params: dict[str, str]) -> int:
    """Follow `next` links until WALK_ITEMS items are read; returns how many."""
    page = await _get(client, base + "/search", params)
    seen = len(page["features"])
    while seen < WALK_ITEMS:
        nxt = next((link for link in page.get("links", []) if link.get("rel") == "next"), None)
        if nxt is None:
            raise RuntimeError(f"the walk on {base} ended after {seen} items (fewer than {WALK_ITEMS} match)")
        page = await _get(client, nxt["href"])
        seen += len(page["features"])
    return seen


async def measure(call: Callable[[httpx.AsyncClient, str, Any], Awaitable[int]], base: str, args: list[Any],
                  concurrency: int) -> dict[str, float]:
    """Run `call` on `base` over `args` with `concurrency` clients; latencies (ms) and rates."""
    queue = list(enumerate(args))
    latencies: list[float] = []
    units = 0

    async def client_loop() -> None:
        nonlocal units
        async with httpx.AsyncClient(timeout=300, headers=PLAIN) as client:
            while queue:
                _, arg = queue.pop()
                t0 = time.perf_counter()
                done = await call(client, base, arg)  # awaited first: `+=` would race
                units += done
                latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {"p50": float(np.percentile(latencies, 50)), "p95": float(np.percentile(latencies, 95)),
            "rate": len(latencies) / wall, "units": units / wall}


def workloads(count: int, requests: int) -> dict[str, tuple[Callable, list[Any], str]]:
    rng = np.random.default_rng(7)
    return {
        "bbox+datetime search (10°x10°, 4 y, limit 100)": (search, bbox_queries(rng, requests), "req/s"),
        "CQL2 property filter (limit 100)": (search, filter_queries(rng, requests), "req/s"),
        "item by id": (get_item, item_paths(rng, requests * 3, count), "req/s"),
        f"paged walk {WALK_ITEMS} items (limit {WALK_PAGE})": (walk, [WALK] * max(2, requests // 10), "items/s"),
    }
