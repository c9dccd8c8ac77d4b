"""A replaced product keeps exactly one version in the store: the old one goes once the new
item is committed, and what a crash in between leaves is swept by the next run; re-running
`datacenter demo` finds every sample unchanged and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from typer.testing import CliRunner

from catalog import open_catalog
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest import samples

runner = CliRunner()


def _ingest(path: Path) -> str:
    result = runner.invoke(load_commands(), ["ingest", str(path), "-c", "c",
                                             "--datetime", "2024-01-31T00:00:00Z"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def _versions(store: Store, item_id: str) -> set[str]:
    return {k.split("/")[2] for k in store.list_keys(f"c/{item_id}")}


def _hrefs(item_id: str) -> dict[str, str]:
    with open_catalog(get_settings().resolved_catalog_url) as catalog:
        item = catalog.get_item("c", item_id, viewer=SYSTEM)
    return {key: str(asset["href"]) for key, asset in item["assets"].items()}


def _href(item_id: str) -> str:
    return _hrefs(item_id)["data"]


def test_reingesting_a_changed_source_leaves_exactly_one_version_and_crash_leftovers_are_swept(
    store_kind: str, tmp_path: Path, clean_env: Path
) -> None:
    source = samples.make_geotiff(tmp_path / "in")
    item_id = "kaguya_tc_ortho_n05e020"
    store = Store.from_settings(get_settings())
    _ingest(source)
    (first,) = _versions(store, item_id)

    with rasterio.open(source, "r+") as ds:  # a reprocessed product: one pixel differs
        band = ds.read(1)
        band[0, 0] = np.iinfo(band.dtype).max - band[0, 0]
        ds.write(band, 1)
    _ingest(source)
    (second,) = _versions(store, item_id)
    assert second != first
    assert _href(item_id) == f"c/{item_id}/{second}/{item_id}.tif"
    with store.open(_href(item_id)) as fh, rasterio.open(fh) as cog:
        assert cog.read(1)[0, 0] == band[0, 0]

    # what a kill between the catalog commit and the delete leaves: the old version (and a
    # temp key of an interrupted upload) beside the new; the next run sweeps both
    stale = f"c/{item_id}/{first}/{item_id}.tif"
    with store.open(_href(item_id)) as fh:
        store.put_bytes(fh.read(), stale)
    store.put_bytes(b"half an upload", f"c/{item_id}/{second}/.tmp-crashed")
    assert _versions(store, item_id) == {first, second}
    _ingest(source)  # unchanged: nothing converted, leftovers gone
    assert _versions(store, item_id) == {second}
    kept = sorted(store.list_keys(f"c/{item_id}"))
    assert kept == sorted(_hrefs(item_id).values())  # the COG, its quicklooks, the original
    assert all(f"/{second}/" in key for key in kept)


def test_running_the_demo_again_writes_nothing(clean_env: Path) -> None:
    env = {**os.environ, "DATACENTER_HOME": str(clean_env), "COLUMNS": "250"}
    runs = [subprocess.run([sys.executable, "-m", "datacenter.cli", "demo", "--no-serve"],
                           capture_output=True, text=True, env=env, timeout=900) for _ in range(2)]  # fmt: skip
    for run in runs:
        assert run.returncode == 0, run.stderr[-4000:]
    first, second = (run.stdout + run.stderr for run in runs)
    assert first.count(" ingested ") >= 11, first
    assert " ingested " not in second, second
    assert second.count(" unchanged ") == first.count(" ingested "), second
    store = clean_env / "store"
    for product in [p for coll in store.iterdir() for p in coll.iterdir()]:
        assert len(list(product.iterdir())) == 1, f"{product} holds {sorted(product.iterdir())}"
