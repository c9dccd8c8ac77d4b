"""A real catalog (SQLite file, or a pgstac database in the session's throw-away PostgreSQL
cluster: every API test runs on both) and a local store with hand-built lunar items, and the
API serving them over real HTTP (uvicorn in a background thread) for pystac-client and the
validator.

Items (newest first, the catalog's order):
    lunar-images/eq-east      2023-03-01  box 10..20 E, 0..10 N
    lunar-images/eq-west      2022-07-15  box 30..20 W, 5 S..5 N
    lunar-dem/am-mosaic       2021-06-01  MultiPolygon split at 180 deg, bbox [170,-10,-170,10]
    lunar-dem/south-cap       2020-01-01  polar cap, bbox [-180,-90,180,-80]
    lunar-images/eq-far       2019 (start/end interval)  box 100..110 E, 20..30 N
    lunar-images/mid-north    2018-05-05  box 18..24 E, 18..24 N
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from catalog import open_catalog
from catalog.base import Catalog
from datacenter.access import SCHEMA_URL
from datacenter.storage import Store, multihash_sha256
from tests.conftest import free_port

PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
FILE = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
PAYLOAD = bytes(range(256)) * 4  # 1,024 known bytes: every offset has a predictable value
CHECKSUM = multihash_sha256(hashlib.sha256(PAYLOAD).hexdigest())


def _box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _collection(cid: str, title: str) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": [SCHEMA_URL],
        "id": cid,
        "title": title,
        "description": f"{title} (test data).",
        "license": "CC-BY-4.0",
        "dc:owner": "CNSA",
        "dc:access": "public",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [["2019-01-01T00:00:00Z", "2023-12-31T00:00:00Z"]]},
        },
        "links": [],
    }


def _item(
    cid: str, iid: str, geometry: dict[str, Any], bbox: list[float], when: dict[str, Any], key: str
) -> dict[str, Any]:
    properties = {**when, "proj:code": "IAU_2015:30100", "dc:owner": "CNSA", "dc:access": "public"}
    if iid == "south-cap":
        properties["proj:code"] = "IAU_2015:30135"  # Moon south polar stereographic
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [PROJ, FILE, SCHEMA_URL],
        "id": iid,
        "collection": cid,
        "geometry": geometry,
        "bbox": bbox,
        "properties": properties,
        "links": [],
        "assets": {
            "data": {
                "href": key,
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "file:checksum": CHECKSUM,
                "file:size": len(PAYLOAD),
            }
        },
    }


ANTIMERIDIAN = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[170, -10], [180, -10], [180, 10], [170, 10], [170, -10]]],
        [[[-180, -10], [-170, -10], [-170, 10], [-180, 10], [-180, -10]]],
    ],
}


def build_items() -> list[dict[str, Any]]:
    def when(dt: str) -> dict[str, Any]:
        return {"datetime": dt}

    return [
        _item("lunar-dem", "south-cap", _box(-180, -90, 180, -80), [-180, -90, 180, -80],
              when("2020-01-01T00:00:00Z"), "lunar-dem/south-cap/south-cap.tif"),
        _item("lunar-dem", "am-mosaic", ANTIMERIDIAN, [170, -10, -170, 10],
              when("2021-06-01T00:00:00Z"), "lunar-dem/am-mosaic/am-mosaic.tif"),
        _item("lunar-images", "eq-east", _box(10, 0, 20, 10), [10, 0, 20, 10],
              when("2023-03-01T12:00:00Z"), "lunar-images/eq-east/eq-east.tif"),
        _item("lunar-images", "eq-west", _box(-30, -5, -20, 5), [-30, -5, -20, 5],
              when("2022-07-15T06:30:00Z"), "lunar-images/eq-west/eq-west.tif"),
        _item("lunar-images", "eq-far", _box(100, 20, 110, 30), [100, 20, 110, 30],
              {"datetime": None, "start_datetime": "2019-01-01T00:00:00Z",
               "end_datetime": "2019-12-31T23:59:59Z"}, "lunar-images/eq-far/eq-far.tif"),
        # Inside the validator's probe box 20,20,21,21 (its "ids do not override bbox" check).
        _item("lunar-images", "mid-north", _box(18, 18, 24, 24), [18, 18, 24, 24],
              when("2018-05-05T00:00:00Z"), "lunar-images/mid-north/mid-north.tif"),
    ]


EXTRA = {  # gsd (numbers), platform (text), instruments (arrays) for Query / Filter / Sort
    "south-cap": (100, "lro", ["lola"]), "am-mosaic": (200, "kaguya", ["tc"]),
    "eq-east": (100, "change-2", ["ccd"]), "eq-west": (50, "chandrayaan-2", ["tmc-2"]),
    "eq-far": (400, "change-2", ["ccd"]), "mid-north": (100, "lro", ["lroc-wac", "lola"]),
}


def add_extra(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item in items:
        gsd, platform, instruments = EXTRA[item["id"]]
        item["properties"].update(gsd=gsd, platform=platform, instruments=instruments)
    return items


ALL_IDS = {"south-cap", "am-mosaic", "eq-east", "eq-west", "eq-far", "mid-north"}


@dataclass
class ApiData:
    root: Path
    catalog: Catalog
    store: Store
    items: list[dict[str, Any]]
    outside: Path  # a file beside the store that must never be served

    def item(self, iid: str) -> dict[str, Any]:
        return next(i for i in self.items if i["id"] == iid)


@pytest.fixture(scope="session", params=["pgstac", "sqlite"])
def api_data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiData]:
    root = tmp_path_factory.mktemp("api")
    store = Store(str(root / "store"))
    if request.param == "pgstac":
        url = request.getfixturevalue("pg_cluster").new_database()
    else:
        url = f"sqlite:///{root / 'catalog.sqlite'}"
    catalog = open_catalog(url)
    catalog.upsert_collection(_collection("lunar-dem", "Lunar elevation models"))
    catalog.upsert_collection(_collection("lunar-images", "Lunar images"))
    items = add_extra(build_items())
    # A multi-file asset (a Zarr store): its href is a folder prefix in the store.
    items[2]["assets"]["cube"] = {
        "href": "lunar-images/eq-east/cube.zarr",
        "type": "application/vnd+zarr",
        "roles": ["data"],
    }
    store.put_bytes(b'{"zarr_format": 2}', "lunar-images/eq-east/cube.zarr/.zarray")
    store.put_bytes(b"\x00\x01\x02\x03chunk", "lunar-images/eq-east/cube.zarr/0.0")
    for item in items:
        store.put_bytes(PAYLOAD, item["assets"]["data"]["href"])
    catalog.upsert_items(items)
    outside = root / "secret.txt"
    outside.write_bytes(b"TOP SECRET, outside the store")
    yield ApiData(root=root, catalog=catalog, store=store, items=items, outside=outside)
    catalog.close()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on 127.0.0.1:<free port>, answered by uvicorn in a thread; yields its URL (ends '/')."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            if server.started and httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the test API did not start on {url}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def live_server(api_data: ApiData) -> Iterator[str]:
    with serving(create_app(api_data.catalog, api_data.store)) as url:
        yield url


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=10) as client:
        yield client
