"""Abuse benchmark: a normal partner's latency while others flood the server.

    python -m bench.abuse [--dir DIR] [--rounds 20] [--flooders 2] [--job-flooders 1] [--server-workers 1]

One `datacenter serve` process (SQLite catalog, local store, the polar DEM sample ingested),
three partners. The normal partner runs `--rounds` rounds of: a search, then a small job
(submit, poll until successful). First alone (the baseline), then while

* partner FLOOD (`--job-flooders` clients) submits large jobs in a tight loop (reprojections of the DEM, seconds each;
  its queue fills and the rest are 429s, which it ignores and retries at once), and
* `--flooders` clients send requests with wrong keys in a tight loop (401s, or 429s if
  the server rate-limits them).

Reports p50 / p95 of the normal partner's search and job (submit to successful) in both
phases and the p95 ratio (target: < 1.5x), and what the flooders got. Prints a Markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

import httpx
import numpy as np

from catalog.sqlite import SQLiteCatalog
from datacenter.storage import Store
from ingest.pipeline import ingest_paths
from ingest.samples import make_pds4_south_polar_dem

POLAR = "ldem_87s_40m"
SMALL = {"ids": [POLAR], "bbox": [-180, -90, 180, -89.8], "format": "netcdf"}
LARGE = {"ids": [POLAR], "crs": "IAU_2015:30135", "resolution": 5.0, "format": "netcdf"}  # 32 MiB
SEARCH = {"collections": "lunar", "limit": "10"}


def prepare(root: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    store, catalog = Store(str(root / "store")), SQLiteCatalog(root / "catalog.sqlite")
    try:
        path = make_pds4_south_polar_dem(root / "samples", size=512)
        report = ingest_paths([path], collection_id="lunar", catalog=catalog, store=store,
                              access={"dc:owner": "CNSA", "dc:access": "public"})
        assert report.ok, [r.to_dict() for r in report.failed]
        partners = catalog.partner_store()
        known = {p.id for p in partners.list_partners()}
        keys = {}
        for pid in ("NORMAL", "FLOOD"):
            issued = partners.rotate_key(pid) if pid in known else partners.add_partner(pid)
            keys[pid] = {"Authorization": f"Bearer {issued.secret_text}"}
    finally:
        catalog.close()
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "DATACENTER_HOME": str(root / "home"),
           "DATACENTER_CATALOG_URL": f"sqlite:///{root / 'catalog.sqlite'}",
           "DATACENTER_STORE_URL": str(root / "store"), "DATACENTER_WORK_DIR": str(root / "work")}
    return env, keys


def start_server(env: dict[str, str], port: int, log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "datacenter.cli", "serve", "--port", str(port),
                                 "--workers", str(workers)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start; see {log}")


def normal_rounds(url: str, key: dict[str, str], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"search": [], "search in the app": [], "job": []}
    with httpx.Client(base_url=url, timeout=300) as http:
        for _ in range(rounds):
            t = time.perf_counter()
            r = http.get("search", params=SEARCH, headers=key)
            assert r.status_code == 200 and r.json()["features"], r.text
            times["search"].append(time.perf_counter() - t)
            times["search in the app"].append(app_seconds(r))
            t = time.perf_counter()
            created = http.post("jobs", json=SMALL, headers=key)
            assert created.status_code == 201, created.text
            while True:
                info = http.get(created.headers["Location"], headers=key).json()
                if info["status"] in ("successful", "failed", "dismissed"):
                    break
                time.sleep(0.02)
            assert info["status"] == "successful", info
            times["job"].append(time.perf_counter() - t)
    return times


def app_seconds(response: httpx.Response) -> float:
    """The app's own time for a request, from its ``Server-Timing: app;dur=<ms>``."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if name == "app":
            return float(dur) / 1000
    raise RuntimeError("the server sent no Server-Timing app duration")


