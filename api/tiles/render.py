"""Reading and rendering tiles with rio-tiler: one item's COG, or a mosaic of several.

Bytes come only from the `Store` (a folder or S3, through fsspec), and only from assets of
items the caller was given, so whatever the access filter removed is never opened.
Rendering: ``bidx`` picks bands (1-based), ``rescale`` maps ``min,max`` to 0..255 per band
(default: the 2-98 percentiles of the COG's smallest overview, for data that is not 8-bit),
``colormap`` names a rio-tiler colour map for one band; nodata is transparent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import rasterio
from morecantile import Tile, TileMatrixSet
from rio_tiler.colormap import cmap
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader

from catalog.base import StacItem
from datacenter.errors import InvalidRequest, TileNotFound
from datacenter.storage import Store, check_key

GDAL_ENV = {"GDAL_CACHEMAX": 64, "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
FORMATS = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
TILE_SIZE = 256


@dataclass(frozen=True)
class RenderOptions:
    """How pixels become an image (query parameters of every tile route)."""

    bidx: tuple[int, ...] | None = None
    rescale: tuple[tuple[float, float], ...] | None = None
    colormap: str | None = None

    @classmethod
    def parse(cls, bidx: Sequence[int] | None, rescale: Sequence[str] | None,
              colormap: str | None) -> RenderOptions:  # fmt: skip
        ranges = []
        for text in rescale or ():
            parts = text.split(",")
            try:
                low, high = (float(p) for p in parts)
            except ValueError:
                raise InvalidRequest(
                    f"rescale={text!r} is not 'min,max' (two numbers), e.g. rescale=0,255"
                ) from None
            ranges.append((low, high))
        if colormap is not None and colormap.lower() not in cmap.list():
            raise InvalidRequest(
                f"colormap={colormap!r} is not known; use a rio-tiler colour map name such as "
                "gray, viridis, terrain, cfastie"
            )
        if bidx is not None and any(b < 1 for b in bidx):
            raise InvalidRequest(f"bidx={list(bidx)} must list band numbers from 1")
        return cls(tuple(bidx) if bidx else None, tuple(ranges) or None,
                   colormap.lower() if colormap else None)  # fmt: skip


def cog_asset(item: StacItem) -> tuple[str, dict[str, Any]]:
    """The (key, asset) of the item's first COG data asset; none is a 404 naming what exists."""
    for key, asset in sorted((item.get("assets") or {}).items()):
        if "image/tiff" in str(asset.get("type", "")) and "data" in (asset.get("roles") or ["data"]):
            return key, asset
    raise TileNotFound(
        f"item {item.get('id')!r} has no Cloud-Optimized GeoTIFF asset to draw tiles from"
    )


def open_reader(store: Store, item: StacItem, tms: TileMatrixSet) -> Reader:
    _, asset = cog_asset(item)
    path = store.path(check_key(str(asset.get("href", ""))))
    opener = None if store.is_local else store.fs
    dataset = rasterio.open(path, opener=opener)
    return Reader(path, dataset=dataset, tms=tms)


@lru_cache(maxsize=512)
def _auto_range(path: str, checksum: str, count: int, opener: Any) -> tuple[tuple[float, float], ...]:
    """2-98 percentile range per band of the COG's smallest overview (cached by checksum)."""
    with rasterio.Env(**GDAL_ENV), rasterio.open(path, opener=opener) as src:
        scale = max(1, max(src.width, src.height) // 512)
        data = src.read(out_shape=(src.count, max(1, src.height // scale), max(1, src.width // scale)),
                        masked=True)  # fmt: skip
    ranges = []
    for band in data:
        values = band.compressed().astype("float64")
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [2, 98]) if values.size else (0.0, 1.0)
        ranges.append((float(low), float(high) if high > low else float(low) + 1.0))
    return tuple(ranges)


def read_item_tile(store: Store, item: StacItem, tms: TileMatrixSet, tile: Tile,
                   options: RenderOptions) -> ImageData:  # fmt: skip
    """The tile of one item's COG (nearest neighbour), or `TileNotFound` where it has none."""
    with rasterio.Env(**GDAL_ENV), open_reader(store, item, tms) as reader:
        if not reader.tile_exists(tile.x, tile.y, tile.z):
            raise TileNotFound(f"item {item['id']!r} has no pixels in tile {tile.z}/{tile.x}/{tile.y}")
        _check_bands(options, reader.dataset.count, item)
        try:
            image = reader.tile(tile.x, tile.y, tile.z, indexes=options.bidx, tilesize=TILE_SIZE)
        except TileOutsideBounds as exc:
            raise TileNotFound(str(exc)) from exc
    if np.ma.getmaskarray(image.array).all():
        raise TileNotFound(f"item {item['id']!r} has no pixels in tile {tile.z}/{tile.x}/{tile.y}")
    return image


def read_mosaic_tile(store: Store, items: Sequence[StacItem], tms: TileMatrixSet, tile: Tile,
                     options: RenderOptions) -> ImageData:  # fmt: skip
    """The tile of the items drawn in order (the first on top: each pixel from the first item
    that has one); `TileNotFound` when none has pixels there."""

    def one(item: StacItem, x: int, y: int, z: int, **kwargs: Any) -> ImageData:
        with rasterio.Env(**GDAL_ENV), open_reader(store, item, tms) as reader:
            return reader.tile(x, y, z, indexes=options.bidx, tilesize=TILE_SIZE)

    try:
        image, _ = mosaic_reader(list(items), one, tile.x, tile.y, tile.z)
    except EmptyMosaicError as exc:
        raise TileNotFound(f"no visible item has pixels in tile {tile.z}/{tile.x}/{tile.y}") from exc
    return image


def _check_bands(options: RenderOptions, count: int, item: StacItem) -> None:
    if options.bidx and max(options.bidx) > count:
        raise InvalidRequest(
            f"bidx={list(options.bidx)} asks for a band item {item['id']!r} lacks: it has {count}"
        )


def render_image(image: ImageData, options: RenderOptions, fmt: str,
                 auto: tuple[tuple[float, float], ...] | None = None) -> bytes:  # fmt: skip
    """Encode `image` as PNG or WEBP with the options' rescale and colour map."""
    driver = FORMATS[fmt][0]
    ranges = options.rescale or (auto if image.data.dtype != np.uint8 else None)
    if ranges:
        if len(ranges) == 1:
            ranges = ranges * image.count
        image.rescale(in_range=ranges[: image.count])
    elif image.data.dtype != np.uint8:
        image.rescale(in_range=((0, 255),) * image.count)
    colormap = cmap.get(options.colormap) if options.colormap else None
    if colormap and image.count != 1:
        raise InvalidRequest(f"colormap applies to one band; this tile has {image.count}: add bidx=1")
    return image.render(img_format=driver, colormap=colormap)


def auto_range(store: Store, item: StacItem) -> tuple[tuple[float, float], ...]:
    """The default rescale range of an item's COG (see `_auto_range`)."""
    _, asset = cog_asset(item)
    path = store.path(check_key(str(asset.get("href", ""))))
    count = len(asset.get("raster:bands") or [1])
    return _auto_range(path, str(asset.get("file:checksum", "")), count,
                       None if store.is_local else store.fs)  # fmt: skip
