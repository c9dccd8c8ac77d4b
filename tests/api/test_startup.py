"""What a newcomer sees first: `datacenter --version`, a clean start-up log, and a landing
page whose `stac_version` is the one its items carry (1.1.0)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from catalog import open_catalog
from datacenter import STAC_VERSION, __version__
from datacenter.storage import Store
from ingest import samples
from ingest.pipeline import ingest_paths
from tests.conftest import free_port


def _dc(*args: str, **env: str) -> list[str]:
    return [sys.executable, "-m", "datacenter.cli", *args]


def test_version_option_prints_the_version_and_exits_zero() -> None:
    run = subprocess.run(_dc("--version"), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == __version__


def test_served_landing_page_collection_and_item_say_stac_1_1_0_and_startup_log_has_no_warning(
    tmp_path: Path, clean_env: Path
) -> None:
    from datacenter.settings import get_settings

    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as catalog:
        report = ingest_paths([samples.make_geotiff(tmp_path / "in")], collection_id="mine",
                              catalog=catalog, store=Store.from_settings(settings),
                              access={"dc:access": "public"})  # fmt: skip
        assert report.ok, report.failed
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(_dc("serve", "--port", str(port)), stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "DATACENTER_HOME": str(clean_env)})  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                landing = httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"datacenter serve did not answer:\n{log.read_text()}")
                time.sleep(0.3)
        items = httpx.get(url + "collections/mine/items", timeout=10).json()["features"]
        collection = httpx.get(url + "collections/mine", timeout=10).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert STAC_VERSION == "1.1.0"
    assert landing.json()["stac_version"] == STAC_VERSION
    assert [i["stac_version"] for i in items] == [STAC_VERSION]
    assert collection["stac_version"] == STAC_VERSION
    text = log.read_text()
    assert "Application startup complete" in text, text  # the log was captured
    assert "WARNING" not in text.upper().replace("WARNINGS", ""), text
    assert "default values" not in text, text
