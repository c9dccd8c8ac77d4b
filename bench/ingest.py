"""Ingest benchmarks, each against a baseline measured in the same run.

1. COG conversion of an 8192 x 8192 float32 DEM: ours (`ingest.cog.write_cog`, rio-cogeo)
   vs GDAL's COG driver through rasterio (`rasterio.shutil.copy(driver="COG")`, the same
   engine as `gdal_translate -of COG`), same options: DEFLATE, predictor 3, 512 blocks,
   nearest overviews. Target: ours / GDAL <= 1.15.
2. Zarr conversion of an 85-band 2560 x 2560 float32 cube (2.07 GiB, PDS4
   Array_3D_Spectrum): ours (`ingest.zarr_writer.write_zarr`) vs plain `zarr` writing the
   same array with the same chunks and codec, chunk by chunk. Target: ours / zarr <= 1.2.

Every job runs in its own subprocess, which reports its wall time and peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`), so memory figures do not mix. GDAL's
block cache is capped at 64 MiB (GDAL_CACHEMAX) for both sides; left at its default (5 %
of RAM) it fills up and hides what the writers themselves hold.

    python bench/ingest.py [--workdir DIR] [--dem-size 8192] [--cube 85x2560x2560]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
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


def job(name: str, src: str, out: str) -> dict[str, float]:
    import rasterio.shutil  # noqa: F401  (imports are not what we time)
    import zarr  # noqa: F401

    import ingest.cog  # noqa: F401
    import ingest.readers  # noqa: F401
    import ingest.zarr_writer  # noqa: F401

    started = time.perf_counter()
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

        with rasterio.open(src) as ds:
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
    return {"seconds": time.perf_counter() - started,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def run(name: str, src: Path, out: Path) -> dict[str, float]:
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    env = {**os.environ, "GDAL_CACHEMAX": os.environ.get("GDAL_CACHEMAX", "64")}  # MiB, both sides
    proc = subprocess.run([sys.executable, __file__, "--job", name, str(src), str(out)],
                          capture_output=True, text=True, check=True, env=env)  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["output_mib"] = sum(p.stat().st_size for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file()) / 2**20
    print(f"  {name:<11} {result['seconds']:7.2f} s   peak RSS {result['peak_rss_mib']:7.0f} MiB   "
          f"output {result['output_mib']:7.0f} MiB", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", nargs=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--dem-size", type=int, default=8192)
    parser.add_argument("--cube", default="85x2560x2560")
    parser.add_argument("--only", choices=["cog", "zarr"])
    args = parser.parse_args()
    if args.job:
        print(json.dumps(job(*args.job)))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.only in (None, "cog"):
            dem = work / "dem.tif"
            make_dem(dem, args.dem_size)
            print(f"COG: {args.dem_size} x {args.dem_size} float32 DEM ({dem.stat().st_size / 2**20:.0f} MiB on disk)")
            ours = run("cog-ours", dem, work / "ours.tif")
            gdal = run("cog-gdal", dem, work / "gdal.tif")
            print(f"  ratio ours / GDAL COG driver: {ours['seconds'] / gdal['seconds']:.2f} (target <= 1.15)")
            dem.unlink()
        if args.only == "cog":
            return

        from ingest.array_samples import make_pds4_spectral_cube

        bands, height, width = (int(v) for v in args.cube.split("x"))
        cube = make_pds4_spectral_cube(work / "cube", bands=bands, height=height, width=width)
        gib = bands * height * width * 4 / 2**30
        print(f"Zarr: {bands} x {height} x {width} float32 cube ({gib:.2f} GiB)")
        ours = run("zarr-ours", cube, work / "ours.zarr")
        plain = run("zarr-plain", cube, work / "plain.zarr")
        print(f"  ratio ours / plain zarr: {ours['seconds'] / plain['seconds']:.2f} (target <= 1.2)")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
