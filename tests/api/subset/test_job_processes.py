"""A large job is written by a worker process at a lower priority (`api.subset.job_process`):
the same file as on the API's own threads; cancelling it kills that process; a process that
dies fails its job with a reason. Driven over HTTP against served apps (`serve_copy`), the
processes seen with psutil."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
import xarray as xr

from datacenter.settings import Settings
from tests.api.subset.conftest import POLAR, Served, SubsetData, serve_copy
from tests.api.subset.test_jobs import wait_finished

NICE = 7  # DATACENTER_JOB_NICE for these servers: a job process is recognised by it
SLOW = {"ids": [POLAR], "crs": "IAU_2015:30135", "resolution": 5.0, "format": "netcdf"}  # ~32 MiB


@contextmanager
def served_with(subset_data: SubsetData, tmp_path_factory: pytest.TempPathFactory,
                **settings: Any) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("jobs")
    backend = SimpleNamespace(param="sqlite")  # serve_copy reads the backend from `request.param`
    with serve_copy(backend, subset_data, root, Settings(home=root, job_small_bytes=0, **settings)) as served:
        yield served


@pytest.fixture(scope="module")
def in_processes(subset_data: SubsetData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Every job in a worker process (`job_small_bytes=0`)."""
    with served_with(subset_data, tmp_path_factory, job_nice=NICE) as served:
        yield served


@pytest.fixture(scope="module")
def in_threads(subset_data: SubsetData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_with(subset_data, tmp_path_factory, job_processes=False) as served:
        yield served


def job_processes() -> list[psutil.Process]:
    """This test process's descendants at the job niceness (the job worker processes)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.nice() == NICE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def submit(http: httpx.Client, served: Served, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A job of a new partner of its own: its Location and the partner's header."""
    _pid, key = served.partner()
    created = http.post("jobs", json=body, headers=key)
    assert created.status_code == 201, created.text
    return created.headers["Location"], key


def wait_for_a_job_process(http: httpx.Client, location: str, key: dict[str, str]) -> psutil.Process:
    deadline = time.monotonic() + 60
    while not (found := job_processes()):
        status = http.get(location, headers=key).json()["status"]
        assert status in ("accepted", "running") and time.monotonic() < deadline, status
        time.sleep(0.02)
    return found[0]


def result_values(http: httpx.Client, location: str, key: dict[str, str], path: Path) -> np.ndarray:
    info = wait_finished(http, location, key)
    assert info["status"] == "successful", info
    (result,) = http.get(f"{location}/results", headers=key).json()["files"]
    path.write_bytes(http.get(result["href"], headers=key).content)
    with xr.open_dataset(path) as ds:
        (name,) = ds.data_vars
        return ds[name].values


def test_a_large_job_is_written_by_a_lower_priority_process_with_the_same_values_as_on_threads(
    in_processes: Served, in_threads: Served, tmp_path: Path
) -> None:
    with httpx.Client(base_url=in_processes.url, timeout=60) as http:
        location, key = submit(http, in_processes, SLOW)
        worker = wait_for_a_job_process(http, location, key)
        assert worker.pid != os.getpid() and worker.nice() == NICE
        ours = result_values(http, location, key, tmp_path / "process.nc")
    with httpx.Client(base_url=in_threads.url, timeout=60) as http:
        location, key = submit(http, in_threads, SLOW)
        assert not job_processes()  # DATACENTER_JOB_PROCESSES=false: the API's threads write it
        theirs = result_values(http, location, key, tmp_path / "threads.nc")
    assert ours.shape == theirs.shape and ours.size > 1_000_000
    np.testing.assert_array_equal(ours, theirs)


def test_cancelling_a_large_job_kills_its_worker_process(in_processes: Served) -> None:
    with httpx.Client(base_url=in_processes.url, timeout=60) as http:
        location, key = submit(http, in_processes, SLOW)
        worker = wait_for_a_job_process(http, location, key)
        assert http.delete(location, headers=key).json()["status"] == "dismissed"
        worker.wait(timeout=10)  # psutil.TimeoutExpired if it still runs
        time.sleep(0.5)
        assert http.get(location, headers=key).json()["status"] == "dismissed"
        assert http.get(f"{location}/results", headers=key).status_code == 409


def test_a_job_whose_worker_process_dies_fails_with_the_reason(in_processes: Served) -> None:
    with httpx.Client(base_url=in_processes.url, timeout=60) as http:
        location, key = submit(http, in_processes, SLOW)
        worker = wait_for_a_job_process(http, location, key)
        worker.kill()  # as the kernel's OOM killer would
        info = wait_finished(http, location, key)
        assert info["status"] == "failed"
        assert "worker process ended without writing its file (exit code -9)" in info["error"]
        assert http.get("search", headers=key).status_code == 200  # the server goes on
