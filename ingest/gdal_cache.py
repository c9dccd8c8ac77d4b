"""GDAL's raster block cache in ingest workers, capped so memory follows the chunks.

GDAL keeps every block it reads or writes in one process-wide cache, 5 % of the RAM by
default (1.2 GiB on a 24 GiB machine): converting a 256 MiB DEM to COG then holds the
source, the temporary tiled copy and its overviews there, so peak memory grows with the
file. Ingest reads and writes each block once, so a small cache costs no speed; the
batch engine sets it in every worker from `Settings.ingest_gdal_cache_mib`.
"""

from __future__ import annotations

from rasterio.env import set_gdal_config


def cap_block_cache(mib: int) -> None:
    """Set GDAL's block cache of this process to `mib` MiB (0: leave GDAL's default).

    Process-wide (GDALSetCacheMax), whichever thread calls it.
    """
    if mib < 0:
        raise ValueError(f"GDAL block cache size {mib} MiB is negative; expected 0 (GDAL's default) or more")
    if mib:
        set_gdal_config("GDAL_CACHEMAX", mib * 2**20)
