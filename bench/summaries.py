"""What per-viewer collection summaries cost: computing them (a cache miss) against computing
the collection's per-viewer extent and against a one-page search, on the same catalog.

    python -m bench.summaries --items 100000 [--path /tmp/bench-summaries.sqlite] [--pgstac]

`--pgstac` also measures a throw-away PostgreSQL 15 + pgstac cluster (`tests.postgres`).

Items carry the summarised properties (platform, instruments, mission, processing:level, gsd)
with a realistic access mix (`bench.access.access_fields`), in one collection. A miss happens
once per (collection, viewer) per write or per 60 s; a hit is a dictionary lookup. Printed:
p50 of each, and the ratio of a summaries miss to an extent miss (the baseline: the per-viewer
work `GET /collections/{id}` already did before summaries were per viewer).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.access import access_fields
from catalog import open_catalog
from catalog.base import SUMMARISED, Catalog, SearchQuery
from datacenter.access import ANONYMOUS, SYSTEM, Viewer

CID = "lunar-summaries"
INSTRUMENTS = ["lola", "lroc", "diviner", "m3", "tc", "mi", "lpr", "vnis", "apxs", "tmc-2"]


def build(catalog: Catalog, n: int, seed: int = 11) -> None:
    counted = catalog.search(SearchQuery(collections=[CID], limit=1, viewer=SYSTEM)).number_matched
    if counted is not None and counted >= n:
        return
    catalog.upsert_collection({"type": "Collection", "id": CID, "description": CID, "license": "other",
                               "links": [], "dc:owner": "CNSA", "dc:access": "public"})  # fmt: skip
    rng, start, batch = random.Random(seed), datetime(2010, 1, 1, tzinfo=UTC), []
    for k in range(n):
        w, s = rng.uniform(-180, 178), rng.uniform(-90, 88)
        when = start + timedelta(seconds=rng.uniform(0, 16 * 365.25 * 86400))
        props = {"datetime": when.isoformat().replace("+00:00", "Z"), "platform": rng.choice(["lro", "selene", "change-4"]),
                 "instruments": rng.sample(INSTRUMENTS, rng.randint(1, 2)), "mission": rng.choice(["lro", "selene", "change-4"]),
                 "processing:level": rng.choice(["EDR", "CDR", "RDR", "DDR"]), "gsd": rng.choice([0.5, 7.4, 20.0, 100.0]),
                 **access_fields(rng)}  # fmt: skip
        batch.append({"type": "Feature", "stac_version": "1.1.0", "id": f"s-{k:07d}", "collection": CID,
                      "bbox": [w, s, w + 1, s + 1], "properties": props, "links": [], "assets": {},
                      "geometry": {"type": "Polygon", "coordinates": [[[w, s], [w + 1, s], [w + 1, s + 1],
                                                                       [w, s + 1], [w, s]]]}})  # fmt: skip
        if len(batch) == 20_000:
            catalog.upsert_items(batch)
            batch = []
    if batch:
        catalog.upsert_items(batch)


def p50(work: Callable[[], Any], reps: int, clear: Callable[[], None]) -> float:
    times = []
    for _ in range(reps):
        clear()
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(url: str, items: int, reps: int) -> None:
    catalog = open_catalog(url)
    t0 = time.perf_counter()
    build(catalog, items)
    print(f"{url.split(':')[0]}: {items:,} items ready in {time.perf_counter() - t0:.0f} s")

    def clear() -> None:
        catalog._extents.clear()  # type: ignore[attr-defined]  (a ViewerCache)
        catalog._summaries.clear()  # type: ignore[attr-defined]

    for name, viewer in (("anonymous", ANONYMOUS), ("partner ESA", Viewer(partner_id="ESA"))):
        extent = p50(lambda v=viewer: catalog.collection_extent(CID, viewer=v), reps, clear)
        summaries = p50(lambda v=viewer: catalog.collection_summaries(CID, SUMMARISED, viewer=v), reps, clear)
        hit = p50(lambda v=viewer: catalog.collection_summaries(CID, SUMMARISED, viewer=v), reps, lambda: None)
        search = p50(lambda v=viewer: catalog.search(SearchQuery(collections=[CID], limit=100, viewer=v)), reps, clear)
        print(f"  {name:12s} extent miss {extent * 1e3:8.1f} ms | summaries miss {summaries * 1e3:8.1f} ms "
              f"({summaries / extent:5.1f}x extent) | summaries hit {hit * 1e6:6.0f} us | "
              f"search limit 100 {search * 1e3:6.1f} ms")  # fmt: skip
    catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--path", type=Path, default=Path("/tmp/bench-summaries.sqlite"))
    parser.add_argument("--pgstac", action="store_true", help="also measure a throw-away pgstac cluster")
    args = parser.parse_args()
    measure(f"sqlite:///{args.path}", args.items, args.reps)
    if args.pgstac:
        from tests.postgres import running_cluster

        with running_cluster() as cluster:
            measure(cluster.new_database(), args.items, args.reps)


if __name__ == "__main__":
    main()
