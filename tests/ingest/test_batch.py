"""The batch engine as operators use it: `datacenter ingest` in a real subprocess, killed
with SIGKILL mid-batch and re-run; corrupt products among good ones; manifests; re-runs
that write nothing; collections from a definition file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest import samples

runner = CliRunner()


def _products(root: Path) -> Path:
    folder = root / "batch"
    samples.make_geotiff(folder / "geotiff")
    samples.make_pds4_south_polar_dem(folder / "pds4", size=256)
    samples.make_pds4_spectral_cube(folder / "cube")
    samples.make_isis3_spectral_cube(folder / "isis")
    samples.make_lpr_radargram(folder / "lpr")
    samples.make_apxs_spectra(folder / "apxs")
    samples.make_diviner_series(folder / "diviner")
    samples.make_lander_series_csv(folder / "lander")
    samples.make_vnis_spectra_csv(folder / "vnis")
    samples.make_cf_netcdf(folder / "netcdf")
    return folder


EXPECTED_IDS = {
    "kaguya_tc_ortho_n05e020", "ldem_87s_40m", "m3g20090203_l2_cube", "ce1_iim_south_cube",
    "ce4_gras_lpr-2b_sci_n_20190103_0001", "ce4_apxs_sci_20190104_0001", "dlre_rdr_201007050600_c7",
    "ce4_lnd_series_20190103", "ce4_vnis_spectra_0001", "diviner_polar_tbol_2011",
}  # fmt: skip


def _ingest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "datacenter.cli", "ingest", *args]


def _store_and_items(collection: str) -> tuple[Store, list[dict]]:
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as catalog:
        items = catalog.search(SearchQuery(collections=[collection], limit=1000, viewer=SYSTEM)).items
    return Store.from_settings(settings), items


def assert_exactly_one_verified_copy(collection: str, expected_ids: set[str]) -> None:
    """Every item's assets are in the store with the recorded checksum; nothing else is."""
    store, items = _store_and_items(collection)
    assert {i["id"] for i in items} == expected_ids
    referenced: set[str] = set()
    for item in items:
        for asset in item["assets"].values():
            key = asset["href"]
            if "dc:manifest_sha256" in asset:
                sha, size = store.sha256_tree(key)
                assert sha == asset["dc:manifest_sha256"]
                referenced.update(store.list_keys(key))
            else:
                assert "1220" + store.sha256(key) == asset["file:checksum"]
                size = store.info(key).size
                referenced.add(key)
            assert size == asset["file:size"]
    stored = set(store.list_keys(collection))
    assert not [k for k in stored if "/.tmp-" in k or k.split("/")[-1].startswith(".tmp-")]
    assert stored == referenced


