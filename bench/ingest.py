"""Ingest benchmarks, each against a baseline measured in the same run.

1. COG conversion of an 8192 x 8192 float32 DEM: ours (`ingest.cog.write_cog`: GDAL's COG
   driver with our options, then validation and the SHA-256 of the output)
   vs GDAL's COG driver through rasterio (`rasterio.shutil.copy(driver="COG")`, the same
   engine as `gdal_translate -of COG`), same options: DEFLATE, predictor 3, 512 blocks,
   nearest overviews. Target: ours / GDAL <= 1.05.
2. Zarr conversion of an 85-band 2560 x 2560 float32 cube (2.07 GiB, PDS4
   Array_3D_Spectrum): ours (`ingest.zarr_writer.write_zarr`) vs plain `zarr` writing the
   same array with the same chunks and codec, chunk by chunk. Target: ours / zarr <= 1.2.

Every job runs in its own subprocess (started fresh with `exec`), which reports its wall
time, its CPU time (all threads) and its peak RSS as the kernel counts it for that process
alone (`VmHWM` in /proc/self/status; `ru_maxrss` is not used: after fork + exec it keeps
the parent's high-water mark, which made both sides show the parent's 1.5 GiB). While it
runs, the parent samples its /proc/PID/status every 20 ms and keeps the peak of anonymous
memory (`RssAnon`: heap, arrays, GDAL's block cache) apart from file-backed pages
(`RssFile`: mapped libraries and files), and the child reports `RssAnon` just before the
work starts (imports done), so "work" = peak anon - that base is what the writer itself
holds. GDAL's block cache is capped at 64 MiB (GDAL_CACHEMAX) for both sides; left at its
default (5 % of RAM) it fills up and hides what the writers themselves hold. `--gdal-cache default`
leaves the variable unset: the baseline then runs with GDAL's default cache, ours with
the cap the batch engine sets in every worker (`DATACENTER_INGEST_GDAL_CACHE_MIB`, 64).

The machine is shared: `--repeat N` runs each pair N times (ours, baseline, alternating)
and prints the median of each figure and of the per-pair ratios. Inputs are kept in
`--workdir` between invocations when given.

3. The real corpus (tests/data/real, `--only real`): products/s and MB/s through
   `datacenter ingest` (fresh catalog and store; checksums, originals and items included)
   against two baselines on the products GDAL can read, same options: GDAL's COG driver
   looping over them in one warm process (rasterio imported once: the strict one), and one
   `gdal_translate -of COG` command per product (the issue's wording: what an operator
   scripting GDAL over a delivery runs). Target: >= 0.8x.

    python -m bench.ingest [--workdir DIR] [--repeat 3] [--only cog|zarr|real] [--dem-size 8192] [--cube 85x2560x2560]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# this file is named like the `ingest` package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def make_dem(path: Path, size: int) -> None:
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from ingest.samples import dem_heights

    tile = dem_heights(1024, 1024, seed=3).astype("float32")
    with rasterio.open(
        path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
        crs=CRS.from_user_input("IAU_2015:30135"), transform=from_origin(-size * 10, size * 10, 20, 20),
        tiled=True, blockxsize=512, blockysize=512,
    ) as ds:  # fmt: skip
        for row in range(0, size, 1024):
            for col in range(0, size, 1024):
                ds.write(tile + np.float32(row * 0.01 + col * 0.02), 1, window=Window(col, row, 1024, 1024))


def status_mib(pid: int | str = "self") -> dict[str, float]:
    """VmHWM, VmRSS, RssAnon, RssFile of a process, in MiB (Linux /proc)."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
    return out


