"""Loopback load test: 16 concurrent clients search and download while a batch ingest runs.

    python -m bench.load [--clients 16] [--rounds 15] [--tiles 8] [--batch 12] [--s3]

What it does, all on 127.0.0.1 in a temp folder:

1. ingests `--tiles` small GeoTIFF tiles (the "known" set), with `datacenter ingest`;
2. starts `datacenter serve` as its own process (one uvicorn worker);
3. baseline: one client runs the same rounds alone (no ingest running);
4. load: `--clients` threads run `--rounds` rounds each while `datacenter ingest` adds
   `--batch` more tiles to the catalog and store.

A round = a bbox search for one known tile (its id must be among the results, and every
result must intersect the bbox), the item by id, and a 64 KiB ranged download of its COG
(bytes compared to the object in the store) plus a HEAD. Any 5xx or wrong result is counted
and makes the exit code 1. Printed: requests, errors, wrong results, p50/p95/max latency per
kind, and the load/baseline p95 ratio. `--s3` runs the store on a SeaweedFS server
(needs the test extras).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
from affine import Affine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datacenter.settings import Settings  # noqa: E402
from datacenter.storage import Store  # noqa: E402
from ingest.samples import make_geotiff  # noqa: E402


def make_tiles(folder: Path, first: int, count: int) -> list[Path]:
    """Tiles 2 degrees wide along the equator (tile i covers 2i..2i+2 E, 0..2 N)."""
    return [
        make_geotiff(folder, name=f"tile-{i:03d}",
                     transform=Affine(1 / 64, 0, (2.0 * i) % 360 - 180, 0, -1 / 64, 2.0),
                     data=None)
        for i in range(first, first + count)
    ]


def tile_bbox(i: int) -> list[float]:
    west = (2.0 * i) % 360 - 180
    return [west + 0.5, 0.5, west + 1.0, 1.0]


def ingest(env: dict[str, str], paths: list[Path]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "datacenter.cli", "ingest", *map(str, paths), "-c", "load"],
        env=env, capture_output=True, check=False,
    )


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.wrong: list[str] = []

    def timed(self, kind: str, call):
        started = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latency[kind].append(elapsed)
            if response.status_code >= 500:
                self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
        return response

    def bad(self, what: str) -> None:
        with self.lock:
            self.wrong.append(what)


def one_round(client: httpx.Client, rec: Recorder, i: int, expected: dict[str, bytes]) -> None:
    tid = f"tile-{i:03d}"
    bbox = tile_bbox(i)
    found = rec.timed("search", lambda: client.get("/search", params={
        "bbox": ",".join(map(str, bbox)), "collections": "load", "limit": 50}))
    if found.status_code != 200:
        rec.bad(f"search {tid}: {found.status_code}")
        return
    features = found.json()["features"]
    if tid not in [f["id"] for f in features]:
        rec.bad(f"search {bbox} did not return {tid}")
    for f in features:
        w, s, e, n = f["bbox"]
        if e < bbox[0] or w > bbox[2] or n < bbox[1] or s > bbox[3]:
            rec.bad(f"search {bbox} returned {f['id']} outside it")
    item = rec.timed("item", lambda: client.get(f"/collections/load/items/{tid}"))
    if item.status_code != 200 or item.json()["id"] != tid:
        rec.bad(f"item {tid}: {item.status_code}")
        return
    href = item.json()["assets"]["data"]["href"]
    part = rec.timed("download", lambda: client.get(href, headers={"Range": "bytes=0-65535"}))
    if part.status_code != 206 or part.content != expected[tid][:65536]:
        rec.bad(f"download {tid}: {part.status_code}, {len(part.content)} bytes")
    head = rec.timed("head", lambda: client.head(href))
    if head.status_code != 200 or int(head.headers["content-length"]) != len(expected[tid]):
        rec.bad(f"head {tid}: {head.status_code}")


def run_clients(url: str, clients: int, rounds: int, tiles: int, expected: dict[str, bytes]) -> Recorder:
    rec = Recorder()

    def worker(n: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for r in range(rounds):
                one_round(client, rec, (n * 7 + r) % tiles, expected)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rec


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(rec: Recorder) -> dict[str, tuple[int, float, float, float]]:
    return {k: (len(v), statistics.median(v), pct(v, 0.95), max(v)) for k, v in rec.latency.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tiles", type=int, default=8)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--s3", action="store_true", help="store on a SeaweedFS S3 server")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="datacenter-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATACENTER_", "AWS_"))}
    env["DATACENTER_HOME"] = str(tmp / "home")
    env["PYTHONPATH"] = str(REPO)
    s3 = None
    if args.s3:
        from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server

        s3 = S3Server(tmp / "seaweedfs")
        s3.start()
        s3.make_bucket("load-bench")
        env.update(DATACENTER_STORE_URL="s3://load-bench/dc", DATACENTER_S3_ENDPOINT_URL=s3.endpoint_url,
                   DATACENTER_S3_REGION=REGION, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    server = None
    try:
        known = make_tiles(tmp / "known", 0, args.tiles)
        later = make_tiles(tmp / "later", args.tiles, args.batch)
        started = time.perf_counter()
        done = ingest(env, known)
        if done.returncode != 0:
            print(done.stderr.decode()[-2000:])
            return 1
        print(f"initial ingest: {args.tiles} tiles in {time.perf_counter() - started:.1f} s")

        settings = Settings(home=Path(env["DATACENTER_HOME"]),
                            store_url=env.get("DATACENTER_STORE_URL", ""),
                            s3_endpoint_url=env.get("DATACENTER_S3_ENDPOINT_URL"))
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        store = Store.from_settings(settings)
        keys = {k.split("/")[1]: k for k in store.list("load")}
        expected = {tid: b"".join(store.iter_range(key, 0, store.info(key).size - 1))
                    for tid, key in keys.items()}

        from tests.conftest import free_port

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "datacenter.cli", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("the API did not start")
                return 1
            time.sleep(0.2)

        base = run_clients(url, 1, args.rounds, args.tiles, expected)
        batch: dict[str, object] = {}

        def run_batch() -> None:
            t0 = time.perf_counter()
            batch["result"] = ingest(env, later)
            batch["seconds"] = time.perf_counter() - t0

        ingest_thread = threading.Thread(target=run_batch)
        t0 = time.perf_counter()
        ingest_thread.start()
        load = run_clients(url, args.clients, args.rounds, args.tiles, expected)
        load_seconds = time.perf_counter() - t0
        ingest_thread.join()
        result = batch["result"]
        assert isinstance(result, subprocess.CompletedProcess)

        total = sum(len(v) for v in load.latency.values())
        print(f"store: {'S3 (SeaweedFS)' if s3 else 'local folder'}; catalog: SQLite; 1 uvicorn worker")
        print(f"load: {args.clients} clients x {args.rounds} rounds = {total} requests in "
              f"{load_seconds:.1f} s ({total / load_seconds:.0f} req/s), while ingesting "
              f"{args.batch} tiles ({batch['seconds']:.1f} s, exit {result.returncode})")
        print(f"{'kind':<9}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
              f"{'base p95':>10}{'ratio':>7}")
        base_s = summary(base)
        for kind, (n, p50, p95, mx) in summary(load).items():
            b95 = base_s[kind][2]
            print(f"{kind:<9}{n:>6}{p50 * 1e3:>9.1f}{p95 * 1e3:>9.1f}{mx * 1e3:>9.1f}"
                  f"{b95 * 1e3:>10.1f}{p95 / b95:>7.1f}")
        print(f"5xx: {len(load.errors) + len(base.errors)}   wrong results: "
              f"{len(load.wrong) + len(base.wrong)}")
        for line in (load.errors + load.wrong)[:10]:
            print("  ", line)
        if result.returncode != 0:
            print(result.stderr.decode()[-2000:])
        ok = not (load.errors or load.wrong or base.errors or base.wrong) and result.returncode == 0
        return 0 if ok else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if s3 is not None:
            s3.stop()


if __name__ == "__main__":
    sys.exit(main())
