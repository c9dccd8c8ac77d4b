"""A subset cannot take the server down: its size is known on the output grid before any
work (a reprojection at 1e-7 is a quick 413, for a subset and for a job), and a subset whose
client hangs up stops at the next Dask task."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from api.app import create_app
from datacenter.settings import Settings
from tests.api.conftest import serving
from tests.api.subset.conftest import POLAR, SubsetData

Keys = dict[str, dict[str, str]]


@dataclass
class Server:
    url: str
    app: Any
    work: Path


@pytest.fixture(scope="module")
def server(subset_data: SubsetData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("limits")
    settings = Settings(home=root, subset_sync_limit=2 * 1024**3, work_dir=root / "work")
    app = create_app(subset_data.catalog, subset_data.store, settings=settings)
    with serving(app) as url:
        yield Server(url, app, root / "work")


def test_a_reprojection_at_a_tiny_resolution_is_413_at_once_and_grows_nothing(
    server: Server, keys: Keys
) -> None:
    me = psutil.Process()
    before = me.memory_info().rss
    with httpx.Client(base_url=server.url, timeout=30) as http:
        started = time.monotonic()
        sync = http.get(f"collections/lunar/items/{POLAR}/subset",
                        params={"crs": "IAU_2015:30135", "resolution": "1e-7"})
        job = http.post("jobs", json={"ids": [POLAR], "crs": "IAU_2015:30135", "resolution": 1e-7},
                        headers=keys["ESA"])
        took = time.monotonic() - started
    assert sync.status_code == 413 and "even the cap on jobs" in sync.json()["description"]
    assert job.status_code == 413 and "DATACENTER_JOB_MAX_BYTES" in job.json()["description"]
    assert took < 10
    assert me.memory_info().rss - before < 200 * 1024**2  # the server runs in this process


def test_a_subset_whose_client_hangs_up_stops_its_work(server: Server, subset_data: SubsetData) -> None:
    tally = server.app.state.subset_tasks
    start = tally.done
    parts = urlsplit(server.url)
    path = (f"/collections/lunar/items/{POLAR}/subset?crs=IAU_2015:30135&resolution=1.5"
            "&format=netcdf")  # ~370 MB of NetCDF on the server's 2 GiB sync limit
    with socket.create_connection((parts.hostname, parts.port)) as raw:
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        deadline = time.monotonic() + 120
        while tally.done == start or not list(server.work.glob("subset-*")):
            assert time.monotonic() < deadline, "the subset did not start"
            time.sleep(0.05)
    # the client is gone: the work stops within a task or two, and its folder goes
    deadline = time.monotonic() + 60
    while list(server.work.glob("subset-*")):
        assert time.monotonic() < deadline, "the abandoned subset's folder is still there"
        time.sleep(0.1)
    stopped = tally.done
    time.sleep(3)
    assert tally.done == stopped, "tasks still ran after the subset was abandoned"
    (abandoned,) = [e for e in subset_data.catalog.audit_log().query(record=f"lunar/{POLAR}", limit=100_000)
                    if (e.detail or "").startswith("abandoned")]
    assert abandoned.action == "subset" and abandoned.bytes == 0
