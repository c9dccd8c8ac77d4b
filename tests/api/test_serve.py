"""`datacenter serve`'s app (`app_from_settings`) on each backend named by the settings."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.app import app_from_settings
from datacenter.settings import Settings
from tests.api.conftest import serving


def test_server_on_a_postgresql_catalog_url_starts_and_keeps_jobs_in_home(pgstac_dsn: str, clean_env: Path) -> None:
    app = app_from_settings(Settings(catalog_url=pgstac_dsn))
    with serving(app) as url:
        assert httpx.get(url + "collections", timeout=10).json()["collections"] == []
    assert (clean_env / "jobs.sqlite").exists()


def test_server_on_a_sqlite_catalog_url_keeps_jobs_in_the_catalog_file(clean_env: Path) -> None:
    app = app_from_settings(Settings(catalog_url=f"sqlite:///{clean_env / 'catalog.sqlite'}"))
    with serving(app) as url:
        assert httpx.get(url + "collections", timeout=10).status_code == 200
    assert not (clean_env / "jobs.sqlite").exists()
