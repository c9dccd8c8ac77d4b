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


def test_server_on_a_sqlite_catalog_url_keeps_jobs_in_the_catalog_file(clean_env: Path) -> None:
    app = app_from_settings(Settings(catalog_url=f"sqlite:///{clean_env / 'catalog.sqlite'}"))
    with serving(app) as url:
        assert httpx.get(url + "collections", timeout=10).status_code == 200
    assert not (clean_env / "jobs.sqlite").exists()
