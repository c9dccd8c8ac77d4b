"""stac-api-validator, offline (schemas from ../shared/stac-schemas), against the live server."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import SHARED_TOOLS

EQUATOR = {"type": "Polygon", "coordinates": [[[0, -10], [30, -10], [30, 15], [0, 15], [0, -10]]]}


def test_stac_api_validator_reports_no_errors(live_server: str, tmp_path) -> None:
    tool = SHARED_TOOLS / "stac_offline.py"
    assert tool.is_file(), f"the shared offline validator is missing at {tool}"
    run = subprocess.run(
        [
            sys.executable, str(tool), "api-validate", "--root-url", live_server,
            "--conformance", "core", "--conformance", "collections",
            "--conformance", "features", "--conformance", "item-search",
            "--collection", "lunar-images", "--geometry", json.dumps(EQUATOR),
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    report = run.stdout + run.stderr
    assert "Errors: none" in report, report[-4000:]
    assert "returned 0 results" not in report, "a validator check found no data to run on"
    assert run.returncode == 0, report[-4000:]
