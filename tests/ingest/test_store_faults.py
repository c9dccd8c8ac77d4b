"""Store faults met for real: an S3 endpoint that accepts connections and never answers,
and a disk that fills up during ingest (a small tmpfs mounted for the test)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.errors import StorageError
from datacenter.storage import Store
from ingest import samples
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A TCP server that accepts every connection and never sends a byte (what an S3 gateway
    does whose storage servers are gone): its http:// URL."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _ingest(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "datacenter.cli", "ingest", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATACENTER_", "AWS_", "TMPDIR"))}
    env.update({"DATACENTER_HOME": os.environ["DATACENTER_HOME"], **extra})
    return env


def _items(home: Path) -> list[dict]:
    with open_catalog(f"sqlite:///{home / 'catalog.sqlite'}") as cat:
        return cat.search(SearchQuery(limit=100, viewer=SYSTEM)).items


def test_every_store_call_to_a_silent_endpoint_fails_within_the_timeout(silent_endpoint, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    store = Store("s3://bucket/dc", s3_endpoint_url=silent_endpoint, s3_region=REGION, timeout=1, retries=4)
    local = Path(__file__)
    calls = {
        "info": lambda: store.info("a/b.tif"), "list": lambda: store.list_keys("a"),
        "sha256": lambda: store.sha256("a/b.tif"), "delete": lambda: store.delete("a/b.tif"),
        "put_bytes": lambda: store.put_bytes(b"x" * 1000, "a/c.bin"),
        "put_file": lambda: store.put_file(local, "a/d.py"),
        "range": lambda: next(store.iter_range("a/b.tif", 0, 99)),
    }  # fmt: skip
    for name, call in calls.items():
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"object store at s3://bucket/dc .* did not answer within 1 s"):
            call()
        # one request or two (an upload and its check), never the retries nor a hang
        assert time.monotonic() - started < 8, name


def test_ingest_into_a_silent_store_fails_the_product_and_does_not_hang(silent_endpoint, tmp_path, clean_env) -> None:
    label = samples.make_pds3_image(tmp_path / "in")
    env = _env(DATACENTER_STORE_URL="s3://bucket/dc", DATACENTER_S3_ENDPOINT_URL=silent_endpoint,
               DATACENTER_S3_REGION=REGION, DATACENTER_STORE_TIMEOUT="1",
               AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)  # fmt: skip
    report = tmp_path / "report.jsonl"
    started = time.monotonic()
    done = _ingest([str(label), "-c", "moon", "--report", str(report)], env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 60
    (line,) = [json.loads(r) for r in report.read_text().splitlines()]
    assert line["status"] == "failed"
    assert f"object store at s3://bucket/dc (endpoint {silent_endpoint}) did not answer within 1 s" in line["reason"]
    assert "Traceback" not in done.stderr
    assert _items(clean_env) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 384 KiB tmpfs mounted for this test (needs root, as CI runs): a disk that fills up."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=384k", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test (run the tests as root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _ours(folder: Path) -> list[str]:
    """What is under `folder` apart from Dask's scratch space (not the ingest's to clean)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if "dask-scratch-space" not in p.parts)  # fmt: skip


def test_a_full_store_is_reported_as_full_and_leaves_no_version_folder(small_disk, tmp_path, clean_env) -> None:
    label = samples.make_pds3_image(tmp_path / "in")  # 450 KiB of data: more than the disk holds
    store = small_disk / "store"
    report = tmp_path / "report.jsonl"
    done = _ingest([str(label), "-c", "moon", "--report", str(report)], _env(DATACENTER_STORE_URL=str(store)))
    assert done.returncode == 1, done.stderr
    (line,) = [json.loads(r) for r in report.read_text().splitlines()]
    assert f"the store {store} is full (No space left on device)" in line["reason"]
    assert "truncated" not in line["reason"] and "corrupt" not in line["reason"]
    assert _ours(store) in ([], ["moon"]), "no object, temporary file or version folder is left"
    assert _items(clean_env) == []


def test_a_full_temporary_folder_is_reported_as_such_not_as_a_bad_product(small_disk, tmp_path, clean_env) -> None:
    noise = np.random.default_rng(1).random((600, 600)).astype("float32")  # 1.4 MiB, incompressible
    # two products that each need more temporary room than there is (their COGs are written
    # there first), so each fails on its own whichever order or process they run in (a
    # cube's Zarr goes straight to the store and needs none)
    samples.make_geotiff(tmp_path / "in" / "cog", name="noise", data=noise)
    samples.make_geotiff(tmp_path / "in" / "cog2", name="noise2", data=noise[::-1].copy())
    report = tmp_path / "report.jsonl"
    done = _ingest([str(tmp_path / "in"), "-c", "moon", "--report", str(report)], _env(TMPDIR=str(small_disk)))
    assert done.returncode == 1, done.stderr
    lines = [json.loads(r) for r in report.read_text().splitlines()]
    assert len(lines) == 2 and all(r["status"] == "failed" for r in lines)
    for line in lines:
        assert "no space left" in line["reason"] and str(small_disk) in line["reason"], line["reason"]
        assert "truncated" not in line["reason"] and "re-download" not in line["reason"]
    assert _ours(small_disk) == []
    assert _items(clean_env) == []
    assert not [p for p in (clean_env / "store").rglob("*") if p.is_file()]
