"""Tile latency and throughput: our tile routes (access filter on: a partner key, restricted
items) against titiler-core serving the same COG in the same run.

    python -m bench.tiles [--requests 200] [--titiler-venv /tmp/dc-bench-titiler-venv]

Workloads, each sequential (1 client) and with 8 concurrent clients, on the tiles of one
zoom level that cover the product (cycled, so warm GDAL caches are part of both sides):

  one COG   a 2048 x 2048 8-bit image (Moon geographic), PNG tiles in MoonEquirectangular,
            `rescale=0,255`: ours `/collections/.../items/.../tiles/...` with an ESA key on
            a restricted item; titiler-core's `/tiles/...?url=<the same COG file>`
  mosaic    20 items of 1024 x 1024 side by side (restricted to ESA), ours
            `/collections/{cid}/tiles/...` (titiler-core has no mosaic; shown for scale)

titiler-core is installed into a separate virtualenv (with this one's packages visible, so
both read with the same GDAL) and given the same lunar grid from our `/tileMatrixSets`.
Prints p50 / p95 latency (ms) and requests per second; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from rasterio.transform import from_origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import open_catalog  # noqa: E402
from datacenter.access import SYSTEM  # noqa: E402
from datacenter.storage import Store  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from ingest.samples import image_dn, make_geotiff  # noqa: E402
from tests.conftest import free_port  # noqa: E402

# after `ingest` is imported: bench.search puts bench/ (with its ingest.py) on sys.path
server = importlib.import_module("bench.search").server

TMS = "MoonEquirectangular"
ACCESS = {"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA"]}
OUR_SERVER = (
    "import sys, uvicorn; from api.app import app_from_settings; from datacenter.settings import Settings;"
    " uvicorn.run(app_from_settings(Settings()), host='127.0.0.1', port=int(sys.argv[1]),"
    " access_log=False, log_level='warning')"
)
TITILER_SERVER = """
import json, sys, morecantile, uvicorn
from fastapi import FastAPI
from titiler.core.factory import TilerFactory
tms = morecantile.TileMatrixSet.model_validate(json.load(open(sys.argv[2])))
app = FastAPI()
app.include_router(TilerFactory(supported_tms=morecantile.TileMatrixSets({tms.id: tms})).router)
@app.get("/")
def root():
    return {"ok": True}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")
