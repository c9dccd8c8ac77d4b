"""A server killed with `kill -9` while it runs a job leaves its work folder behind (its job's
worker process exits on its own); the next start fails the job and removes the folder. A
real `datacenter serve` process, killed for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from catalog.sqlite import SQLiteCatalog
from datacenter.access import SYSTEM
from tests.api.subset.conftest import POLAR, SubsetData
from tests.conftest import free_port

SLOW = {"ids": [POLAR], "crs": "IAU_2015:30135", "resolution": 5.0, "format": "netcdf"}


@contextmanager
def served_process(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "datacenter.cli", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, f"the server exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"the server did not start: {log.read_text()[-2000:]}"
        time.sleep(0.2)
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def job_worker_processes(server_pid: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = []
        for child in psutil.Process(server_pid).children(recursive=True):
            try:
                if child.nice() == 10:
                    found.append(child)
            except psutil.NoSuchProcess:
                pass
        if found:
            return found
        time.sleep(0.05)
    return []


def test_a_job_killed_with_its_server_leaves_no_work_folder_after_the_next_start(
    subset_data: SubsetData, tmp_path: Path
) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert_collection(subset_data.catalog.get_collection("lunar", viewer=SYSTEM))
    catalog.upsert_items([subset_data.catalog.get_item("lunar", POLAR, viewer=SYSTEM)])
    key = {"Authorization": f"Bearer {catalog.partner_store().add_partner('ESA').secret_text}"}
    catalog.close()
    work = tmp_path / "work"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": ":".join(sys.path),
           "HOME": str(tmp_path), "DATACENTER_HOME": str(tmp_path / "home"),
           "DATACENTER_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.sqlite'}",
           "DATACENTER_STORE_URL": str(subset_data.store.root), "DATACENTER_WORK_DIR": str(work)}
    log = tmp_path / "server.log"

    with served_process(env, log) as (proc, url), httpx.Client(base_url=url, timeout=30) as http:
        created = http.post("jobs", json=SLOW, headers=key)
        assert created.status_code == 201, created.text
        job_id = created.json()["jobID"]
        deadline = time.monotonic() + 60
        while not list(work.glob(f"job-{job_id}-*")):  # the runner is writing
            assert time.monotonic() < deadline, http.get(f"jobs/{job_id}", headers=key).json()
            time.sleep(0.05)
        assert http.get(f"jobs/{job_id}", headers=key).json()["status"] == "running"
        workers = job_worker_processes(proc.pid)  # the large job's worker process (at nice 10)
        assert workers, "the large job should be written by a worker process"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=15)  # orphaned, they exit on their own
    assert not alive, f"job worker processes outlived their server: {alive}"
    (left,) = work.glob(f"job-{job_id}-*")  # what the dead runner left
    subset_left = work / f"subset-{proc.pid}-abc123"  # as a synchronous subset of it would
    subset_left.mkdir()
    (subset_left / "part.nc").write_bytes(b"partial")
    other = work / "not-ours"
    other.mkdir()

    with served_process(env, log) as (_proc, url), httpx.Client(base_url=url, timeout=30) as http:
        info = http.get(f"jobs/{job_id}", headers=key).json()
        assert info["status"] == "failed" and "submit it again" in info["error"]
        assert not left.exists() and not subset_left.exists()
        assert other.exists()  # not a work folder: not ours to remove
