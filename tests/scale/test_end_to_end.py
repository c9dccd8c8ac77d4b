"""The whole path on real servers, driven as users drive it: PostgreSQL + pgstac as the
catalog, SeaweedFS as the store, a Dask scheduler with two worker processes for ingest and
jobs. An operator registers two partners and batch-ingests products uploaded to an
``s3://`` prefix (CNSA's restricted ones releasable to ESA, and public ones); ESA and JAXA
then search with pystac-client, subset synchronously and as a job, and download."""

from __future__ import annotations

import time
from pathlib import Path

import fsspec
import httpx
import numpy as np
import pystac_client
import pytest
import rasterio
from affine import Affine
from rasterio.io import MemoryFile
from rasterio.windows import from_bounds
from typer.testing import CliRunner

from api.app import app_from_settings
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from ingest.samples import image_dn, make_geotiff, make_pds4_spectral_cube
from tests.api.conftest import serving
from tests.conftest import use_s3
from tests.s3server import ACCESS_KEY, SECRET_KEY
from tests.scale.conftest import Cluster

RESTRICTED, PUBLIC = "cnsa-restricted", "lunar-public"
BBOX = [20.5, 1.0, 21.5, 2.0]  # on tile-0's pixel grid (1/64 degree)


def cli(*args: str) -> str:
    result = CliRunner().invoke(load_commands(), list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def tile(directory: Path, i: int) -> Path:
    return make_geotiff(directory, name=f"cnsa_tile_{i}", data=image_dn(320, 320, seed=10 + i),
                        transform=Affine(1 / 64, 0, 20.0 + 5 * i, 0, -1 / 64, 5.0))


def upload(local: Path, server, url: str) -> None:
    fs = fsspec.filesystem("s3", key=ACCESS_KEY, secret=SECRET_KEY,
                           client_kwargs={"endpoint_url": server.endpoint_url})
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{url.removeprefix('s3://')}/{path.relative_to(local).as_posix()}")


def window_of(source: Path, subset: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The subset's pixels and the source's pixels under the subset's bounds."""
    with MemoryFile(subset) as mem, mem.open() as got, rasterio.open(source) as src:
        window = from_bounds(*got.bounds, transform=src.transform).round_offsets().round_lengths()
        return got.read(1), src.read(1, window=window)


def test_partners_search_subset_and_download_what_they_may_on_real_servers(
    cluster: Cluster, pgstac_dsn: str, s3_server, s3_bucket: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_url = use_s3(monkeypatch, s3_server, s3_bucket, prefix="dc")
    monkeypatch.setenv("DATACENTER_CATALOG_URL", pgstac_dsn)
    monkeypatch.setenv("DATACENTER_DASK_SCHEDULER", cluster.address)
    get_settings.cache_clear()

    # the operator: partners, then products uploaded to S3 and ingested from there
    esa = {"Authorization": f"Bearer {cli('partners', 'add', 'ESA').strip()}"}
    jaxa = {"Authorization": f"Bearer {cli('partners', 'add', 'JAXA').strip()}"}
    restricted_dir, public_dir = tmp_path / "restricted", tmp_path / "public"
    sources = {p.stem: p for p in (tile(restricted_dir, 0), tile(restricted_dir, 1),
                                   tile(public_dir, 2), tile(public_dir, 3))}
    make_pds4_spectral_cube(restricted_dir, bands=6, height=24, width=32)
    incoming = f"s3://{s3_bucket}/incoming"
    upload(restricted_dir, s3_server, f"{incoming}/restricted")
    upload(public_dir, s3_server, f"{incoming}/public")
    cli("ingest", f"{incoming}/restricted", "--collection", RESTRICTED, "--owner", "CNSA",
        "--access", "restricted", "--releasable-to", "ESA")
    cli("ingest", f"{incoming}/public", "--collection", PUBLIC, "--owner", "CNSA", "--access", "public")
    published = s3_server.list_keys(s3_bucket, "dc/")
    assert any(k.endswith("zarr.json") for k in published), published  # the cube went in as Zarr
    assert sum(k.endswith(".tif") for k in published) == 4, published

    with serving(app_from_settings(get_settings())) as url, httpx.Client(base_url=url, timeout=120) as http:
        # searches as each partner (pystac-client, paging through everything)
        def ids(headers: dict[str, str] | None, collection: str) -> set[str]:
            client = pystac_client.Client.open(url, headers=headers)
            return {i.id for i in client.search(collections=[collection], limit=2).items()}

        assert len(ids(esa, RESTRICTED)) == 3 and ids(jaxa, RESTRICTED) == set() == ids(None, RESTRICTED)
        assert ids(esa, PUBLIC) == ids(jaxa, PUBLIC) == ids(None, PUBLIC) == {"cnsa_tile_2", "cnsa_tile_3"}
        cube_id = (ids(esa, RESTRICTED) - set(sources)).pop()
        assert ids(esa, RESTRICTED) == {"cnsa_tile_0", "cnsa_tile_1", cube_id}

        # asset downloads: bytes from S3, values equal to the source
        for cid, iid in ((RESTRICTED, "cnsa_tile_0"), (PUBLIC, "cnsa_tile_3")):
            item = http.get(f"collections/{cid}/items/{iid}", headers=esa).json()
            assert not item["assets"]["data"]["href"].startswith("s3://")
            data = http.get(item["assets"]["data"]["href"], headers=esa)
            assert data.status_code == 200, data.text
            with MemoryFile(data.content) as mem, mem.open() as got, rasterio.open(sources[iid]) as src:
                np.testing.assert_array_equal(got.read(1), src.read(1))
        cube = http.get(f"collections/{RESTRICTED}/items/{cube_id}", headers=esa).json()
        zarr_asset = next(a for a in cube["assets"].values() if "zarr" in a.get("type", ""))
        assert http.get(zarr_asset["href"] + "/zarr.json", headers=esa).json()["zarr_format"] == 3

        # a synchronous subset of a restricted COG
        subset_path = f"collections/{RESTRICTED}/items/cnsa_tile_0/subset"
        params = {"bbox": ",".join(map(str, BBOX)), "format": "geotiff"}
        direct = http.get(subset_path, params=params, headers=esa)
        assert direct.status_code == 200, direct.text
        got, want = window_of(sources["cnsa_tile_0"], direct.content)
        assert got.shape == (64, 64)
        np.testing.assert_array_equal(got, want)

        # the same subset as a job on the Dask cluster, its result written to S3
        created = http.post("jobs", headers=esa, json={"collections": [RESTRICTED], "ids": ["cnsa_tile_0"],
                                                        "bbox": BBOX, "format": "geotiff"})
        assert created.status_code == 201, created.text
        job = created.headers["Location"]
        deadline = time.monotonic() + 120
        while (info := http.get(job, headers=esa).json())["status"] in ("accepted", "running"):
            assert time.monotonic() < deadline, info
            time.sleep(0.2)
        assert info["status"] == "successful", info
        (result,) = http.get(f"{job}/results", headers=esa).json()["files"]
        assert any(k.startswith(f"dc/jobs/{info['jobID']}/") for k in s3_server.list_keys(s3_bucket, "dc/"))
        size = result["file:size"]
        head = http.get(result["href"], headers={**esa, "Range": f"bytes=0-{size // 2 - 1}"})
        tail = http.get(result["href"], headers={**esa, "Range": f"bytes={size // 2}-"})
        assert (head.status_code, tail.status_code) == (206, 206)
        got, want = window_of(sources["cnsa_tile_0"], head.content + tail.content)
        np.testing.assert_array_equal(got, want)

        # JAXA: the restricted item, its asset, its subset and ESA's job do not exist for it
        for path in (f"collections/{RESTRICTED}/items/cnsa_tile_0", subset_path,
                     f"collections/{RESTRICTED}/items/cnsa_tile_0/assets/data", job, f"{job}/results",
                     result["href"]):
            assert http.get(path, headers=jaxa, params=params if path == subset_path else None
                            ).status_code == 404, path
        assert http.post("jobs", headers=jaxa, json={"collections": [RESTRICTED], "ids": ["cnsa_tile_0"],
                                                      "bbox": BBOX, "format": "geotiff"}).status_code in (400, 404)
    assert store_url.startswith("s3://")