"""


def titiler_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    if subprocess.run([str(python), "-c", "import titiler.core"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "titiler.core>=0.19"], check=True)
    return python


def build(home: Path) -> tuple[str, str, str, Path, list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """The catalog and store under `home`; returns ids, the COG path and the tile lists."""
    src = home / "src"
    one = make_geotiff(src / "one", name="bench_one_2048", transform=from_origin(10.0, 10.0, 20 / 2048, 20 / 2048),
                       data=image_dn(2048, 2048, seed=5), nodata=0)  # fmt: skip
    parts = []
    for i in range(20):  # 5 x 4 items of 1024 px at 1/128 deg: 40 x 32 deg
        col, row = i % 5, i // 5
        parts.append(make_geotiff(src / "mosaic", name=f"bench_part_{i:02d}",
                                  transform=from_origin(-60.0 + col * 8, 40.0 - row * 8, 1 / 128, 1 / 128),
                                  data=image_dn(1024, 1024, seed=20 + i), nodata=0))  # fmt: skip
    store = Store(str(home / "store"))
    with open_catalog(f"sqlite:///{home / 'catalog.sqlite'}") as catalog:
        for paths, cid in (([one], "bench-one"), (parts, "bench-mosaic")):
            report = ingest_paths(paths, collection_id=cid, catalog=catalog, store=store, access=dict(ACCESS))
            assert report.ok, [r.reason for r in report.failed]
        item = catalog.get_item("bench-one", "bench_one_2048", viewer=SYSTEM)
        key = catalog.partner_store().add_partner("ESA").secret_text
    cog = Path(store.path(item["assets"]["data"]["href"]))
    from api.tiles.grids import tile_matrix_set

    tms = tile_matrix_set(TMS)
    one_tiles = [(t.z, t.x, t.y) for t in tms.tiles(10.5, -9.5, 29.5, 9.5, [7])]
    mosaic_tiles = [(t.z, t.x, t.y) for t in tms.tiles(-59.5, 8.5, -20.5, 39.5, [5])]
    return key, "bench-one/items/bench_one_2048", "bench-mosaic", cog, one_tiles, mosaic_tiles


async def measure(urls: list[str], headers: dict[str, str], concurrency: int) -> dict[str, float]:
    queue = list(reversed(urls))
    latencies: list[float] = []
    failures = 0

    async def loop() -> None:
        nonlocal failures
        async with httpx.AsyncClient(timeout=120, headers=headers) as client:
            while queue:
                url = queue.pop()
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append((time.perf_counter() - t0) * 1000)
                failures += r.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {"p50": float(np.percentile(latencies, 50)), "p95": float(np.percentile(latencies, 95)),
            "rate": len(latencies) / wall, "failures": failures}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--titiler-venv", type=Path, default=Path(tempfile.gettempdir()) / "dc-bench-titiler-venv")
    args = parser.parse_args()
    titiler = titiler_python(args.titiler_venv)
    with tempfile.TemporaryDirectory(prefix="dc-bench-tiles-") as tmp:
        home = Path(tmp)
        key, item_path, mosaic_cid, cog, one_tiles, mosaic_tiles = build(home)
        logs = home / "logs"
        logs.mkdir()
        env = {"DATACENTER_HOME": str(home), "DATACENTER_CATALOG_URL": f"sqlite:///{home / 'catalog.sqlite'}",
               "DATACENTER_STORE_URL": str(home / "store"),
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
        ours_port, titiler_port = free_port(), free_port()
        with server("ours", [sys.executable, "-c", OUR_SERVER, str(ours_port)], env, ours_port, logs) as ours:
            grid = logs / "tms.json"
            grid.write_text(json.dumps(httpx.get(f"{ours}/tileMatrixSets/{TMS}").json()))
            argv = [str(titiler), "-c", TITILER_SERVER, str(titiler_port), str(grid)]
            with server("titiler", argv, {}, titiler_port, logs) as ref:
                cycle = lambda tiles: [tiles[i % len(tiles)] for i in range(args.requests)]  # noqa: E731
                cases = {
                    "one COG, ours (partner key)": (
                        [f"{ours}/collections/{item_path}/tiles/{TMS}/{z}/{x}/{y}.png?rescale=0,255"
                         for z, x, y in cycle(one_tiles)], {"Authorization": f"Bearer {key}"}),
                    "one COG, titiler-core": (
                        [f"{ref}/tiles/{TMS}/{z}/{x}/{y}.png?rescale=0,255&url={cog}" for z, x, y in cycle(one_tiles)], {}),
                    "20-item mosaic, ours (partner key)": (
                        [f"{ours}/collections/{mosaic_cid}/tiles/{TMS}/{z}/{x}/{y}.png?rescale=0,255"
                         for z, x, y in cycle(mosaic_tiles)], {"Authorization": f"Bearer {key}"}),
                }  # fmt: skip
                for urls, headers in cases.values():  # warm-up: open files, fill caches
                    asyncio.run(measure(urls[: len(one_tiles)], headers, 1))
                rows: dict[str, dict[int, dict[str, float]]] = {}
                for name, (urls, headers) in cases.items():
                    rows[name] = {c: asyncio.run(measure(urls, headers, c)) for c in (1, 8)}
    print(f"{args.requests} requests per run; one COG: {len(one_tiles)} tiles at z7, mosaic: "
          f"{len(mosaic_tiles)} tiles at z5; {os.cpu_count()} CPUs\n")
    print("| workload | clients | p50 ms | p95 ms | tiles/s | failures |")
    print("|---|---|---|---|---|---|")
    for name, by in rows.items():
        for c, m in by.items():
            print(f"| {name} | {c} | {m['p50']:.1f} | {m['p95']:.1f} | {m['rate']:.1f} | {m['failures']} |")
    for c in (1, 8):
        ratio = rows["one COG, ours (partner key)"][c]["rate"] / rows["one COG, titiler-core"][c]["rate"]
        print(f"\nthroughput ours / titiler-core, {c} client(s): {ratio:.2f}")


if __name__ == "__main__":
    main()
