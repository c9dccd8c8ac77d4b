"""Ingest and downloads on both kinds of store: a local folder and a real S3 server.

The S3 runs point `datacenter ingest` and the API at ``s3://bucket/dc`` on SeaweedFS
through DATACENTER_STORE_URL, DATACENTER_S3_ENDPOINT_URL and the AWS_* credentials,
exactly as an operator would.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import app_from_settings
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import TEMP_PREFIX, Store
from ingest.samples import make_geotiff, make_pds3_image, make_vicar_image

runner = CliRunner()


@pytest.fixture
def products(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    for make in (make_geotiff, make_pds3_image, make_vicar_image):
        make(folder / make.__name__)
    return folder


def _ingest(products: Path, tmp_path: Path) -> list[dict]:
    report = tmp_path / "report.jsonl"
    result = runner.invoke(
        load_commands(),
        ["ingest", str(products), "-c", "moon", "--owner", "CNSA", "--access", "public",
         "--report", str(report)],
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in report.read_text().splitlines()]


def test_ingest_writes_every_cog_to_the_configured_store(
    store_kind: str, products: Path, tmp_path: Path
) -> None:
    lines = _ingest(products, tmp_path)
    assert [line["status"] for line in lines] == ["ingested"] * 3
    settings = get_settings()
    store = Store.from_settings(settings)
    assert store.is_local == (store_kind == "local")
    assert store.list() == sorted(key for line in lines for key in line["assets"])
    if store_kind == "s3":
        assert settings.resolved_store_url.startswith("s3://")
        assert not (settings.home / "store").exists()  # nothing fell back to the local folder


def test_downloads_stream_the_stored_bytes_with_range(
    store_kind: str, products: Path, tmp_path: Path
) -> None:
    lines = _ingest(products, tmp_path)
    with TestClient(app_from_settings(get_settings())) as client:
        for line in lines:
            item = client.get(f"/collections/moon/items/{line['id']}").json()
            href = item["assets"]["data"]["href"]
            assert "s3://" not in href and "127.0.0.1:" not in href.split("/collections")[0][-6:]
            whole = client.get(href)
            assert whole.status_code == 200
            digest = hashlib.sha256(whole.content).hexdigest()
            assert item["assets"]["data"]["file:checksum"] == "1220" + digest
            part = client.get(href, headers={"Range": "bytes=100-1123"})
            assert part.status_code == 206
            assert part.content == whole.content[100:1124]
            assert part.headers["content-range"] == f"bytes 100-1123/{len(whole.content)}"
            tail = client.get(href, headers={"Range": "bytes=-10"})
            assert tail.content == whole.content[-10:]


def test_reingesting_changes_nothing_in_the_store(
    store_kind: str, products: Path, tmp_path: Path
) -> None:
    first = _ingest(products, tmp_path)
    before = Store.from_settings(get_settings()).list()
    again = _ingest(products, tmp_path)
    assert [line["status"] for line in again] == ["unchanged"] * len(first)
    assert Store.from_settings(get_settings()).list() == before


def test_a_zarr_folder_is_published_whole_and_leaves_no_temporary_keys(
    store_kind: str, tmp_path: Path
) -> None:
    folder = tmp_path / "cube.zarr"
    (folder / "refl" / "c").mkdir(parents=True)
    files = {"zarr.json": b"{}", "refl/zarr.json": b'{"a": 1}', "refl/c/0": b"\x00" * 100}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    store = Store.from_settings(get_settings())
    assert store.put_dir(folder, "lunar/cube/v1/cube.zarr") == 110
    assert store.list() == sorted(f"lunar/cube/v1/cube.zarr/{rel}" for rel in files)
    with store.open("lunar/cube/v1/cube.zarr/refl/zarr.json") as fh:
        assert fh.read() == b'{"a": 1}'
    everything = store.fs.find(store.root)  # temporary uploads included
    assert not [k for k in everything if TEMP_PREFIX in k or ".tmp-" in k], everything
