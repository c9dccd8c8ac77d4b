"""Subset jobs over HTTP: life cycle, ownership, cancel, restart, expiry, operator CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import xarray as xr
import zarr

from api.app import create_app
from catalog.jobs import Job, JobStatus, JobStore, now_utc
from catalog.sqlite.jobs import SQLiteJobStore
from datacenter.settings import Settings
from tests.api.conftest import serving
from tests.api.subset.conftest import CUBE, POLAR, SECRET, SubsetData

Keys = dict[str, dict[str, str]]  # partner id -> Authorization header (fixture `keys`)


@pytest.fixture
def http(jobs_server: str) -> Iterator[httpx.Client]:
    """A client of the server whose jobs live in each job store in turn."""
    with httpx.Client(base_url=jobs_server, timeout=60) as client:
        yield client


def wait_finished(http: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = http.get(url, headers=headers).json()
        if info["status"] in ("successful", "failed", "dismissed"):
            return info
        time.sleep(0.1)
    raise AssertionError(f"job {url} did not finish: {info}")


def test_a_job_runs_to_results_that_only_its_owner_can_read_and_download(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path, keys: Keys
) -> None:
    ESA, JAXA = keys["ESA"], keys["JAXA"]
    body = {"collections": ["lunar"], "bbox": [-180, -90, 180, -89.8], "format": "netcdf"}
    created = http.post("jobs", json=body, headers=ESA)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.endswith(f"/jobs/{created.json()['jobID']}")
    assert created.json()["status"] in ("accepted", "running", "successful")

    info = wait_finished(http, location, ESA)
    assert info["status"] == "successful", info
    assert info["progress"] == 100 and info["started"] and info["finished"] and info["expires"]

    results = http.get(f"{location}/results", headers=ESA).json()
    (result,) = results["files"]  # the polar bbox matches the polar DEM (and its secret twin is hidden)
    assert result["name"] == f"{POLAR}.nc"
    whole = http.get(result["href"], headers=ESA)
    assert whole.status_code == 200 and len(whole.content) == result["file:size"]
    assert result["file:checksum"] == "1220" + hashlib.sha256(whole.content).hexdigest()
    part = http.get(result["href"], headers={**ESA, "Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == whole.content[:8]
    (tmp_path / "r.nc").write_bytes(whole.content)
    with xr.open_dataset(tmp_path / "r.nc") as ds:
        assert ds.sizes["x"] == 304 and json.loads(ds.attrs["source_items"]) == [f"lunar/{POLAR}"]

    # another partner: the job does not exist for them
    for method, url in (("GET", location), ("GET", f"{location}/results"), ("GET", result["href"]),
                        ("DELETE", location)):
        assert http.request(method, url, headers=JAXA).status_code == 404
    assert http.get(location).status_code == 404  # anonymous
    assert all(j["jobID"] != info["jobID"] for j in http.get("jobs", headers=JAXA).json()["jobs"])
    assert any(j["jobID"] == info["jobID"] for j in http.get("jobs", headers=ESA).json()["jobs"])

    # the owner dismisses it: the files go away
    dismissed = http.delete(location, headers=ESA)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert http.get(result["href"], headers=ESA).status_code == 409
    assert not subset_data.store.exists(f"jobs/{info['jobID']}/{POLAR}.nc")


def test_items_on_one_grid_merge_into_one_mosaic_and_others_give_one_file_each(
    http: httpx.Client, tmp_path: Path, keys: Keys
) -> None:
    cnsa = keys["CNSA"]  # owns the secret twin of the polar DEM (same grid)
    body = {"ids": [POLAR, SECRET, CUBE], "format": "zarr", "step": 8}
    created = http.post("jobs", json=body, headers=cnsa)
    assert created.status_code == 201, created.text
    info = wait_finished(http, created.headers["Location"], cnsa)
    assert info["status"] == "successful", info
    files = http.get(f"{created.headers['Location']}/results", headers=cnsa).json()["files"]
    assert sorted(f["name"] for f in files) == [f"{CUBE}.zarr.zip", "mosaic-1-2-items.zarr.zip"]
    mosaic = next(f for f in files if f["name"].startswith("mosaic"))
    (tmp_path / "m.zip").write_bytes(http.get(mosaic["href"], headers=cnsa).content)
    with xr.open_zarr(zarr.storage.ZipStore(tmp_path / "m.zip", mode="r"), consolidated=False) as ds:
        assert ds.sizes["x"] == 64 and sorted(json.loads(ds.attrs["source_items"])) == [
            f"lunar/{POLAR}", f"lunar/{SECRET}"]


def test_a_dismissed_job_stays_dismissed_and_keeps_no_files(
    http: httpx.Client, subset_data: SubsetData, keys: Keys
) -> None:
    ESA = keys["ESA"]
    created = http.post("jobs", json={"ids": [CUBE], "format": "netcdf"}, headers=ESA)
    location = created.headers["Location"]
    assert http.delete(location, headers=ESA).json()["status"] == "dismissed"
    time.sleep(1.0)  # whatever the runner was doing, it must not revive the job
    info = http.get(location, headers=ESA).json()
    assert info["status"] == "dismissed"
    assert http.get(f"{location}/results", headers=ESA).status_code == 409
    assert not subset_data.store.exists(f"jobs/{info['jobID']}/{CUBE}.nc")


def test_job_requests_are_checked_before_a_job_exists(http: httpx.Client, keys: Keys) -> None:
    ESA = keys["ESA"]
    anonymous = http.post("jobs", json={"ids": [CUBE]})
    assert anonymous.status_code == 401
    nothing = http.post("jobs", json={"collections": ["lunar"], "ids": ["no-such-item"]}, headers=ESA)
    assert nothing.status_code == 400 and "matches no item" in nothing.json()["description"]
    inverted = http.post("jobs", json={"ids": [CUBE], "bbox": [20, 4, 22, 1]}, headers=ESA)
    assert inverted.status_code == 400 and "inverted" in inverted.json()["description"]
    unknown = http.post("jobs", json={"ids": [CUBE], "variables": ["slope"]}, headers=ESA)
    assert unknown.status_code == 400 and "'slope'" in unknown.json()["description"]


def test_after_a_restart_jobs_are_listed_and_interrupted_ones_have_failed(
    subset_data: SubsetData, tmp_path: Path, keys: Keys, job_store: JobStore
) -> None:
    ESA = keys["ESA"]
    jobs = job_store
    stuck = Job(id="stuck-" + str(time.time_ns()), owner="ESA", request={"ids": [CUBE]},
                status=JobStatus.RUNNING, progress=0.4, runner=None)  # its process is gone
    old = Job(id="old-" + str(time.time_ns()), owner="ESA", request={"ids": [CUBE]},
              status=JobStatus.SUCCESSFUL, progress=1.0, expires=now_utc() - timedelta(hours=1))
    jobs.create(stuck)
    jobs.create(old)
    app = create_app(subset_data.catalog, subset_data.store, settings=Settings(home=tmp_path),
                     jobs=jobs)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        info = http.get(f"jobs/{stuck.id}", headers=ESA).json()
        assert info["status"] == "failed" and "submit it again" in info["error"]
        expired = http.get(f"jobs/{old.id}/results", headers=ESA)
        assert expired.status_code == 404 and "expired" in expired.json()["description"]


def test_operators_list_show_and_cancel_jobs_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    jobs = SQLiteJobStore(home / "catalog.sqlite")
    job = Job(id="cli-job", owner="ESA", request={"ids": [CUBE]})
    jobs.create(job)
    env = {"DATACENTER_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}

    def run(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "datacenter.cli", "jobs", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "cli-job" in run("list") and "accepted" in run("list")
    assert json.loads(run("show", "cli-job"))["owner"] == "ESA"
    assert "dismissed" in run("cancel", "cli-job")
    assert jobs.get("cli-job").status is JobStatus.DISMISSED


def test_values_of_a_job_equal_the_source(
    http: httpx.Client, subset_data: SubsetData, tmp_path: Path, keys: Keys
) -> None:
    ESA = keys["ESA"]
    created = http.post("jobs", json={"ids": [CUBE], "bbox": [24, 0, 26, 1], "bands": ["540"]}, headers=ESA)
    info = wait_finished(http, created.headers["Location"], ESA)
    (result,) = http.get(f"{created.headers['Location']}/results", headers=ESA).json()["files"]
    (tmp_path / "c.nc").write_bytes(http.get(result["href"], headers=ESA).content)
    with xr.open_dataset(tmp_path / "c.nc") as ds:
        expected = subset_data.cube["reflectance"].sel(band=[540.0], x=slice(24, 26), y=slice(1, 0))
        np.testing.assert_array_equal(ds["reflectance"].values, expected.values)
    assert info["status"] == "successful"