def job(name: str, src: str, out: str) -> dict[str, float]:
    import rasterio.shutil  # noqa: F401  (imports are not what we time)
    import zarr  # noqa: F401

    import ingest.cog  # noqa: F401
    import ingest.readers  # noqa: F401
    import ingest.zarr_writer  # noqa: F401

    if name.endswith("-ours"):  # as the batch engine runs every product
        from datacenter.settings import Settings
        from ingest.gdal_cache import cap_block_cache

        cap_block_cache(Settings().ingest_gdal_cache_mib)
    base_anon = status_mib()["RssAnon"]
    started, cpu_started = time.perf_counter(), time.process_time()
    if name == "cog-ours":
        from ingest.cog import write_cog
        from ingest.readers import find_reader

        write_cog(find_reader(Path(src)).read(Path(src)), Path(out))
    elif name == "cog-gdal":
        import rasterio
        import rasterio.shutil

        with rasterio.Env(GDAL_NUM_THREADS="1"):
            rasterio.shutil.copy(src, out, driver="COG", COMPRESS="DEFLATE", PREDICTOR="YES",
                                 BLOCKSIZE=512, OVERVIEW_RESAMPLING="NEAREST", BIGTIFF="IF_SAFER")  # fmt: skip
    elif name == "zarr-ours":
        from ingest.readers import find_reader
        from ingest.zarr_writer import write_zarr

        write_zarr(find_reader(Path(src)).read(Path(src)), Path(out))
    elif name == "zarr-plain":
        import rasterio
        import zarr
        from rasterio.windows import Window
        from zarr.codecs import ZstdCodec

        from ingest.chunking import chunk_shape
        from ingest.readers.cube import CHUNK_READ_OPTIONS

        # read with the same GDAL options as ours, so the two differ only in how they write
        with rasterio.Env(**CHUNK_READ_OPTIONS), rasterio.open(src) as ds:
            shape = (ds.count, ds.height, ds.width)
            chunks = chunk_shape(("band", "y", "x"), shape, 4)
            arr = zarr.create_array(out, shape=shape, chunks=chunks, dtype="float32",
                                    compressors=ZstdCodec(level=3), zarr_format=3)  # fmt: skip
            for y in range(0, shape[1], chunks[1]):
                for x in range(0, shape[2], chunks[2]):
                    h, w = min(chunks[1], shape[1] - y), min(chunks[2], shape[2] - x)
                    arr[:, y:y + h, x:x + w] = ds.read(window=Window(x, y, w, h))
    else:
        raise SystemExit(f"unknown job {name}")
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started,
            "peak_rss_mib": status_mib()["VmHWM"], "base_anon_mib": base_anon}  # fmt: skip


