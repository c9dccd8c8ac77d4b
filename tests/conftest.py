"""Fixtures shared by every test folder: a clean environment and a data home per test."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: CI machines are shared, and a slow example is not a wrong one
# (speed is measured in bench/, never in tests).
settings.register_profile("datacenter", deadline=None)
settings.load_profile("datacenter")

REPO = Path(__file__).resolve().parents[1]

# Every server a test talks to listens on loopback: a machine's HTTP(S)_PROXY must never
# carry those requests (httpx, requests, curl, GDAL and Chromium all read these variables).
_LOOPBACK = "127.0.0.1,localhost,::1"
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, (os.environ.get(_name), _LOOPBACK)))


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
    """The offline STAC validator, tests/stac_offline.py (`validate_dict(item) -> list of errors`);
    schemas from tests/stac_schemas/ and our own dc: extension from docs/extensions/."""
    from tests import stac_offline

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


# --- a real S3 server (SeaweedFS), see tests/s3server.py -------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """One SeaweedFS S3 server per test worker, stopped at the end of the session."""
    from tests.s3server import S3Server

    server = S3Server(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A fresh, empty bucket on the session's S3 server."""
    import uuid

    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_server.make_bucket(name)
    return name


@pytest.fixture
def own_s3_server(tmp_path: Path):
    """An S3 server of this test's own, for tests that stop and restart it (outages)."""
    from tests.s3server import S3Server

    server = S3Server(tmp_path / "seaweedfs")
    server.start()
    yield server
    server.stop()


def use_s3(monkeypatch: pytest.MonkeyPatch, server, bucket: str, prefix: str = "dc") -> str:
    """Point the settings at `s3://bucket/prefix` on `server` (as an operator would); its URL."""
    from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY

    url = f"s3://{bucket}/{prefix}"
    monkeypatch.setenv("DATACENTER_STORE_URL", url)
    monkeypatch.setenv("DATACENTER_S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("DATACENTER_S3_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    from datacenter.settings import get_settings

    get_settings.cache_clear()
    return url


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on a local-folder store and on an S3 store (settings set accordingly)."""
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        use_s3(monkeypatch, server, request.getfixturevalue("s3_bucket"))
    return str(request.param)
