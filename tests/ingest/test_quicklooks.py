"""Quicklooks rendered at ingest: a thumbnail and an overview PNG per raster item, stored
beside the COG, nodata transparent, DEMs shaded and images stretched; COGs larger than a
block carry internal overviews."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.storage import Store, file_sha256, multihash_sha256
from ingest.cog import BLOCK_SIZE
from ingest.pipeline import ingest_paths
from ingest.quicklook import hillshade, stretch
from ingest.samples import make_sample_set

from .conftest import Ingested


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Store]:
    root = tmp_path_factory.mktemp("quicklooks")
    store = Store(str(root / "store"))
    with open_catalog(f"sqlite:///{root / 'catalog.sqlite'}") as catalog:
        report = ingest_paths(make_sample_set(root / "src"), collection_id="moon", catalog=catalog, store=store)
        assert report.ok, [r.reason for r in report.failed]
        items = catalog.search(SearchQuery(collections=["moon"], limit=100, viewer=SYSTEM)).items
    return {i["id"]: i for i in items}, store


def _png(store: Store, key: str) -> np.ndarray:
    with rasterio.open(store.path(key)) as png:
        assert png.driver == "PNG"
        return png.read()


def test_every_raster_item_has_a_thumbnail_and_an_overview_asset(published) -> None:
    items, store = published
    assert len(items) == 6
    for item in items.values():
        thumb, overview = item["assets"]["thumbnail"], item["assets"]["overview"]
        assert thumb["roles"] == ["thumbnail"] and overview["roles"] == ["overview"]
        assert thumb["type"] == overview["type"] == "image/png"
        for asset in (thumb, overview):
            assert asset["file:checksum"] == multihash_sha256(file_sha256(store.path(asset["href"])))
            assert asset["file:size"] == Path(store.path(asset["href"])).stat().st_size
        rgba = _png(store, thumb["href"])
        assert rgba.shape[0] == 4 and max(rgba.shape[1:]) == 256
        with rasterio.open(store.path(item["assets"]["data"]["href"])) as cog:
            expected = min(1024, max(cog.width, cog.height))
            assert max(_png(store, overview["href"]).shape[1:]) == expected
            # same aspect as the product
            assert abs(rgba.shape[2] / rgba.shape[1] - cog.width / cog.height) < 0.02


def test_nodata_pixels_are_transparent_and_valid_ones_opaque(published) -> None:
    items, store = published
    dem = items["ldem_87s_40m"]
    alpha = _png(store, dem["assets"]["overview"]["href"])[3]
    with rasterio.open(store.path(dem["assets"]["data"]["href"])) as cog:
        data = cog.read(1)
        assert alpha.shape == data.shape  # the overview of a 512 px DEM is at full size
        np.testing.assert_array_equal(alpha == 0, data == cog.nodata)
        assert (data == cog.nodata).any() and (alpha == 255).any()


def test_a_dem_is_shaded_in_colour_and_an_image_is_grey(published) -> None:
    items, store = published
    dem = _png(store, items["ldem_87s_40m"]["assets"]["thumbnail"]["href"])
    image = _png(store, items["kaguya_tc_ortho_n05e020"]["assets"]["thumbnail"]["href"])
    assert not np.array_equal(dem[0], dem[1])  # a colour ramp
    np.testing.assert_array_equal(image[0], image[1])
    np.testing.assert_array_equal(image[1], image[2])


def test_percentile_stretch_maps_2_and_98_percent_to_black_and_white() -> None:
    band = np.arange(10_000, dtype="float64").reshape(100, 100)
    valid = np.ones(band.shape, bool)
    out = stretch(band, valid)
    assert out.min() == 0 and out.max() == 255
    assert (out == 0).mean() == pytest.approx(0.02, abs=0.004)
    assert (out == 255).mean() == pytest.approx(0.02, abs=0.004)


def test_hillshade_lights_slopes_facing_the_sun() -> None:
    x = np.tile(np.arange(50.0), (50, 1)) * 10  # rises to the east
    facing_west = hillshade(-x, 1.0)  # rises to the west: faces the north-west sun
    facing_east = hillshade(x, 1.0)
    assert facing_west.mean() > facing_east.mean()


def test_cogs_larger_than_a_block_carry_internal_overviews(ingested: dict[str, Ingested]) -> None:
    for case in ingested.values():
        with rasterio.open(case.cog.path) as cog:
            if max(cog.width, cog.height) > BLOCK_SIZE:
                assert cog.overviews(1), case.kind
                smallest = cog.overviews(1)[-1]
                assert max(cog.width, cog.height) / smallest <= BLOCK_SIZE
