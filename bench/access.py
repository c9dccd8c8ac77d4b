"""Search latency with and without the access filter on the SQLite catalog.

    python -m bench.access --items 100000 [--path /tmp/bench.sqlite] [--reps 40]

Builds (or reuses) a catalog of synthetic lunar items spread over the globe and 2010-2026,
in 8 collections, with a realistic access mix: 40 % public, 20 % partners, 30 % restricted
(released to 1-3 of 6 partners), 10 % owner-only, and 10 % under a future embargo. Then
times the same queries as the SYSTEM viewer (no filter: the baseline) and as a partner and
anonymous (filter in the SQL), and prints p50/p95 and the ratio to the baseline. Every
viewer's query runs against the same file in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from catalog.base import SearchQuery
from catalog.sqlite import SQLiteCatalog
from datacenter.access import ANONYMOUS, SYSTEM, Viewer

PARTNERS = ["ESA", "CNSA", "ROSCOSMOS", "ISRO", "JAXA", "NASA"]
COLLECTIONS = [f"lunar-{n}" for n in range(8)]


def access_fields(rng: random.Random) -> dict[str, Any]:
    owner = rng.choice(PARTNERS)
    r = rng.random()
    access = "public" if r < 0.4 else "partners" if r < 0.6 else "restricted" if r < 0.9 else "owner"
    out: dict[str, Any] = {"dc:owner": owner, "dc:access": access}
    if access == "restricted":
        out["dc:releasable_to"] = rng.sample(PARTNERS, rng.randint(1, 3))
    if rng.random() < 0.1:
        out["dc:embargo_until"] = "2030-01-01T00:00:00Z"
    return out


def build(path: Path, n: int, seed: int = 7) -> SQLiteCatalog:
    with SQLiteCatalog(path, count_limit=n) as counter:  # the default cap would hide the count
        counted = counter.search(SearchQuery(limit=1, viewer=SYSTEM)).number_matched
    have = n if counted is None else counted
    catalog = SQLiteCatalog(path)
    if have >= n:
        return catalog
    rng = random.Random(seed)
    for cid in COLLECTIONS:  # collections open to partners; items carry the mix
        catalog.upsert_collection({"type": "Collection", "id": cid, "description": cid, "license": "other",
                                   "links": [], "dc:owner": "CNSA", "dc:access": "partners"})
    catalog.upsert_collection({**catalog.get_collection(COLLECTIONS[0], viewer=SYSTEM), "dc:access": "public"})
    start = datetime(2010, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for k in range(have, n):
        w, s = rng.uniform(-180, 178), rng.uniform(-90, 88)
        e, nn = w + rng.uniform(0.05, 2), s + rng.uniform(0.05, 2)
        when = start + timedelta(seconds=rng.uniform(0, 16 * 365.25 * 86400))
        batch.append({
            "type": "Feature", "stac_version": "1.1.0", "id": f"item-{k:07d}",
            "collection": rng.choice(COLLECTIONS), "bbox": [w, s, e, nn],
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, nn], [w, nn], [w, s]]]},
            "properties": {"datetime": when.isoformat().replace("+00:00", "Z"), **access_fields(rng)},
            "links": [], "assets": {"data": {"href": f"x/{k}.tif"}},
        })
        if len(batch) == 20_000:
            catalog.upsert_items(batch)
            batch = []
            print(f"  {k + 1:,} items ({time.perf_counter() - started:.0f} s)", flush=True)
    if batch:
        catalog.upsert_items(batch)
    return catalog


def queries(rng: random.Random, reps: int) -> dict[str, list[SearchQuery]]:
    def box() -> tuple[float, float, float, float]:
        w, s = rng.uniform(-180, 170), rng.uniform(-90, 80)
        return (w, s, w + 10, s + 10)

    def years() -> tuple[datetime, datetime]:
        y = rng.randint(2010, 2022)
        return (datetime(y, 1, 1, tzinfo=UTC), datetime(y + 4, 1, 1, tzinfo=UTC))

    return {
        "bbox 10x10 + 4 years, limit 100": [SearchQuery(bbox=box(), datetime=years(), limit=100) for _ in range(reps)],
        "no filter, limit 100": [SearchQuery(limit=100) for _ in range(reps)],
        "one collection, limit 100": [SearchQuery(collections=[rng.choice(COLLECTIONS)], limit=100)
                                      for _ in range(reps)],
        "4 years, limit 10": [SearchQuery(datetime=years(), limit=10) for _ in range(reps)],
    }


def timed(catalog: SQLiteCatalog, qs: list[SearchQuery], viewer: Viewer) -> list[float]:
    out = []
    for q in qs:
        q = SearchQuery(**{**q.__dict__, "viewer": viewer})
        t0 = time.perf_counter()
        catalog.search(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    path = args.path or Path(f"/tmp/datacenter-bench-access-{args.items}.sqlite")
    print(f"catalog {path} with {args.items:,} items")
    catalog = build(path, args.items)
    viewers = {"no filter (SYSTEM)": SYSTEM, "partner ESA": Viewer(partner_id="ESA"), "anonymous": ANONYMOUS}
    print(f"\n{'query':34} {'viewer':20} {'p50 ms':>8} {'p95 ms':>8} {'x base':>7} {'matched':>9}")
    for name, qs in queries(random.Random(1), args.reps).items():
        for q in qs[:3]:  # warm the page cache
            catalog.search(q)
        base = None
        # interleave viewers round by round so drift on a shared machine hits all alike
        results: dict[str, list[float]] = {v: [] for v in viewers}
        for _ in range(3):
            for label, viewer in viewers.items():
                results[label].extend(timed(catalog, qs, viewer))
        for label, viewer in viewers.items():
            samples = sorted(results[label])
            p50, p95 = statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]
            base = base or p50
            matched = catalog.search(SearchQuery(**{**qs[0].__dict__, "viewer": viewer})).number_matched
            shown = f"{matched:,}" if matched is not None else "> cap"  # capped count
            print(f"{name:34} {label:20} {p50:8.1f} {p95:8.1f} {p50 / base:7.2f} {shown:>9}")
    catalog.close()


if __name__ == "__main__":
    main()
