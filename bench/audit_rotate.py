"""Audit rotation cost: `rotate` (archive, verify, delete) against dumping the same events.

Seeds `--events` audit events in a SQLite catalog (and, with `--pg`, in a throw-away
PostgreSQL cluster from `tests.postgres`), then measures, on each backend:

* baseline: read every event (`AuditLog.iter_before`) and write it as gzip JSON lines to a
  local file — the work any archive must do;
* rotate: `catalog.audit_archive.rotate` to a local folder (the same, plus the checked
  upload, the `.sha256`, the read-back verification and the guarded delete).

Prints seconds, events/s and the ratio rotate / baseline.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from catalog import open_catalog
from catalog.audit import AuditLog
from catalog.audit_archive import event_to_json, rotate
from datacenter.storage import Store

START = datetime(2025, 1, 1, tzinfo=UTC)


def seed_rows(n: int) -> list[tuple]:
    return [(START + timedelta(seconds=i), f"P{i % 7}", f"k{i % 13}", "download",
             f"c{i % 5}/i{i}#data", i % 3 != 0, i * 10, None) for i in range(n)]


def seed_sqlite(path: Path, n: int) -> str:
    import sqlite3

    from catalog.query.temporal import to_us

    url = f"sqlite:///{path}"
    with open_catalog(url) as cat:
        cat.audit_log()  # creates the tables
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO audit (at, who, key_id, action, record, allowed, bytes, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(to_us(r[0]), *r[1:5], int(r[5]), r[6], r[7]) for r in seed_rows(n)])
    return url


def seed_pg(dsn: str, n: int) -> str:
    import psycopg

    columns = "at, who, key_id, action, record, allowed, bytes, detail"
    with (psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur,
          cur.copy(f"COPY datacenter.audit ({columns}) FROM STDIN") as copy):
        for row in seed_rows(n):
            copy.write_row(row)
    return dsn


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def dump(log: AuditLog, before: datetime, out: Path) -> None:
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=6) as fh:
        for seq, event in log.iter_before(before):
            fh.write(json.dumps(event_to_json(seq, event), separators=(",", ":")) + "\n")


def measure(name: str, url: str, n: int, tmp: Path) -> None:
    before = START + timedelta(days=3650)
    with open_catalog(url) as cat:
        log = cat.audit_log()
        base = timed(lambda: dump(log, before, tmp / f"{name}-dump.jsonl.gz"))
        rot = timed(lambda: rotate(log, Store(str(tmp / f"{name}-archive")), before))
        left = len(log.query(limit=10))
    print(f"{name:8s} {n:>9,d} events  baseline dump {base:6.2f} s ({n / base:>9,.0f}/s)  "
          f"rotate {rot:6.2f} s ({n / rot:>9,.0f}/s)  ratio {rot / base:4.2f}  left in table {left}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--pg", action="store_true", help="also on a throw-away PostgreSQL cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        measure("sqlite", seed_sqlite(tmp / "catalog.sqlite", args.events), args.events, tmp)
        if args.pg:
            from tests.postgres import running_cluster

            cluster = stack.enter_context(running_cluster())
            measure("pgstac", seed_pg(cluster.new_database(), args.events), args.events, tmp)


if __name__ == "__main__":
    main()
