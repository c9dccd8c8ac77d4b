"""Backup and restore as docs/deploy.md describes them: copy the store, then
`datacenter catalog export`; lose everything; restore the store, `catalog migrate` and
`catalog import` into a fresh PostgreSQL database; the API serves the same items and bytes
(the `ETag` of each asset is its stored checksum)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from affine import Affine
from typer.testing import CliRunner

from api.app import app_from_settings
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from ingest.samples import image_dn, make_geotiff
from tests.api.conftest import serving


def cli(*args: str) -> str:
    result = CliRunner().invoke(load_commands(), list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def snapshot(settings) -> dict[str, tuple[dict, bytes, str]]:
    """Every item as the API serves it, with its data asset's bytes and ETag."""
    with serving(app_from_settings(settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        features = http.get("search", params={"limit": 100}).json()["features"]
        seen = {}
        for f in features:
            data = http.get(f["assets"]["data"]["href"])
            assert data.status_code == 200, data.text
            head = http.head(f["assets"]["data"]["href"])
            as_text = json.dumps(f).replace(url.rstrip("/"), "http://api")  # ports differ per run
            seen[f["id"]] = (json.loads(as_text), data.content, head.headers["etag"])
        return seen


def test_export_and_store_copy_restore_the_same_items_and_bytes(
    pg_cluster, pgstac_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, backup = tmp_path / "store", tmp_path / "backup"
    monkeypatch.setenv("DATACENTER_CATALOG_URL", pgstac_dsn)
    monkeypatch.setenv("DATACENTER_STORE_URL", str(store))
    get_settings.cache_clear()
    tiles = [make_geotiff(tmp_path / "in", name=f"tile_{i}", data=image_dn(64, 64, seed=i),
                          transform=Affine(1 / 64, 0, 20.0 + i, 0, -1 / 64, 5.0)) for i in range(3)]
    cli("ingest", *map(str, tiles), "--collection", "lunar", "--owner", "CNSA", "--access", "public")
    before = snapshot(get_settings())
    assert len(before) == 3

    # the backup: the store first (rclone sync / aws s3 sync in production), then the catalog
    shutil.copytree(store, backup / "store")
    cli("catalog", "export", str(backup / "catalog.ndjson"))
    assert not (backup / "catalog.ndjson.partial").exists()

    # disaster: the store and the database are gone
    shutil.rmtree(store)
    restored_dsn = str(pg_cluster.new_database())
    monkeypatch.setenv("DATACENTER_CATALOG_URL", restored_dsn)
    get_settings.cache_clear()

    # the restore: the store, then the catalog into a fresh database (twice: import upserts)
    shutil.copytree(backup / "store", store)
    cli("catalog", "migrate", "--catalog-url", restored_dsn)
    for _ in range(2):
        cli("catalog", "import", str(backup / "catalog.ndjson"), "--catalog-url", restored_dsn)
    after = snapshot(get_settings())

    assert after.keys() == before.keys()
    for iid, (item, data, etag) in before.items():
        assert after[iid][0] == item
        assert after[iid][1] == data
        assert after[iid][2] == etag
        assert item["assets"]["data"]["file:checksum"].removeprefix("1220") in etag
