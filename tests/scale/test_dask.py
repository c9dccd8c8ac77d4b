"""Ingest through a real dask.distributed cluster: a scheduler and two worker processes
started with the `dask` CLI, reached through DATACENTER_DASK_SCHEDULER, with the store on
S3 (workers and the ingest process share nothing but the bucket)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from affine import Affine
from distributed import Client

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.compute import compute_from_settings
from datacenter.errors import ConfigError
from datacenter.settings import Settings, get_settings
from datacenter.storage import TEMP_PREFIX, Store
from ingest.batch import expand_inputs, run_batch
from ingest.pipeline import ProductResult
from ingest.samples import make_geotiff
from tests.conftest import free_port, use_s3
from tests.scale.conftest import Cluster


@pytest.fixture
def tiles(tmp_path: Path) -> list[Path]:
    return [
        make_geotiff(tmp_path / "incoming", name=f"tile-{i}",
                     transform=Affine(1 / 64, 0, 20.0 + 5 * i, 0, -1 / 64, 5.0))
        for i in range(6)
    ]


def test_ingest_runs_on_the_cluster_and_survives_a_killed_worker(
    cluster: Cluster, s3_server, s3_bucket: str, tiles: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_s3(monkeypatch, s3_server, s3_bucket)
    monkeypatch.setenv("DATACENTER_DASK_SCHEDULER", cluster.address)
    get_settings.cache_clear()
    settings = get_settings()
    store = Store.from_settings(settings)
    killed: list[str] = []

    def kill_a_worker(result: ProductResult) -> None:
        if not killed:
            os.kill(cluster.workers["w1"].pid, signal.SIGKILL)
            killed.append("w1")

    with open_catalog(settings.resolved_catalog_url) as catalog:
        report = run_batch(expand_inputs([str(t) for t in tiles], collection="moon"),
                           settings=settings, catalog=catalog, on_result=kill_a_worker)
        page = catalog.search(SearchQuery(collections=["moon"], limit=100, viewer=SYSTEM))
    with Client(cluster.address, timeout="10s") as client:
        workers = client.scheduler_info()["workers"]
    assert killed and cluster.workers["w1"].wait(timeout=10) == -signal.SIGKILL
    assert [w["name"] for w in workers.values()] == ["w2"]
    # every product either went in or failed with a reason
    assert sorted(r.path for r in report.results) == sorted(str(t) for t in tiles)
    for r in report.results:
        assert r.ok or r.reason, r
    ingested = {r.id for r in report.results if r.ok}
    assert ingested == {item["id"] for item in page.items}
    assert len(ingested) == len(tiles), [r.reason for r in report.failed]
    # no orphans: published objects are exactly those the catalog points at
    referenced = sorted(item["assets"]["data"]["href"] for item in page.items)
    assert store.list() == referenced
    # a killed upload can only leave a temporary key, which the sweep removes
    store.sweep_incoming(older_than=0)
    assert [k for k in s3_server.list_keys(s3_bucket) if TEMP_PREFIX in k] == []


def test_an_unreachable_scheduler_is_a_config_error_naming_the_setting() -> None:
    settings = Settings(dask_scheduler=f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(ConfigError, match="DATACENTER_DASK_SCHEDULER"):
        compute_from_settings(settings)
