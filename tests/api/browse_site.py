"""A demo-like site for the tile, browse-page and browser tests: the sample rasters ingested
through the real pipeline (public), a restricted Chang'e-7-like south-polar image (owner
CNSA, releasable to ESA) and the synthetic global shaded-relief basemap; partner ESA with a
key, partner ROSCOSMOS with one (which sees no restricted record)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catalog import open_catalog
from catalog.base import Catalog
from datacenter.storage import Store
from ingest.pipeline import ingest_paths
from ingest.samples import (
    make_global_shaded_relief,
    make_restricted_south_polar_image,
    make_sample_set,
)

PUBLIC = {"dc:owner": "ILRS", "dc:access": "public"}
RESTRICTED = {"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA"]}
SAMPLES, RESTRICTED_COLLECTION, BASEMAP = "lunar-samples", "ce7-restricted", "lunar-basemap"
RESTRICTED_ID = "ce7_south_pole_ortho_20m"


@dataclass
class Site:
    catalog: Catalog
    store: Store
    esa_key: str
    roscosmos_key: str
    url: str


def build_site(root: Path, catalog_url: str) -> Site:
    store = Store(str(root / "store"))
    catalog = open_catalog(catalog_url)
    src = root / "src"
    for paths, collection, access, title in (
        (make_sample_set(src / "samples"), SAMPLES, PUBLIC, "Lunar sample rasters"),
        ([make_restricted_south_polar_image(src / "ce7")], RESTRICTED_COLLECTION, RESTRICTED,
         "Chang'e-7 south pole (restricted)"),
        ([make_global_shaded_relief(src / "basemap", width=720)], BASEMAP, PUBLIC, "Basemap"),
    ):  # fmt: skip
        report = ingest_paths(paths, collection_id=collection, catalog=catalog, store=store,
                              collection_title=title, access=dict(access))  # fmt: skip
        assert report.ok, [r.reason for r in report.failed]
    partners = catalog.partner_store()
    esa = partners.add_partner("ESA").secret_text
    roscosmos = partners.add_partner("ROSCOSMOS").secret_text
    return Site(catalog, store, esa, roscosmos, catalog_url)
