"""Sample products of every format, built once per session in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest import samples
from ingest.cog import CogResult, write_cog
from ingest.product import RasterProduct
from ingest.readers import find_reader
from ingest.stac import build_item

MAKERS: dict[str, Callable[[Path], Path]] = {
    "geotiff": samples.make_geotiff,
    "wac": samples.make_equatorial_mosaic_crossing_antimeridian,
    "pds4": samples.make_pds4_south_polar_dem,
    "pds3": samples.make_pds3_image,
    "isis3": samples.make_isis3_cube,
    "vicar": samples.make_vicar_image,
}


@dataclass(frozen=True)
class Ingested:
    kind: str
    source: Path
    product: RasterProduct
    cog: CogResult
    item: dict[str, Any]
    info: samples.SampleInfo


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ingested]:
    """Every sample product read, converted to a COG and described as an item."""
    root = tmp_path_factory.mktemp("samples")
    out: dict[str, Ingested] = {}
    for kind, make in MAKERS.items():
        source = make(root / kind)
        product = find_reader(source).read(source)
        cog = write_cog(product, root / "cogs" / f"{product.id}.tif")
        item = build_item(
            product, cog, collection_id="lunar-samples", data_key=f"lunar-samples/{product.id}.tif"
        )
        out[kind] = Ingested(kind, source, product, cog, item, samples.SAMPLES[kind])
    return out