def elsewhere() -> None:
    """An attacker's CPU is on another machine: on this one its client runs only on CPU time
    nothing else wants (SCHED_IDLE), so what is measured is the server's share."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not permitted: the lowest nice value
        os.nice(19)


def flood_jobs(url: str, key: dict[str, str], stop: Any, got: Any) -> None:
    elsewhere()
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            try:
                status: Any = http.post("jobs", json=LARGE, headers=key).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            got.put(status)


def flood_keys(url: str, stop: Any, got: Any, n: int) -> None:
    elsewhere()
    bad = {"Authorization": f"Bearer dck_{n:012x}_{'x' * 43}"}
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            try:
                status: Any = http.get("collections", headers=bad).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            got.put(status)


def tally(queue: Any) -> collections.Counter[Any]:
    counts: collections.Counter[Any] = collections.Counter()
    while True:
        try:
            counts[queue.get_nowait()] += 1
        except Empty:
            return counts


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None, help="work folder (default: a new one; a reused "
                        "one keeps the partners' daily job quotas of earlier runs)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--flooders", type=int, default=2, help="clients sending wrong keys")
    parser.add_argument("--job-flooders", type=int, default=1, help="FLOOD's clients submitting large jobs")
    parser.add_argument("--server-workers", type=int, default=1,
                        help="`datacenter serve --workers N` (docs/deploy.md: one per core)")
    args = parser.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-abuse-"))
    root.mkdir(parents=True, exist_ok=True)
    env, keys = prepare(root)
    from tests.conftest import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(env, port, root / "server.log", args.server_workers)
    try:
        normal_rounds(url, keys["NORMAL"], 2)  # warm-up: imports, GDAL, first jobs
        alone = normal_rounds(url, keys["NORMAL"], args.rounds)
        print("baseline done", flush=True)
        # The flooders are other processes (as attackers are other machines): threads of
        # this process would share its GIL with the normal partner's client and slow the
        # very requests being timed.
        # FLOOD is a known partner (it authenticated before): the per-address lockout that
        # the wrong keys trigger lets its key through, so its jobs reach the queue.
        assert httpx.get(f"{url}collections", headers=keys["FLOOD"]).status_code == 200
        ctx = multiprocessing.get_context("spawn")
        stop, jobs_q, keys_q = ctx.Event(), ctx.Queue(), ctx.Queue()
        procs = [ctx.Process(target=flood_jobs, args=(url, keys["FLOOD"], stop, jobs_q))
                 for _ in range(args.job_flooders)]
        procs += [ctx.Process(target=flood_keys, args=(url, stop, keys_q, i))
                  for i in range(args.flooders)]
        for p in procs:
            p.start()
        time.sleep(3)  # the flooders start, the flood's queue fills and its first job runs
        t0 = time.perf_counter()
        flooded = normal_rounds(url, keys["NORMAL"], args.rounds)
        took = time.perf_counter() - t0
        stop.set()
        jobs_got, keys_got = collections.Counter[Any](), collections.Counter[Any]()
        while any(p.is_alive() for p in procs):
            jobs_got += tally(jobs_q)
            keys_got += tally(keys_q)
            time.sleep(0.05)
        jobs_got += tally(jobs_q)
        keys_got += tally(keys_q)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"\n{args.rounds} rounds per phase; flood phase {took:.0f} s; flood jobs answered "
          f"{dict(jobs_got)}; wrong-key requests answered {dict(keys_got)}\n")
    print("| normal partner | p50 alone, ms | p95 alone, ms | p50 flooded, ms | p95 flooded, ms | p95 ratio (target < 1.5) |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("search", "search in the app", "job"):
        a, f = alone[kind], flooded[kind]
        print(f"| {kind} | {pct(a, 50):.0f} | {pct(a, 95):.0f} | {pct(f, 50):.0f} | {pct(f, 95):.0f} "
              f"| {pct(f, 95) / pct(a, 95):.2f} |")


if __name__ == "__main__":
    main()
