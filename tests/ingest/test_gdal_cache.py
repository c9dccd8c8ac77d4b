"""GDAL's block cache in ingest workers is capped process-wide, from any worker thread."""

from __future__ import annotations

import threading

from rasterio.env import get_gdal_config, set_gdal_config

from ingest.gdal_cache import cap_block_cache


def test_a_worker_thread_caps_gdal_block_cache_for_the_whole_process():
    before = get_gdal_config("GDAL_CACHEMAX")
    try:
        worker = threading.Thread(target=cap_block_cache, args=(48,))
        worker.start()
        worker.join()
        assert get_gdal_config("GDAL_CACHEMAX") == 48 * 2**20
        cap_block_cache(0)  # GDAL's default: left as it is
        assert get_gdal_config("GDAL_CACHEMAX") == 48 * 2**20
    finally:
        set_gdal_config("GDAL_CACHEMAX", before)
