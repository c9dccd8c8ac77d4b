"""Free-text search (`q`) on the SQLite catalog: the FTS5 index against the substring scan
it replaced, on the same catalog in the same run.

Items get a title, description and keywords drawn from a vocabulary of lunar place names and
product words, with Zipf-like frequencies, so queries range from rare words to words in most
items. For each query it times, median of --reps:

* ``fts``: ``SELECT pk ... WHERE <q via FTS5> ORDER BY dt DESC LIMIT 11`` plus the count;
* ``scan``: the same with the previous implementation's WHERE (lower-cased title,
  description and keywords JSON read per item, ``instr`` per term), the baseline;
* ``search``: the whole `SQLiteCatalog.search` (count, page, hydration) with `q`.

With ``--pgstac`` the same items go into a throw-away PostgreSQL cluster (`tests/postgres.py`)
and ``fts`` is our GIN-indexed tsquery, ``scan`` the previous ``strpos`` scan, and ``pgstac``
pgstac's own `q` (``stac_search_to_where``: English stemming, no index).

    python -m bench.free_text --items 100000 --reps 5 [--pgstac]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from catalog.base import SearchQuery
from catalog.pgstac.free_text import free_text_pg
from catalog.sqlite import SQLiteCatalog
from catalog.sqlite.free_text import free_text_sql
from datacenter.access import SYSTEM

PLACES = ["Shackleton", "Malapert", "Haworth", "Faustini", "Cabeus", "de Gerlache", "Amundsen",
          "Schrodinger", "Tycho", "Copernicus", "Aristarchus", "Plato", "Taurus-Littrow",
          "Mare Imbrium", "Oceanus Procellarum", "Rima Hadley", "Apollo", "Aitken", "Moscoviense",
          "Vallis Schroteri"]
WORDS = ["crater", "rim", "floor", "mosaic", "elevation", "model", "slope", "illumination",
         "map", "permanently", "shadowed", "region", "ice", "regolith", "boulder", "ridge",
         "rille", "massif", "landing", "site", "candidate", "controlled", "orthoimage", "stereo"]
QUERIES = {
    "rare word": "moscoviense",
    "common word": "crater",
    "phrase": '"permanently shadowed"',
    "two terms (OR)": "faustini,cabeus",
    "AND / NOT": "crater AND ice -mosaic",
}
OLD_TEXT = ("lower(coalesce(json_extract(d.content, '$.properties.title'), '') || ' ' ||"
            " coalesce(json_extract(d.content, '$.properties.description'), '') || ' ' ||"
            " coalesce(json_extract(d.content, '$.properties.keywords'), ''))")


def item(n: int, rng: random.Random) -> dict[str, Any]:
    place = PLACES[min(int(rng.paretovariate(1.0)) - 1, len(PLACES) - 1)]
    words = rng.sample(WORDS, 6)
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": f"ft-{n:08d}", "collection": "bench",
        "geometry": {"type": "Point", "coordinates": [rng.uniform(-180, 180), rng.uniform(-90, 90)]},
        "links": [], "assets": {},
        "properties": {"datetime": f"20{10 + n % 15:02d}-01-01T00:00:00Z", "dc:access": "public",
                       "title": f"{place} {words[0]} {words[1]}",
                       "description": f"A {words[2]} {words[3]} of {place}, {words[4]} {words[5]}.",
                       "keywords": [place.lower(), words[0]]},
    }


def build(path: Path, count: int) -> SQLiteCatalog:
    catalog = SQLiteCatalog(path)
    catalog.upsert_collection({"type": "Collection", "id": "bench", "dc:access": "public"})
    rng = random.Random(11)
    for start in range(0, count, 10_000):
        catalog.upsert_items(item(n, rng) for n in range(start, min(count, start + 10_000)))
    return catalog


def old_where(terms: tuple[str, ...], params: dict[str, Any]) -> str:
    clauses = []
    for n, term in enumerate(terms):
        params[f"o{n}"] = term.lower()
        clauses.append(f"instr(t.txt, :o{n}) > 0")
    return (f"EXISTS (SELECT 1 FROM (SELECT {OLD_TEXT} AS txt FROM item_data d WHERE d.pk = i.pk) t"
            f" WHERE {' OR '.join(clauses)})")


def timed(fn: Any, reps: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, out


OLD_PG_TEXT = ("lower(coalesce(content->'properties'->>'title', '') || ' ' ||"
               " coalesce(content->'properties'->>'description', '') || ' ' ||"
               " coalesce(content->'properties'->>'keywords', ''))")


def bench_pgstac(count: int, reps: int) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    from catalog.pgstac import PgstacCatalog
    from tests.postgres import running_cluster

    with running_cluster() as cluster:
        dsn = cluster.new_database()
        t0 = time.perf_counter()
        with PgstacCatalog(dsn) as catalog:
            catalog.upsert_collection({"type": "Collection", "id": "bench", "dc:access": "public",
                                       "description": "bench", "license": "other", "links": [],
                                       "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                                  "temporal": {"interval": [[None, None]]}}})
            rng = random.Random(11)
            for start in range(0, count, 5_000):
                catalog.upsert_items(item(n, rng) for n in range(start, min(count, start + 5_000)))
        print(f"pgstac: built {count} items in {time.perf_counter() - t0:.1f} s")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET search_path TO pgstac, public")
            conn.execute("ANALYZE items")

            def run(where: str, params: dict[str, Any]) -> tuple[int, list[Any]]:
                matched = conn.execute(f"SELECT count(*) FROM items WHERE {where}", params).fetchone()[0]  # type: ignore[index]
                page = conn.execute(f"SELECT id FROM items WHERE {where} ORDER BY datetime DESC, id"
                                    " LIMIT 11", params).fetchall()
                return matched, page

            print("| query | matches | ours (GIN) ms | scan ms | scan / ours | pgstac q ms (matches) | pgstac / ours |")
            print("|---|---|---|---|---|---|---|")
            for name, q in QUERIES.items():
                params: dict[str, Any] = {}
                where = free_text_pg(q, params)
                ours_ms, (matched, _) = timed(lambda: run(where, params), reps)  # noqa: B023
                row = f"| {name} `{q}` | {matched} | {ours_ms:.1f} | "
                if name in ("rare word", "common word", "two terms (OR)"):
                    terms = q.split(",")
                    scan = " OR ".join(f"strpos({OLD_PG_TEXT}, %(o{n})s) > 0" for n in range(len(terms)))
                    sparams = {f"o{n}": t.lower() for n, t in enumerate(terms)}
                    scan_ms, _ = timed(lambda: run(scan, sparams), reps)  # noqa: B023
                    row += f"{scan_ms:.1f} | **{scan_ms / ours_ms:.1f}x** | "
                else:
                    row += "- | - | "
                theirs = conn.execute("SELECT stac_search_to_where(%s)", (Jsonb({"q": q}),)).fetchone()[0]  # type: ignore[index]
                theirs = theirs.replace("%", "%%")
                their_ms, (their_matched, _) = timed(lambda: run(theirs, {}), reps)  # noqa: B023
                print(row + f"{their_ms:.1f} ({their_matched}) | {their_ms / ours_ms:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pgstac", action="store_true", help="measure the pgstac backend instead")
    args = parser.parse_args()
    if args.pgstac:
        bench_pgstac(args.items, args.reps)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        catalog = build(Path(tmp) / "catalog.sqlite", args.items)
        print(f"built {args.items} items in {time.perf_counter() - t0:.1f} s")
        conn = catalog._conn()  # noqa: SLF001 - the bench times raw SQL on the catalog's file
        print("| query | matches | fts ms | scan ms | scan / fts | search ms |\n|---|---|---|---|---|---|")
        for name, q in QUERIES.items():
            def run(where: str, params: dict[str, Any]) -> tuple[int, list[Any]]:
                count = conn.execute(f"SELECT count(*) FROM items i WHERE {where}", params).fetchone()[0]
                page = conn.execute(f"SELECT i.pk FROM items i WHERE {where} ORDER BY i.dt DESC, i.id"
                                    " LIMIT 11", params).fetchall()
                return count, page

            fts_params: dict[str, Any] = {}
            fts_where = free_text_sql(q, fts_params)
            fts_ms, (matched, _) = timed(lambda: run(fts_where, fts_params), args.reps)  # noqa: B023
            row = f"| {name} `{q}` | {matched} | {fts_ms:.1f} | "
            if name in ("rare word", "common word", "two terms (OR)"):  # what the scan can say
                scan_params: dict[str, Any] = {}
                scan_where = old_where(tuple(q.split(",")), scan_params)
                scan_ms, (scanned, _) = timed(lambda: run(scan_where, scan_params), args.reps)  # noqa: B023
                row += f"{scan_ms:.1f} | **{scan_ms / fts_ms:.1f}x** ({scanned} substring matches) | "
            else:
                row += "- | - | "
            search_ms, _ = timed(lambda: catalog.search(SearchQuery(q=q, limit=10, viewer=SYSTEM)),  # noqa: B023
                                 args.reps)
            print(row + f"{search_ms:.1f} |")
        catalog.close()


if __name__ == "__main__":
    main()