def test_a_batch_killed_mid_way_and_re_run_holds_one_verified_copy_of_everything(tmp_path, clean_env):
    folder = _products(tmp_path)
    report = tmp_path / "first.jsonl"
    env = {**os.environ, "DATACENTER_HOME": str(clean_env)}
    proc = subprocess.Popen(
        _ingest_cmd(str(folder), "-c", "batch", "--workers", "1", "--report", str(report)),
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "first.log").open("w"),
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if report.exists() and report.read_text().count("\n") >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, (tmp_path / "first.log").read_text()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done_before_kill = report.read_text().count("\n")
    assert 2 <= done_before_kill < len(EXPECTED_IDS), "the kill must land mid-batch"

    again = tmp_path / "second.jsonl"
    rerun = subprocess.run(_ingest_cmd(str(folder), "-c", "batch", "--report", str(again)),
                           env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    lines = [json.loads(line) for line in again.read_text().splitlines()]
    assert len(lines) == len(EXPECTED_IDS)
    assert {r["status"] for r in lines} <= {"ingested", "unchanged"}
    assert sum(r["status"] == "unchanged" for r in lines) >= done_before_kill
    assert_exactly_one_verified_copy("batch", EXPECTED_IDS)


def test_re_running_a_batch_writes_nothing(tmp_path, clean_env):
    folder = _products(tmp_path)
    app = load_commands()
    first = runner.invoke(app, ["ingest", str(folder), "-c", "batch"])
    assert first.exit_code == 0, first.output
    store, _ = _store_and_items("batch")
    before = {k: os.stat(store.path(k)).st_mtime_ns for k in store.list_keys("batch")}
    report = tmp_path / "again.jsonl"
    second = runner.invoke(app, ["ingest", str(folder), "-c", "batch", "--report", str(report)])
    assert second.exit_code == 0, second.output
    assert {json.loads(line)["status"] for line in report.read_text().splitlines()} == {"unchanged"}
    assert {k: os.stat(store.path(k)).st_mtime_ns for k in store.list_keys("batch")} == before
    assert_exactly_one_verified_copy("batch", EXPECTED_IDS)


def test_a_changed_product_replaces_its_item_and_assets(tmp_path, clean_env):
    folder = tmp_path / "p"
    csv = samples.make_lander_series_csv(folder)
    app = load_commands()
    assert runner.invoke(app, ["ingest", str(csv), "-c", "lander"]).exit_code == 0
    _, [old] = _store_and_items("lander")
    csv.write_text(csv.read_text().rstrip("\n") + "\n2019-01-03T08:00:00Z,295.0,61.0\n")
    assert runner.invoke(app, ["ingest", str(csv), "-c", "lander"]).exit_code == 0
    _, [new] = _store_and_items("lander")
    assert new["assets"]["zarr"]["href"] != old["assets"]["zarr"]["href"]
    assert new["properties"]["end_datetime"] == "2019-01-03T08:00:00Z"
    assert_exactly_one_verified_copy("lander", {"ce4_lnd_series_20190103"})


def test_corrupt_products_are_quarantined_with_reasons_and_the_exit_code_says_so(tmp_path, clean_env):
    folder = tmp_path / "mixed"
    samples.make_lander_series_csv(folder)
    samples.make_apxs_spectra(folder / "apxs")
    truncated = samples.make_lpr_radargram(folder / "lpr")
    data = truncated.parent / "ce4_gras_lpr-2b_sci_n_20190103_0001.2B"
    data.write_bytes(data.read_bytes()[:1000])
    impossible = samples.make_csv_with_impossible_position(folder / "bad-site")
    no_time = samples.make_csv_without_time(folder / "no-time")
    unknown = folder / "notes.csv"
    unknown.write_text("# kind: cube\ntime,x\n2019-01-01T00:00:00Z,1\n")
    broken_nc = folder / "broken.nc"
    broken_nc.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    report = tmp_path / "report.jsonl"
    result = runner.invoke(load_commands(), ["ingest", str(folder), "-c", "mixed", "--report", str(report)])
    assert result.exit_code == 1
    lines = {Path(r["path"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert {n for n, r in lines.items() if r["status"] == "ingested"} == {
        "ce4_lnd_series_20190103.csv", "ce4_apxs_sci_20190104_0001.xml"}
    reasons = {n: r["reason"] for n, r in lines.items() if r["status"] == "failed"}
    assert "truncated" in reasons[truncated.name] and "1000 bytes" in reasons[truncated.name]
    assert "impossible position" in reasons[impossible.name] and "-145" in reasons[impossible.name]
    assert "without a time field" in reasons[no_time.name]
    assert "expected series or spectra" in reasons[unknown.name]
    assert "broken.nc" in reasons[broken_nc.name]
    for name, r in lines.items():
        assert set(r) >= {"id", "status", "reason", "assets", "bytes", "seconds"}, name
    assert "quarantined" in result.output
    assert_exactly_one_verified_copy("mixed", {"ce4_lnd_series_20190103", "ce4_apxs_sci_20190104_0001"})


def test_a_manifest_names_collections_and_overrides_per_product(tmp_path, clean_env):
    csv = samples.make_lander_series_csv(tmp_path / "a")
    spectra = samples.make_vnis_spectra_csv(tmp_path / "b")
    manifest = tmp_path / "tonight.jsonl"
    manifest.write_text(
        json.dumps({"path": "a/" + csv.name, "collection": "lander", "overrides": {"title": "LND series"}}) + "\n"
        + json.dumps({"path": "b/" + spectra.name, "collection": "rover", "processing_level": "2B"}) + "\n"
    )  # fmt: skip
    result = runner.invoke(load_commands(), ["ingest", "--manifest", str(manifest)])
    assert result.exit_code == 0, result.output
    _, [lander] = _store_and_items("lander")
    _, [rover] = _store_and_items("rover")
    assert lander["properties"]["title"] == "LND series"
    assert rover["properties"]["processing:level"] == "2B"


def test_collections_create_sets_defaults_and_summaries_grow_with_items(tmp_path, clean_env):
    definition = tmp_path / "ce4.yaml"
    definition.write_text(
        "id: ce4-lander\ndescription: Chang'e-4 lander products\nlicense: CC-BY-4.0\n"
        "providers: [{name: CNSA, roles: [producer]}]\nmission: Chang'e-4\ninstruments: [LND]\n"
        "access: {owner: cnsa, level: partners, releasable_to: [esa]}\n"
    )
    app = load_commands()
    result = runner.invoke(app, ["collections", "create", str(definition)])
    assert result.exit_code == 0, result.output
    samples.make_lander_series_csv(tmp_path / "p")
    samples.make_vnis_spectra_csv(tmp_path / "p")
    assert runner.invoke(app, ["ingest", str(tmp_path / "p"), "-c", "ce4-lander"]).exit_code == 0
    with open_catalog(get_settings().resolved_catalog_url) as catalog:
        coll = catalog.get_collection("ce4-lander", viewer=SYSTEM)
    assert coll["license"] == "CC-BY-4.0" and coll["providers"][0]["name"] == "CNSA"
    assert coll["dc:owner"] == "cnsa" and coll["dc:releasable_to"] == ["esa"]
    assert coll["summaries"]["instruments"] == ["LND", "VNIS"]
    assert coll["summaries"]["platform"] == ["Chang'e-4 lander", "Yutu-2 rover"] or set(
        coll["summaries"]["platform"]) == {"Chang'e-4 lander", "Yutu-2 rover"}
    bbox = coll["extent"]["spatial"]["bbox"][0]
    assert bbox[0] == pytest.approx(177.5991) and bbox[1] == pytest.approx(-45.4446)
    assert coll["extent"]["temporal"]["interval"][0][0].startswith("2019-01-03T03:00:00")


def test_a_collection_definition_without_a_license_is_refused_by_name(tmp_path, clean_env):
    definition = tmp_path / "c.json"
    definition.write_text(json.dumps({"id": "c", "description": "x"}))
    result = runner.invoke(load_commands(), ["collections", "create", str(definition)])
    assert result.exit_code != 0
    assert "lacks license" in str(result.exception)