def run(name: str, src: Path, out: Path, gdal_cache: str) -> dict[str, float]:
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    if gdal_cache != "default":
        env["GDAL_CACHEMAX"] = gdal_cache  # MiB, both sides
    proc = subprocess.Popen([sys.executable, __file__, "--job", name, str(src), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    peaks = {"RssAnon": 0.0, "RssFile": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            try:
                now = status_mib(proc.pid)
            except (OSError, ValueError):
                return
            for key in peaks:
                peaks[key] = max(peaks[key], now.get(key, 0.0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"job {name} failed:\n{stderr}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_anon_mib"], result["peak_file_mib"] = peaks["RssAnon"], peaks["RssFile"]
    result["work_anon_mib"] = peaks["RssAnon"] - result["base_anon_mib"]
    result["output_mib"] = sum(p.stat().st_size for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file()) / 2**20
    print(f"  {name:<11} {result['seconds']:7.2f} s  cpu {result['cpu_seconds']:7.2f} s   peak RSS "
          f"{result['peak_rss_mib']:6.0f} MiB (anon {result['peak_anon_mib']:5.0f}, of which work "
          f"{result['work_anon_mib']:5.0f}; file {result['peak_file_mib']:4.0f})   output "
          f"{result['output_mib']:5.0f} MiB", flush=True)  # fmt: skip
    return result


def compare(label: str, ours_name: str, base_name: str, src: Path, work: Path, repeat: int, target: float,
            gdal_cache: str) -> None:  # fmt: skip
    """Run ours and the baseline `repeat` times, alternating; print medians and ratios."""
    pairs, suffix = [], ".tif" if ours_name.startswith("cog") else ".zarr"
    for i in range(repeat):
        print(f" run {i + 1}/{repeat}", flush=True)
        pairs.append((run(ours_name, src, work / f"{ours_name}{suffix}", gdal_cache),
                      run(base_name, src, work / f"{base_name}{suffix}", gdal_cache)))  # fmt: skip
    print(f" {label}: medians over {repeat} run(s)")
    for key in ("seconds", "cpu_seconds", "peak_rss_mib", "peak_anon_mib", "work_anon_mib", "peak_file_mib"):
        ours = statistics.median(p[0][key] for p in pairs)
        base = statistics.median(p[1][key] for p in pairs)
        print(f"  {key:<14} ours {ours:8.2f}   baseline {base:8.2f}")
    for key in ("seconds", "cpu_seconds"):
        ratios = [p[0][key] / p[1][key] for p in pairs]
        print(f"  ratio ours / baseline, {key}: median {statistics.median(ratios):.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)}; target <= {target})")  # fmt: skip


def gdal_real(listing: str, out_dir: str) -> dict[str, object]:
    """The baseline of the real-corpus run (in its own process): every entry file of the
    corpus through GDAL's COG driver (`gdal_translate -of COG`), same options as ours;
    which ones GDAL reads, the bytes it read (all the files it opened) and the wall time."""
    import rasterio
    import rasterio.shutil
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    read, failed, size = [], 0, 0
    started = time.perf_counter()
    for i, line in enumerate(Path(listing).read_text().splitlines()):
        try:
            with rasterio.Env(GDAL_NUM_THREADS="1"), rasterio.open(line) as src:
                rasterio.shutil.copy(src, f"{out_dir}/{i}.tif", driver="COG", COMPRESS="DEFLATE",
                                     PREDICTOR="YES", BLOCKSIZE=512, OVERVIEW_RESAMPLING="NEAREST",
                                     BIGTIFF="IF_SAFER")  # fmt: skip
                size += sum(Path(f).stat().st_size for f in set(src.files) if Path(f).is_file())
            read.append(line)
        except (RasterioError, CPLE_BaseError, OSError, ValueError):
            failed += 1
    return {"seconds": time.perf_counter() - started, "read": read, "failed": failed, "bytes": size}


def gdal_translate_real(files: list[str], out_dir: Path, parallel: int = 1) -> tuple[float, int]:
    """The second baseline: one `gdal_translate -of COG` per product, same options, `parallel`
    commands at a time (as ``xargs -P``); wall seconds and how many commands failed (a
    failure would flatter the baseline: printed)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int, src: str) -> bool:
        return subprocess.run(["gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=YES",
                        "-co", "BLOCKSIZE=512", "-co", "OVERVIEW_RESAMPLING=NEAREST", "-co", "BIGTIFF=IF_SAFER",
                        "--config", "GDAL_NUM_THREADS", "1", src, str(out_dir / f"{i}.tif")],
                       capture_output=True, check=False).returncode != 0  # fmt: skip

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        failed = sum(pool.map(one, range(len(files)), files))
    return time.perf_counter() - started, failed


def real_corpus(work: Path, repeat: int) -> None:
    """`datacenter ingest` (a fresh catalog and store each run; checksums, originals and
    items included) against GDAL's COG driver in one warm process and against one
    `gdal_translate -of COG` per product, on the products of tests/data/real that GDAL can
    read, in turn, `repeat` times. Target: our products/s >= 0.8 x GDAL's."""
    from datacenter.compute import default_workers
    from ingest.readers import discover
    from tests.ingest.real_corpus import copy_corpus

    corpus = work / "real"
    if not corpus.exists():
        copy_corpus(corpus)
    entries = [str(p) for p in discover([str(corpus)])]
    listing = work / "real-entries.txt"
    listing.write_text("\n".join(entries))
    pairs = []
    for i in range(repeat):
        out = work / "real-gdal"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        proc = subprocess.run([sys.executable, __file__, "--gdal-real", str(listing), str(out)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        gdal = json.loads(proc.stdout.strip().splitlines()[-1])
        readable = work / "real-readable.txt"
        readable.write_text("\n".join(gdal["read"]))
        home = work / "real-home"
        shutil.rmtree(home, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATACENTER_")}
        env["DATACENTER_HOME"] = str(home)
        report = work / "real-report.jsonl"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "datacenter.cli", "ingest", *gdal["read"], "-c", "real",
                        "--datetime", "2020-01-01T00:00:00Z", "--report", str(report)],
                       env=env, capture_output=True, text=True)  # fmt: skip
        ours_s = time.perf_counter() - started
        lines = [json.loads(r) for r in report.read_text().splitlines()]
        went_in = sum(r["status"] == "ingested" for r in lines)
        n, mb = len(gdal["read"]), gdal["bytes"] / 1e6
        print(f" run {i + 1}/{repeat}: {len(entries)} products, GDAL reads {n} ({gdal['failed']} not), "
              f"{mb:.1f} MB read; GDAL {gdal['seconds']:.2f} s ({n / gdal['seconds']:.2f} products/s, "
              f"{mb / gdal['seconds']:.1f} MB/s); ours {ours_s:.2f} s ({n / ours_s:.2f} products/s, "
              f"{mb / ours_s:.1f} MB/s, {went_in} ingested)", flush=True)  # fmt: skip
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        cli_s, cli_failed = gdal_translate_real(gdal["read"], out)
        print(f"          gdal_translate -of COG, one command a product: {cli_s:.2f} s "
              f"({n / cli_s:.2f} products/s, {cli_failed} failed)", flush=True)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        par_s, par_failed = gdal_translate_real(gdal["read"], out, parallel=default_workers())
        print(f"          the same, {default_workers()} at a time (as ours runs {default_workers()} products "
              f"at a time): {par_s:.2f} s ({n / par_s:.2f} products/s, {par_failed} failed)", flush=True)
        pairs.append((ours_s, gdal["seconds"], cli_s, par_s))
    for name, k in (("GDAL's COG driver in one warm process", 1), ("one gdal_translate per product", 2),
                    (f"gdal_translate per product, {default_workers()} at a time", 3)):
        ratios = [p[k] / p[0] for p in pairs]
        print(f" real corpus, our throughput / {name}: median {statistics.median(ratios):.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", nargs=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--dem-size", type=int, default=8192)
    parser.add_argument("--cube", default="85x2560x2560")
    parser.add_argument("--only", choices=["cog", "zarr", "real"])
    parser.add_argument("--gdal-real", nargs=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--gdal-cache", default="64",
                        help="GDAL_CACHEMAX of both sides in MiB, or 'default' (no variable: GDAL's own "
                             "5 %% of RAM for the baseline; ours caps itself as the batch does)")  # fmt: skip
    args = parser.parse_args()
    if args.job:
        print(json.dumps(job(*args.job)))
        return
    if args.gdal_real:
        print(json.dumps(gdal_real(*args.gdal_real)))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.only == "real":
            real_corpus(work, args.repeat)
            return
        if args.only in (None, "cog"):
            dem = work / f"dem-{args.dem_size}.tif"
            if not dem.exists():
                make_dem(dem, args.dem_size)
            print(f"COG: {args.dem_size} x {args.dem_size} float32 DEM ({dem.stat().st_size / 2**20:.0f} MiB on disk)")
            compare("COG, ours / GDAL COG driver", "cog-ours", "cog-gdal", dem, work, args.repeat, 1.05, args.gdal_cache)
        if args.only == "cog":
            return

        from ingest.samples import make_pds4_spectral_cube

        bands, height, width = (int(v) for v in args.cube.split("x"))
        folder = work / f"cube-{args.cube}"
        cube = folder / "m3g20090203_l2_cube.xml"
        if not cube.exists():
            make_pds4_spectral_cube(folder, bands=bands, height=height, width=width)
        gib = bands * height * width * 4 / 2**30
        print(f"Zarr: {bands} x {height} x {width} float32 cube ({gib:.2f} GiB)")
        compare("Zarr, ours / plain zarr", "zarr-ours", "zarr-plain", cube, work, args.repeat, 1.2, args.gdal_cache)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
