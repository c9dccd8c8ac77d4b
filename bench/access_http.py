"""The access filter's cost over HTTP: `python -m bench.search --access [--items N]`.

The items, loaders and servers of `bench/search.py` (`bench/search_servers.py`) (our API on SQLite and on pgstac; no
reference: it has no access control). Every workload is asked by three viewers against the
same server: an administrator (a static `DATACENTER_ADMIN_KEYS` key; sees everything, so the
catalog adds no access condition: the baseline), an administrator with a key from the
catalog's partner store (no access condition either, but the same key lookup as a partner:
the baseline of the filter alone for keyed requests), anonymous (no key) and partner ESA (a
key from the partner store; `search_items` releases 1 item in 20 to ESA). Each request is
asked by the four in turn (their order rotating), `ROUNDS` times over, so load on the shared
machine hits all alike; p50 per viewer and its ratios are printed as Markdown.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from search_servers import (  # bench/ is on sys.path (bench/search.py puts it there)
    COLLECTIONS,
    OUR_SERVER,
    PLAIN,
    ROOT,
    get_item,
    load_pgstac,
    load_sqlite,
    search,
    server,
    tune_and_restart,
    walk,
    workloads,
)

from catalog.pgstac import PgstacCatalog
from catalog.sqlite import SQLiteCatalog
from tests.conftest import free_port
from tests.postgres import running_cluster

ROUNDS = 3
ADMIN_KEY = "bench-admin-" + secrets.token_hex(8)


def broad_workloads(requests: int) -> dict[str, tuple[Callable, list[Any], str]]:
    """Searches whose exact `numberMatched` (capped) used to cost most under the filter."""
    rng = np.random.default_rng(11)
    years = [int(y) for y in rng.integers(2010, 2021, requests)]
    return {
        "no filter (limit 100)": (search, [{"limit": "100"}] * requests, "req/s"),
        "one collection (limit 100)": (
            search, [{"collections": COLLECTIONS[int(k)][0], "limit": "100"}
                     for k in rng.integers(len(COLLECTIONS), size=requests)], "req/s"),
        "4 years (limit 10)": (
            search, [{"datetime": f"{y}-01-01T00:00:00Z/{y + 4}-01-01T00:00:00Z", "limit": "10"}
                     for y in years], "req/s"),
    }


async def _interleaved(call: Callable[[httpx.AsyncClient, str, Any], Awaitable[int]], base: str,
                       args: list[Any], viewers: dict[str, dict[str, str]]) -> dict[str, list[float]]:
    """Each argument asked by every viewer in turn (the order rotating), one request at a
    time, so drift on the shared machine hits all viewers alike; latencies in ms."""
    names = list(viewers)
    clients = {v: httpx.AsyncClient(timeout=300, headers={**PLAIN, **h}) for v, h in viewers.items()}
    out: dict[str, list[float]] = {v: [] for v in names}
    try:
        for v in names:  # warm-up: connections, caches
            await call(clients[v], base, args[0])
        for n, arg in enumerate(args * ROUNDS):
            for v in names[n % len(names):] + names[: n % len(names)]:
                t0 = time.perf_counter()
                await call(clients[v], base, arg)
                out[v].append((time.perf_counter() - t0) * 1000)
    finally:
        for client in clients.values():
            await client.aclose()
    return out


def measure_viewers(bases: dict[str, str], viewers: dict[str, dict[str, str]], count: int,
                    requests: int) -> list[tuple[str, str, dict[str, float]]]:
    rows = []
    tasks = {**workloads(count, requests), **broad_workloads(requests)}
    for label, (call, args, _unit) in tasks.items():
        if call is get_item:
            args = args[:requests]
        if call is walk:
            args = args[:1]  # one walk (10 pages) per viewer and round
        for name, base in bases.items():
            samples = asyncio.run(_interleaved(call, base, args, viewers))
            p50 = {v: float(np.percentile(s, 50)) for v, s in samples.items()}
            rows.append((label, name, p50))
            print(f"{label:48s} {name:7s} " + "  ".join(
                f"{v} {p:8.1f} ms ({p / p50['admin']:.2f})" for v, p in p50.items()), flush=True)
    return rows


def report(count: int, rows: list[tuple[str, str, dict[str, float]]]) -> str:
    lines = [f"Items: {count:,}. p50 ms per viewer; (x) = p50 / the static-key administrator's p50;"
             " [y] = ESA's p50 / the store-key administrator's (the same key lookup, no filter).", "",
             "| workload | server | admin, static key (no filter) | admin, store key (x) | anonymous (x) "
             "| partner ESA (x) [y] |",
             "|---|---|---|---|---|---|"]
    for label, name, p50 in rows:
        base, keyed = p50["admin"], p50["admin-key"]
        lines.append(f"| {label} | {name} | {base:.1f} | {keyed:.1f} ({keyed / base:.2f}) "
                     f"| {p50['anonymous']:.1f} ({p50['anonymous'] / base:.2f}) "
                     f"| {p50['ESA']:.1f} ({p50['ESA'] / base:.2f}) [{p50['ESA'] / keyed:.2f}] |")
    return "\n".join(lines)


def run_access(items: int, requests: int, work_dir: Path | None) -> None:
    with ExitStack() as stack:
        work = work_dir or Path(tempfile.mkdtemp(prefix="dc-bench-access-"))
        if work_dir is None:
            stack.callback(shutil.rmtree, work, True)
        work.mkdir(parents=True, exist_ok=True)
        sqlite_path = work / "catalog.sqlite"
        for leftover in work.glob("catalog.sqlite*"):
            leftover.unlink()
        print(f"SQLite: {items} items in {load_sqlite(sqlite_path, items):.1f} s", flush=True)
        cluster = stack.enter_context(running_cluster())
        tune_and_restart(cluster)
        dsn = cluster.new_database()
        print(f"pgstac: {items} items in {load_pgstac(dsn, items):.1f} s", flush=True)
        rows = measure_access(stack, work, sqlite_path, dsn, items, requests)
    print()
    print(report(items, rows))


def measure_access(stack: ExitStack, work: Path, sqlite_path: Path, dsn: str, items: int,
                   requests: int) -> list:
    """The access-cost rows on both of our servers over already loaded catalogs (a partner
    ESA with a key is added to each)."""
    with SQLiteCatalog(sqlite_path) as cat:
        esa_sqlite = cat.partner_store().add_partner("ESA").secret_text
        admin_sqlite = cat.partner_store().create_admin_key().secret_text
    with PgstacCatalog(dsn) as cat:
        esa_pg = cat.partner_store().add_partner("ESA").secret_text
        admin_pg = cat.partner_store().create_admin_key().secret_text
    env = {"PYTHONPATH": str(ROOT), "DATACENTER_HOME": str(work / "home"),
           "DATACENTER_ADMIN_KEYS": ADMIN_KEY}
    ours = [sys.executable, "-c", OUR_SERVER]
    ports = {name: free_port() for name in ("sqlite", "pgstac")}
    rows = []
    for name, url, esa, admin in (("sqlite", f"sqlite:///{sqlite_path}", esa_sqlite, admin_sqlite),
                                  ("pgstac", dsn, esa_pg, admin_pg)):
        with server(f"{name}-access", [*ours, str(ports[name])],
                    {**env, "DATACENTER_CATALOG_URL": url}, ports[name], work) as base:
            viewers = {"admin": {"Authorization": f"Bearer {ADMIN_KEY}"},
                       "admin-key": {"Authorization": f"Bearer {admin}"}, "anonymous": {},
                       "ESA": {"Authorization": f"Bearer {esa}"}}
            rows += measure_viewers({name: base}, viewers, items, requests)
    return rows
