"""The object store goes down in the middle of work, then comes back.

Each test runs its own SeaweedFS server and kills it (SIGKILL: an outage, not a shutdown)
at a chosen moment. What must hold: clear errors (503 + Retry-After on the API, a failed
product with its reason in the ingest report), no partial object visible, and once the
server is back the same API process serves again and a re-run of the ingest completes
with nothing lost or duplicated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from affine import Affine
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import app_from_settings
from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest.pipeline import ProductResult, ingest_paths
from ingest.samples import make_geotiff
from tests.conftest import use_s3
from tests.s3server import S3Server

runner = CliRunner()


@pytest.fixture
def tiles(tmp_path: Path) -> list[Path]:
    """Four small GeoTIFF tiles side by side on the lunar equator."""
    return [
        make_geotiff(tmp_path / "incoming", name=f"tile-{i}",
                     transform=Affine(1 / 64, 0, 20.0 + 5 * i, 0, -1 / 64, 5.0))
        for i in range(4)
    ]


@pytest.fixture
def s3_store(own_s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    own_s3_server.make_bucket("outage-bucket")
    use_s3(monkeypatch, own_s3_server, "outage-bucket")
    monkeypatch.setenv("DATACENTER_STORE_RETRIES", "3")
    get_settings.cache_clear()
    return own_s3_server


def _catalog_ids(collection: str) -> list[str]:
    with open_catalog(get_settings().resolved_catalog_url) as catalog:
        page = catalog.search(SearchQuery(collections=[collection], limit=100, viewer=SYSTEM))
        return sorted(item["id"] for item in page.items)


def test_store_down_mid_batch_fails_the_rest_with_a_reason_and_a_rerun_completes(
    s3_store: S3Server, tiles: list[Path], tmp_path: Path
) -> None:
    settings = get_settings()
    store = Store.from_settings(settings)

    def stop_after_first(result: ProductResult) -> None:
        if result.id == "tile-0":
            s3_store.stop()

    with open_catalog(settings.resolved_catalog_url) as catalog:
        report = ingest_paths(tiles, collection_id="moon", catalog=catalog, store=store,
                              on_result=stop_after_first)
    statuses = {r.id: r.status for r in report.results}
    assert statuses == {"tile-0": "ingested", "tile-1": "failed", "tile-2": "failed",
                        "tile-3": "failed"}
    for failed in report.failed:
        assert s3_store.endpoint_url in str(failed.reason)
        assert "3 attempts" in str(failed.reason)
    assert _catalog_ids("moon") == ["tile-0"]  # no item points at a missing object

    s3_store.start()
    keys = s3_store.list_keys("outage-bucket")
    assert keys == [f"dc/{key}" for key in report.results[0].assets]  # nothing partial
    out = tmp_path / "rerun.jsonl"
    rerun = runner.invoke(load_commands(), ["ingest", *map(str, tiles), "-c", "moon",
                                            "--report", str(out)])
    assert rerun.exit_code == 0, rerun.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["id"]: line["status"] for line in lines} == {
        "tile-0": "unchanged", "tile-1": "ingested", "tile-2": "ingested", "tile-3": "ingested"}
    assert _catalog_ids("moon") == ["tile-0", "tile-1", "tile-2", "tile-3"]
    expected = sorted(f"dc/{key}" for line in lines for key in line["assets"])
    assert s3_store.list_keys("outage-bucket") == expected  # one object per item, no temp keys


def test_store_down_during_downloads_is_503_with_retry_after_then_recovers(
    s3_store: S3Server, tiles: list[Path]
) -> None:
    result = runner.invoke(
        load_commands(), ["ingest", str(tiles[0]), "-c", "moon", "--owner", "CNSA", "--access", "public"]
    )
    assert result.exit_code == 0, result.output
    href = "/collections/moon/items/tile-0/assets/data"
    with TestClient(app_from_settings(get_settings())) as client:
        before = client.get(href)
        assert before.status_code == 200
        s3_store.stop()
        for method in ("GET", "HEAD"):
            down = client.request(method, href, headers={"Range": "bytes=0-99"})
            assert down.status_code == 503
            assert down.headers["retry-after"] == "5"
        body = client.get(href).json()
        assert body["code"] == "StorageError"
        assert "retry" in body["description"]
        assert s3_store.endpoint_url not in body["description"]  # where bytes live never shows
        assert client.get("/collections/moon/items/tile-0").status_code == 200  # catalog still up

        s3_store.start()  # the same API process, no restart
        after = client.get(href, headers={"Range": "bytes=0-99"})
        assert after.status_code == 206
        assert after.content == before.content[:100]
        assert client.get(href).content == before.content
