"""stac-api-validator, offline (schemas from tests/stac_schemas, by tests/stac_offline.py), against a live server
with every conformance class it can check, Transaction included (with an admin key)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from catalog.sqlite import SQLiteCatalog
from datacenter.storage import Store
from tests import stac_offline
from tests.api.conftest import _collection, add_extra, build_items, serving

EQUATOR = {"type": "Polygon", "coordinates": [[[0, -10], [30, -10], [30, 15], [0, 15], [0, -10]]]}
ADMIN_KEY = "validator-admin-key"


@pytest.fixture
def writable_server(tmp_path) -> Iterator[str]:
    """Its own catalog: the Transaction checks write into `scratch`."""
    catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
    for cid, title in (("lunar-dem", "Lunar elevation models"), ("lunar-images", "Lunar images"),
                       ("scratch", "Scratch space")):
        catalog.upsert_collection(_collection(cid, title))
    items = add_extra(build_items())
    for item in items:  # ranged items carry datetime = their start, as ingest writes them
        props = item["properties"]  # (the validator's Sort checks crash on a null datetime)
        if props.get("datetime") is None and props.get("start_datetime"):
            props["datetime"] = props["start_datetime"]
    catalog.upsert_items(items)
    app = create_app(catalog, Store(str(tmp_path / "store")), admin_keys=[ADMIN_KEY])
    with serving(app) as url:
        yield url
    catalog.close()


def test_stac_api_validator_reports_no_errors_for_every_declared_class(
    writable_server: str, tmp_path
) -> None:
    tool = Path(stac_offline.__file__)
    classes = ["core", "collections", "features", "item-search", "filter", "item-search#sort",
               "item-search#fields", "item-search#query", "features#sort", "features#fields",
               "features#query", "transaction"]
    args = [sys.executable, str(tool), "api-validate", "--root-url", writable_server,
            "--collection", "lunar-images", "--geometry", json.dumps(EQUATOR),
            "--auth-bearer-token", ADMIN_KEY, "--transaction-collection", "scratch",
            "--fields-nested-property", "properties.gsd",
            "--query-comparison-field", "gsd", "--query-eq-value", "100",
            "--query-neq-value", "100", "--query-lt-value", "200", "--query-lte-value", "100",
            "--query-gt-value", "50", "--query-gte-value", "100",
            "--query-substring-field", "platform", "--query-starts-with-value", "chan",
            "--query-ends-with-value", "-2", "--query-contains-value", "an",
            "--query-in-field", "instruments", "--query-in-values", "lola,ccd"]
    for name in classes:
        args += ["--conformance", name]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    report = run.stdout + run.stderr
    assert "Errors: none" in report, report[-6000:]
    assert "returned 0 results" not in report, "a validator check found no data to run on"
    assert run.returncode == 0, report[-4000:]
