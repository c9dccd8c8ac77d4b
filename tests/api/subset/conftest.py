"""Real products for subsetting: the south-polar DEM and the antimeridian WAC mosaic (COG,
ingested by the real pipeline), a spectral cube (Zarr v3: time, band in nm, y, x), and a
product only its owner may see; served over HTTP by uvicorn.

`jobs_server` is the same server with its jobs in each job store (`job_store`: SQLite and
PostgreSQL). Partners CNSA (the owner), ESA and JAXA are registered in the catalog's partner store;
`SubsetData.keys` holds the ``Authorization`` header of each, so requests go through the
real access filter.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from api.app import create_app
from catalog import open_catalog
from catalog.base import Catalog, StacItem
from catalog.jobs import JobStore
from catalog.partners import PartnerStore
from catalog.pgstac.jobs import PgJobStore
from catalog.sqlite import SQLiteCatalog
from catalog.sqlite.jobs import SQLiteJobStore
from datacenter.access import SYSTEM
from datacenter.settings import Settings
from datacenter.storage import Store
from ingest.pipeline import ingest_paths
from ingest.samples import make_equatorial_mosaic_crossing_antimeridian, make_pds4_south_polar_dem
from tests.api.conftest import serving

POLAR, MOSAIC, CUBE, SECRET = "ldem_87s_40m", "wac_mosaic_e180_643m", "m3-cube", "ldem_secret"
SYNC_LIMIT = 300_000  # bytes: the whole mosaic (445 kB) is "too large" here
PARTNERS = ("CNSA", "ESA", "JAXA")


def make_cube() -> xr.Dataset:
    """An M3-like cube: 3 times x 12 bands (540..2740 nm) x 40 x 60 px around 20-26 E, 0-4 N."""
    rng = np.random.default_rng(7)
    bands = np.linspace(540, 2740, 12)
    x = 20 + (np.arange(60) + 0.5) * 0.1
    y = 4 - (np.arange(40) + 0.5) * 0.1
    time = pd.date_range("2009-01-01", periods=3, freq="30D")
    refl = rng.uniform(0, 0.4, size=(3, 12, 40, 60)).astype("float32")
    ds = xr.Dataset(
        {"reflectance": (("time", "band", "y", "x"), refl, {"units": "1", "long_name": "I/F"})},
        coords={"time": time, "band": ("band", bands, {"units": "nm"}), "y": y, "x": x},
    )
    return ds.chunk({"time": 1, "band": 4, "y": 20, "x": 30})


def cube_item(key: str) -> StacItem:
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": CUBE, "collection": "lunar",
        "geometry": {"type": "Polygon", "coordinates": [[[20, 0], [26, 0], [26, 4], [20, 4], [20, 0]]]},
        "bbox": [20, 0, 26, 4], "links": [],
        "properties": {"start_datetime": "2009-01-01T00:00:00Z", "end_datetime": "2009-03-02T00:00:00Z",
                       "datetime": None, "proj:code": "IAU_2015:30100", "dc:access": "public"},
        "assets": {"cube": {"href": key, "type": "application/vnd+zarr", "roles": ["data"],
                            "file:checksum": "1220" + "ab" * 32}},
    }


@dataclass
class SubsetData:
    root: Path
    store: Store
    catalog: SQLiteCatalog
    cube: xr.Dataset
    keys: dict[str, dict[str, str]]  # partner id -> its Authorization header

    def item(self, iid: str) -> StacItem:
        return self.catalog.get_item("lunar", iid, viewer=SYSTEM)

    def path(self, iid: str, asset: str = "data") -> str:
        return self.store.path(self.item(iid)["assets"][asset]["href"])


@pytest.fixture(scope="session")
def subset_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SubsetData]:
    root = tmp_path_factory.mktemp("subset")
    store = Store(str(root / "store"))
    inner = SQLiteCatalog(root / "catalog.sqlite")
    samples = root / "samples"
    paths = [make_pds4_south_polar_dem(samples, size=512),
             make_equatorial_mosaic_crossing_antimeridian(samples)]
    report = ingest_paths(paths, collection_id="lunar", catalog=inner, store=store,
                          access={"dc:owner": "CNSA", "dc:access": "public"})
    assert report.ok, [r.to_dict() for r in report.failed]
    items = [inner.get_item("lunar", i, viewer=SYSTEM) for i in (POLAR, MOSAIC)]
    for item in items:  # public products, with a "slope" asset only the owner (CNSA) may see
        item["properties"].update({"dc:access": "public", "dc:owner": "CNSA"})
        data = item["assets"]["data"]
        slope_key = data["href"].replace(".tif", "-slope.tif")
        shutil.copy(store.path(data["href"]), store.path(slope_key))
        item["assets"]["slope"] = {**data, "href": slope_key, "dc:access": "owner"}
    secret = {**items[0], "id": SECRET,
              "properties": {**items[0]["properties"], "dc:access": "owner", "dc:owner": "CNSA"}}
    cube = make_cube()
    cube.to_zarr(store.path("lunar/m3-cube/cube.zarr"), zarr_format=3, consolidated=False)
    inner.upsert_items([*items, secret, cube_item("lunar/m3-cube/cube.zarr")])
    partners = inner.partner_store()
    keys = {p: {"Authorization": f"Bearer {partners.add_partner(p).secret_text}"} for p in PARTNERS}
    yield SubsetData(root, store, inner, cube.compute(), keys)
    inner.close()


@pytest.fixture(scope="session")
def subset_server(subset_data: SubsetData) -> Iterator[str]:
    settings = Settings(subset_sync_limit=SYNC_LIMIT, home=subset_data.root)
    app = create_app(subset_data.catalog, subset_data.store, settings=settings)
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "pgstac"])
def job_store(request: pytest.FixtureRequest, subset_data: SubsetData) -> Iterator[JobStore]:
    """Each job store: the catalog's SQLite file, and ``datacenter.jobs`` in PostgreSQL."""
    if request.param == "pgstac":
        store: JobStore = PgJobStore(request.getfixturevalue("pg_cluster").new_database())
    else:
        store = SQLiteJobStore(subset_data.catalog.path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def jobs_server(subset_data: SubsetData, job_store: JobStore) -> Iterator[str]:
    """The subset server with its jobs kept in `job_store` (the job tests run on each)."""
    settings = Settings(subset_sync_limit=SYNC_LIMIT, home=subset_data.root)
    app = create_app(subset_data.catalog, subset_data.store, settings=settings, jobs=job_store)
    with serving(app) as url:
        yield url


@pytest.fixture
def keys(subset_data: SubsetData) -> dict[str, dict[str, str]]:
    """The Authorization header of each registered partner (CNSA, ESA, JAXA)."""
    return subset_data.keys


@pytest.fixture
def http(subset_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=subset_server, timeout=60) as client:
        yield client


@dataclass
class Served:
    url: str
    catalog: Catalog
    partners: PartnerStore
    store: Any
    app: Any

    def partner(self) -> tuple[str, dict[str, str]]:
        """A new partner of its own (so disabling it touches no other test) and its header."""
        pid = f"P{uuid.uuid4().hex[:8]}"
        return pid, {"Authorization": f"Bearer {self.partners.add_partner(pid).secret_text}"}

    def item_copy(self) -> str:
        """A public copy of the polar DEM (with its owner-only "slope" asset) to revoke."""
        item = self.catalog.get_item("lunar", POLAR, viewer=SYSTEM)
        iid = f"revocable-{uuid.uuid4().hex[:8]}"
        self.catalog.upsert_items([{**item, "id": iid}])
        return iid


@contextmanager
def serve_copy(request: pytest.FixtureRequest, subset_data: SubsetData, root: Path,
               settings: Settings | None = None) -> Iterator[Served]:
    """A server of its own over a catalog on the backend `request.param` ("sqlite" or
    "pgstac") holding the subset collection and the polar DEM (jobs, partners and audit in
    that catalog's database): for tests that change access, partners or limits."""
    if request.param == "pgstac":
        url = request.getfixturevalue("pg_cluster").new_database()
    else:
        url = f"sqlite:///{root / 'catalog.sqlite'}"
    catalog = open_catalog(url)
    catalog.upsert_collection(subset_data.catalog.get_collection("lunar", viewer=SYSTEM))
    catalog.upsert_items([subset_data.catalog.get_item("lunar", POLAR, viewer=SYSTEM)])
    app = create_app(catalog, subset_data.store, settings=settings or Settings(home=root))
    with serving(app) as base:
        yield Served(base, catalog, app.state.partners, subset_data.store, app)
    catalog.close()
