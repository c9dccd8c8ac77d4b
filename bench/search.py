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
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_servers import (  # noqa: E402
    OUR_SERVER,
    ROOT,
    load_pgstac,
    load_sqlite,
    measure,
    server,
    tune_and_restart,
    workloads,
)

from tests.conftest import free_port  # noqa: E402
from tests.postgres import running_cluster  # noqa: E402

CONCURRENCY = 8
SERVERS = ("sqlite", "pgstac", "reference")
REFERENCE_SPEC = "stac-fastapi.pgstac>=7,<8"


def reference_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import stac_fastapi.pgstac.app"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", REFERENCE_SPEC], check=True)
    return python


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
