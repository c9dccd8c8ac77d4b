"""`datacenter serve`'s app (`app_from_settings`) on each backend named by the settings."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.app import app_from_settings
from catalog import open_catalog, open_job_store
from catalog.jobs import Job, JobStatus, now_utc
from datacenter.settings import Settings
from tests.api.conftest import serving


def test_server_on_a_postgresql_catalog_url_shares_jobs_in_the_database(
    pgstac_dsn: str, clean_env: Path
) -> None:
    """Jobs of another live replica (fresh heartbeat) stay running when this one starts;
    an orphan (no runner) is failed; nothing is kept in the home folder."""
    with open_catalog(pgstac_dsn) as cat:
        key = cat.partner_store().add_partner("ESA").secret_text
    with open_job_store(pgstac_dsn) as jobs:
        jobs.create(Job(id="elsewhere", owner="ESA", request={}, status=JobStatus.RUNNING,
                        runner="api-2:41:f00d", heartbeat=now_utc()))
        jobs.create(Job(id="orphan", owner="ESA", request={}, status=JobStatus.RUNNING))
    app = app_from_settings(Settings(catalog_url=pgstac_dsn))
    with serving(app) as url:
        assert httpx.get(url + "collections", timeout=10).json()["collections"] == []
        listed = httpx.get(url + "jobs", headers={"X-API-Key": key}, timeout=10).json()["jobs"]
        assert {j["jobID"]: j["status"] for j in listed} == {"elsewhere": "running", "orphan": "failed"}
    assert not (clean_env / "jobs.sqlite").exists()


def test_server_on_a_sqlite_catalog_url_keeps_jobs_beside_the_catalog_file(clean_env: Path) -> None:
    app = app_from_settings(Settings(catalog_url=f"sqlite:///{clean_env / 'catalog.sqlite'}"))
    with serving(app) as url:
        assert httpx.get(url + "collections", timeout=10).status_code == 200
    assert (clean_env / "catalog.jobs.sqlite").exists()
    assert not (clean_env / "jobs.sqlite").exists()


def test_serve_with_workers_answers_from_several_processes_sharing_one_catalog(clean_env: Path) -> None:
    """`datacenter serve --workers 2`: two server processes on one port, each its own app over
    the same catalog; a key added while they run is valid on whichever answers."""
    import os
    import re
    import subprocess
    import sys
    import time

    from tests.conftest import free_port

    port = free_port()
    clean_env.mkdir(parents=True, exist_ok=True)
    log = clean_env / "serve.log"
    env = {**os.environ, "DATACENTER_HOME": str(clean_env)}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "datacenter.cli", "serve", "--port", str(port),
                                 "--workers", "2"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) < 2 or \
                "Application startup complete" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        with open_catalog(f"sqlite:///{clean_env / 'catalog.sqlite'}") as cat:
            key = cat.partner_store().add_partner("ESA").secret_text
        with httpx.Client(base_url=url, timeout=10) as http:
            answers = [http.get("collections", headers={"X-API-Key": key}) for _ in range(20)]
        assert [r.status_code for r in answers] == [200] * 20
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) == 2
