"""The chunking rule for Zarr products (written down in docs/ingest.md).

Target: about 32 MiB of uncompressed values per chunk (never above 64 MiB unless a single
record is bigger), shaped for the typical read:

* spatial dimensions (`y`, `x`) are cut into square tiles whose side is a power of two
  between 128 and 2048, every other dimension of a map (the `band` of a cube) stays
  whole, so one chunk answers "the spectrum of this pixel" and "this band over this
  tile" alike;
* a record dimension (`time`, `trace`, `spectrum`, `record`) gets long chunks: as many
  records as fit the target, with every other dimension whole (a whole spectrum, a whole
  radar trace per record);
* dimensions of a product without either keep the leading dimension chunked, the rest whole.

Dask chunks are the Zarr chunks, so every dask task writes whole Zarr chunks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

TARGET_BYTES = 32 * 2**20
SPATIAL = ("y", "x", "lat", "lon", "line", "sample_x")
MIN_TILE, MAX_TILE = 128, 2048


def chunk_shape(dims: tuple[str, ...], shape: tuple[int, ...], itemsize: int,
                target: int = TARGET_BYTES) -> tuple[int, ...]:
    """Chunk sizes for an array with these dimension names, shape and item size."""
    if not dims:
        return ()
    spatial = [i for i, d in enumerate(dims) if d in SPATIAL]
    if len(spatial) >= 2:
        other = math.prod(n for i, n in enumerate(shape) if i not in spatial[-2:])
        tile = MIN_TILE
        while tile * 2 <= MAX_TILE and other * (tile * 2) ** 2 * itemsize <= target:
            tile *= 2
        return tuple(
            min(n, tile) if i in spatial[-2:] else n for i, n in enumerate(shape)
        )
    lead = 0
    per_record = max(1, math.prod(shape[1:]) * itemsize)
    records = max(1, target // per_record)
    return tuple(min(n, records) if i == lead else n for i, n in enumerate(shape)) or shape


def dataset_chunks(sizes: Mapping[str, int], dims: tuple[str, ...], itemsize: int) -> dict[str, int]:
    """`chunk_shape` as a {dimension: size} mapping for one variable's dimensions."""
    shape = tuple(sizes[d] for d in dims)
    return dict(zip(dims, chunk_shape(dims, shape, itemsize), strict=True))
