"""What the pgstac count tables cost writers, and what they save counted searches.

    python -m bench.pg_counts [--items 100000] [--singles 300]

In a throw-away PostgreSQL 15 + pgstac cluster (`tests.postgres`), two databases migrated
the same way; in the baseline one the count triggers of `catalog.pgstac.counts` are
dropped (its searches count rows, as before the tables). Measured on each:

* `--items` synthetic items (`bench/search_items.py`) through our `upsert_items` in batches
  of 1000 (pgstac's staging tables: the root statements, merged after each one);
* as many new items through pypgstac's loader (`Methods.upsert`, straight into the
  partitions: changes left for one merge, timed separately);
* `--singles` one-item upserts (an operator ingesting product by product);
* counted searches as an anonymous user and as a partner (p50 of 15): no filter, one
  collection, 4 years.

Prints seconds and the ratio with / without the triggers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_items import batches, collections  # noqa: E402

from catalog.base import SearchQuery  # noqa: E402
from catalog.pgstac import PgstacCatalog  # noqa: E402
from datacenter.access import ANONYMOUS, Viewer  # noqa: E402
from tests.postgres import running_cluster  # noqa: E402

DROP = ("DROP TRIGGER datacenter_count_row ON pgstac.items",
        "DROP TRIGGER datacenter_count_merge ON pgstac.items",
        "DROP TABLE datacenter.item_count_changes")
SEARCHES = {
    "no filter": {},
    "one collection": {"collections": ["kaguya-tc"]},
    "4 years": {"datetime": (datetime(2016, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC))},
}


def timed(work: Callable[[], object], label: str = "") -> float:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    if label:
        print(f"  {label}: {seconds:.2f} s", flush=True)
    return seconds


def measure(dsn: str, items: int, singles: int) -> dict[str, float]:
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    out: dict[str, float] = {}
    with PgstacCatalog(dsn) as cat:
        for collection in collections():
            cat.upsert_collection(collection)
        out["upsert_items, batches of 1000"] = timed(
            lambda: [cat.upsert_items(batch) for batch in batches(items, 1000)], "upsert_items")
        extra = [dict(item, id=f"single-{n}") for n, item in enumerate(next(batches(singles, singles, seed=7)))]
        out[f"{singles} one-item upserts"] = timed(lambda: [cat.upsert_items([item]) for item in extra], "singles")
    with PgstacDB(dsn=dsn) as db:
        loader = Loader(db=db)
        out["pypgstac loader (upsert)"] = timed(lambda: loader.load_items(
            (dict(item, id=f"bulk-{item['id']}") for batch in batches(items) for item in batch), Methods.upsert,
            chunksize=20_000), "loader")
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('datacenter.item_count_changes') IS NOT NULL").fetchone()[0]:
            out["merge after the loader"] = timed(lambda: conn.execute("SELECT datacenter.merge_item_counts(true)"))
        conn.execute("VACUUM ANALYZE")
    with PgstacCatalog(dsn) as cat:
        for viewer in (ANONYMOUS, Viewer(partner_id="ESA")):
            for label, query in SEARCHES.items():
                runs = [timed(lambda q=query, v=viewer: cat.search(SearchQuery(viewer=v, limit=100, **q)))
                        for _ in range(15)]
                out[f"search: {label}, {viewer.label()} (p50)"] = statistics.median(runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=300)
    args = parser.parse_args()
    with running_cluster() as cluster:
        with_tables, baseline = cluster.new_database(), cluster.new_database()
        with psycopg.connect(baseline, autocommit=True) as conn:
            for statement in DROP:
                conn.execute(statement)  # type: ignore[arg-type]
        ours = measure(with_tables, args.items, args.singles)
        base = measure(baseline, args.items, args.singles)
    print(f"\n{args.items} items; baseline: the same database without the count triggers\n")
    print("| step | with count tables (s) | without (s) | ratio |")
    print("|---|---|---|---|")
    for label, seconds in ours.items():
        other = base.get(label)
        ratio = f"{seconds / other:.2f}" if other else "-"
        shown = f"{other:.4f}" if other is not None else "-"
        print(f"| {label} | {seconds:.4f} | {shown} | {ratio} |")


if __name__ == "__main__":
    main()
