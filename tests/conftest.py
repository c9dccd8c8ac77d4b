"""Fixtures shared by every test folder: a clean environment and a data home per test."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TOOLS = REPO.parent / "shared" / "tools"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DATACENTER_* or AWS_* variable leaks in from the machine; HOME points at tmp."""
    for name in list(os.environ):
        if name.startswith(("DATACENTER_", "AWS_")):
            monkeypatch.delenv(name)
    home = tmp_path / "datacenter-home"
    monkeypatch.setenv("DATACENTER_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    from datacenter.settings import get_settings

    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def stac_offline():
    """The shared offline STAC validator (`validate_dict(item) -> list of errors`)."""
    if str(SHARED_TOOLS) not in sys.path:
        sys.path.insert(0, str(SHARED_TOOLS))
    import stac_offline

    extensions = REPO / "docs" / "extensions"  # our own dc: extension's schema, by its $id
    if str(extensions.resolve()) not in map(str, stac_offline.ROOTS):
        stac_offline.add_schema_dir(extensions)
    return stac_offline


@pytest.fixture(scope="session")
def pg_cluster():
    """A throw-away PostgreSQL 15 + PostGIS + pgstac cluster for this session (this worker).

    Started on first use only; fails (never skips) with the reason if it cannot start."""
    from tests.postgres import running_cluster

    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pgstac_dsn(pg_cluster) -> str:
    """The DSN of an empty pgstac database (the worker's shared one, emptied for this test)."""
    return str(pg_cluster.clean_database())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
