"""Search benchmark: our API on SQLite and on pgstac against the reference stac-fastapi-pgstac.

    python -m bench.search [--items 1000000] [--dir /tmp/bench-search] [--also-access]
        [--requests 40] [--reference-venv /tmp/dc-bench-ref-venv]
        [--servers sqlite,pgstac,reference] [--hold | --pgstac-dsn URL]

(`--hold` loads the pgstac database and keeps it up; later runs with `--pgstac-dsn` and
`--servers pgstac,reference` measure against it without loading 1 M items again.)

One run: the same synthetic lunar items (`bench/search_items.py`) are bulk-loaded into a
SQLite catalog (batched upserts) and, once, into a throw-away PostgreSQL 15 + pgstac
cluster (`tests/postgres.py`; pypgstac's loader, which COPYs). Three servers then run on
free 127.0.0.1 ports, uvicorn, one worker each, access logs off:

  sqlite     our API (`api.app.app_from_settings`) on the SQLite catalog
  pgstac     our API on the pgstac database (`catalog.pgstac.catalog`)
  reference  stac-fastapi-pgstac 7.x on the *same* database, from a separate virtualenv
             (``--system-site-packages`` + ``pip install stac-fastapi.pgstac``; created if
             missing; never a dependency of ours)

Workloads over HTTP (GET, the same requests for every server), each sequentially and with
8 concurrent clients: bbox + datetime search (10° x 10°, 4 years, limit 100), a CQL2 text
property filter (limit 100), item by id, and a paged walk of 10 000 items (limit 1000,
following `next` links). Our servers answer as an anonymous user (only public, unembargoed
items); the reference has no access control and sees every item.
Prints p50 / p95 latency and throughput, load times, and the ratios to the reference as
Markdown for docs/benchmarks.md. Everything started is stopped at the end.

``--access`` measures instead what the access filter costs on our two servers: the same
workloads plus three broad counted searches (no filter, one collection, 4 years), each
asked as an administrator (sees everything: no filter in the SQL, the baseline), as
anonymous and as partner ESA (an API key), interleaved round by round, sequentially;
prints p50 per viewer and its ratio to the administrator's (`bench/access_http.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_items import COLLECTIONS, batches, collections, is_public, item_id  # noqa: E402

from catalog.pgstac import PgstacCatalog  # noqa: E402
from catalog.sqlite import SQLiteCatalog  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.postgres import PG_BIN, running_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 8
WALK_ITEMS, WALK_PAGE = 10_000, 1000
SERVERS = ("sqlite", "pgstac", "reference")
REFERENCE_SPEC = "stac-fastapi.pgstac>=7,<8"
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
def reference_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import stac_fastapi.pgstac.app"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", REFERENCE_SPEC], check=True)
    return python


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


def run_workloads(bases: dict[str, str], count: int, requests: int, only: list[str] | None = None) -> list[tuple]:
    rows = []
    for label, (call, args, unit) in workloads(count, requests).items():
        if only and not any(word in label for word in only):
            continue
        for name, base in bases.items():
            asyncio.run(measure(call, base, args[:2], 1))  # warm-up
            seq = asyncio.run(measure(call, base, args, 1))
            par = asyncio.run(measure(call, base, args * (2 if unit == "items/s" else 1), CONCURRENCY))
            rows.append((label, name, seq, par, unit))
            print(f"{label:50s} {name:10s} seq p50 {seq['p50']:8.1f} p95 {seq['p95']:8.1f} "
                  f"{seq['units']:8.1f} {unit} | x{CONCURRENCY} p50 {par['p50']:8.1f} p95 {par['p95']:8.1f} "
                  f"{par['units']:8.1f} {unit}", flush=True)
    return rows


# report -------------------------------------------------------------------------------
def report(count: int, loads: dict[str, float], rows: list[tuple]) -> str:
    loaded = ", ".join(f"{k} {v:.0f} s" for k, v in loads.items()) or "none (a database loaded earlier)"
    lines = [f"Items: {count:,}. Load: {loaded}.", "",
             "| workload | server | p50 ms | p95 ms | throughput | p50 ms (8 clients) | p95 ms (8 clients) "
             "| throughput (8 clients) |", "|---|---|---|---|---|---|---|---|"]
    for label, name, seq, par, unit in rows:
        lines.append(f"| {label} | {name} | {seq['p50']:.1f} | {seq['p95']:.1f} | {seq['units']:.1f} {unit} "
                     f"| {par['p50']:.1f} | {par['p95']:.1f} | {par['units']:.1f} {unit} |")
    lines += ["", "Ratios to the reference (reference p50 / ours p50; ours throughput / reference throughput;"
              " > 1 means ours is faster):", "",
              "| workload | server | p50 ratio | throughput ratio | p50 ratio (8 clients) | throughput ratio (8 clients) |",
              "|---|---|---|---|---|---|"]
    ref = {label: (seq, par) for label, name, seq, par, _ in rows if name == "reference"}
    for label, name, seq, par, _ in rows:
        if name == "reference" or label not in ref:
            continue
        rs, rp = ref[label]
        lines.append(f"| {label} | {name} | {rs['p50'] / seq['p50']:.2f} | {seq['units'] / rs['units']:.2f} "
                     f"| {rp['p50'] / par['p50']:.2f} | {par['units'] / rp['units']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder, removed)")
    parser.add_argument("--requests", type=int, default=40, help="requests per search workload")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated, measured in this order (default: all three)")
    parser.add_argument("--pgstac-dsn", default=None,
                        help="a pgstac database already loaded with the same --items (see --hold): no loading")
    parser.add_argument("--workloads", default=None,
                        help="comma-separated words: only the workloads whose label has one (e.g. walk,id)")
    parser.add_argument("--hold", action="store_true",
                        help="load, print the database's DSN and keep the cluster up until Ctrl-C")
    parser.add_argument("--reference-venv", type=Path, default=Path(tempfile.gettempdir()) / "dc-bench-ref-venv")
    parser.add_argument("--access", action="store_true",
                        help="measure the access filter's cost (admin vs anonymous vs a partner) instead")
    parser.add_argument("--also-access", action="store_true",
                        help="after the comparison, measure the access filter's cost on the same data")
    args = parser.parse_args()
    if args.access:
        from access_http import run_access  # noqa: PLC0415 - only this mode needs it

        return run_access(args.items, args.requests, args.dir)

    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = sorted(set(servers) - set(SERVERS))
    if unknown or not servers:
        parser.error(f"--servers: unknown {unknown or servers}; choose from {', '.join(SERVERS)}")
    python_ref = reference_python(args.reference_venv) if "reference" in servers else None
    with ExitStack() as stack:
        work = args.dir or Path(tempfile.mkdtemp(prefix="dc-bench-search-"))
        if args.dir is None:
            stack.callback(shutil.rmtree, work, True)
        work.mkdir(parents=True, exist_ok=True)
        loads: dict[str, float] = {}
        sqlite_path = work / "catalog.sqlite"
        if "sqlite" in servers:
            for leftover in work.glob("catalog.sqlite*"):
                leftover.unlink()
            loads["SQLite (batched upserts)"] = load_sqlite(sqlite_path, args.items)
            print(f"SQLite: {args.items} items in {loads['SQLite (batched upserts)']:.1f} s", flush=True)
        dsn = args.pgstac_dsn
        if dsn is None and ({"pgstac", "reference"} & set(servers) or args.hold):
            cluster = stack.enter_context(running_cluster())
            tune_and_restart(cluster)
            dsn = cluster.new_database()
            loads["pgstac (pypgstac loader)"] = load_pgstac(dsn, args.items)
            print(f"pgstac: {args.items} items in {loads['pgstac (pypgstac loader)']:.1f} s", flush=True)
        if args.hold:
            print(f"loaded; reuse with --pgstac-dsn {dsn} --items {args.items} (Ctrl-C stops the cluster)",
                  flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return

        ports = {name: free_port() for name in servers}
        ours = [sys.executable, "-c", OUR_SERVER]
        env = {"PYTHONPATH": str(ROOT), "DATACENTER_HOME": str(work / "home")}
        bases = {}
        for name in servers:
            if name == "sqlite":
                argv, extra = [*ours, str(ports[name])], {**env, "DATACENTER_CATALOG_URL": f"sqlite:///{sqlite_path}"}
            elif name == "pgstac":
                argv, extra = [*ours, str(ports[name])], {**env, "DATACENTER_CATALOG_URL": str(dsn)}
            else:
                info = conninfo_to_dict(str(dsn))
                argv = [str(python_ref), "-m", "uvicorn", "--factory", "stac_fastapi.pgstac.app:create_app",
                        "--host", "127.0.0.1", "--port", str(ports[name]), "--workers", "1", "--no-access-log",
                        "--log-level", "warning"]
                extra = {"PGUSER": str(info.get("user", "postgres")), "PGPASSWORD": "unused",
                         "PGHOST": str(info.get("host", "127.0.0.1")), "PGPORT": str(info.get("port", 5432)),
                         "PGDATABASE": str(info["dbname"]), "PYTHONPATH": ""}
            bases[name] = stack.enter_context(server(name, argv, extra, ports[name], work))
        only = [w.strip() for w in args.workloads.split(",") if w.strip()] if args.workloads else None
        rows = run_workloads(bases, args.items, args.requests, only)
        print()
        print(report(args.items, loads, rows), flush=True)
        if args.also_access:
            from access_http import measure_access  # noqa: PLC0415
            from access_http import report as access_report  # noqa: PLC0415

            access_rows = measure_access(stack, work, sqlite_path, str(dsn), args.items, args.requests)
            print()
            print(access_report(args.items, access_rows))


if __name__ == "__main__":
    main()
