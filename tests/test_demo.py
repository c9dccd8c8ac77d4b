"""The README's first command, driven the way a newcomer runs it: `datacenter demo`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pystac_client
import pytest

from tests.conftest import free_port


@pytest.fixture
def demo_server(clean_env: Path):
    port = free_port()
    env = {**os.environ, "DATACENTER_HOME": str(clean_env)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "datacenter.cli", "demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"datacenter demo exited with {proc.returncode}:\n{proc.stdout.read()}")
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("datacenter demo did not serve within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_demo_ingests_samples_and_serves_them_to_pystac_client(demo_server: str) -> None:
    client = pystac_client.Client.open(demo_server)
    every = list(client.search(collections=["lunar-samples"], max_items=100).items())
    assert len(every) >= 5
    south_polar = [
        i.id for i in client.search(bbox=[-180, -90, 180, -85]).items()
    ]
    crossing = [i.id for i in client.search(bbox=[175, -5, -175, 5]).items()]
    assert south_polar, "the south-polar DEM must be found around the south pole"
    assert crossing, "the antimeridian mosaic must be found by a crossing bbox"
    item = client.get_collection("lunar-samples").get_item(south_polar[0])
    assert item is not None
    assert item.properties["proj:code"] == "IAU_2015:30135"
    href = item.assets["data"].href
    assert href.startswith(demo_server)
    head = httpx.get(href, headers={"Range": "bytes=0-3"}, timeout=10)
    assert head.status_code == 206
    assert head.content in (b"II*\x00", b"MM\x00*")


def test_demo_serves_array_products_as_zarr_over_http(demo_server: str) -> None:
    import xarray as xr

    client = pystac_client.Client.open(demo_server)
    items = list(client.search(collections=["lunar-array-samples"], max_items=100).items())
    assert len(items) == 5
    cube = next(i for i in items if "cube:dimensions" in i.properties and "band" in i.properties["cube:dimensions"])
    (asset,) = cube.assets.values()
    assert asset.href.startswith(demo_server)
    with xr.open_zarr(asset.href) as ds:
        band = cube.properties["cube:dimensions"]["band"]
        assert ds["band"].values.tolist() == band["values"]  # band centres in nm, item and data agree
        assert ds["band"].attrs.get("units") == "nm"
