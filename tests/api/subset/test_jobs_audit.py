"""Every job and subset decision reaches the audit log, read back as an operator does with
`datacenter audit --json`: who, what, allowed or denied, and the bytes served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from datacenter.cli import load_commands
from datacenter.settings import get_settings
from tests.api.subset.conftest import CUBE, POLAR, SECRET, SubsetData
from tests.api.subset.test_jobs import wait_finished

Keys = dict[str, dict[str, str]]


@pytest.fixture
def http(jobs_server: str) -> Iterator[httpx.Client]:
    """A client of the server whose jobs live in each job store in turn."""
    with httpx.Client(base_url=jobs_server, timeout=60) as client:
        yield client
runner = CliRunner()


@pytest.fixture
def audit_cli(subset_data: SubsetData, monkeypatch: pytest.MonkeyPatch):
    """`datacenter audit --json ARGS` on the subset server's catalog, as parsed events."""
    monkeypatch.setenv("DATACENTER_CATALOG_URL", f"sqlite:///{subset_data.catalog.path}")
    get_settings.cache_clear()

    def read(*args: str) -> list[dict[str, Any]]:
        result = runner.invoke(load_commands(), ["audit", "--json", "--limit", "100000", *args])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    return read


def decisions(events: list[dict[str, Any]]) -> set[tuple[str, str, bool]]:
    return {(e["who"], e["action"], e["allowed"]) for e in events}


def test_every_job_route_records_who_what_the_decision_and_bytes(
    http: httpx.Client, keys: Keys, audit_cli
) -> None:
    ESA, JAXA = keys["ESA"], keys["JAXA"]
    created = http.post("jobs", json={"ids": [POLAR], "bbox": [-180, -90, 180, -89.8]}, headers=ESA)
    assert created.status_code == 201, created.text
    job_id = created.json()["jobID"]
    location = created.headers["Location"]
    assert wait_finished(http, location, ESA)["status"] == "successful"
    (result,) = http.get(f"{location}/results", headers=ESA).json()["files"]
    body = http.get(result["href"], headers=ESA).content
    assert http.get("jobs", headers=ESA).status_code == 200
    for method, url in (("GET", location), ("GET", f"{location}/results"), ("GET", result["href"]),
                        ("DELETE", location)):
        assert http.request(method, url, headers=JAXA).status_code == 404
    assert http.get("jobs/no-such-job", headers=JAXA).status_code == 404
    assert http.post("jobs", json={"ids": [CUBE]}).status_code == 401  # anonymous
    assert http.delete(location, headers=ESA).json()["status"] == "dismissed"

    events = audit_cli("--record", f"jobs/{job_id}")
    assert decisions(events) == {
        ("ESA", "job-submit", True), ("ESA", "job", True), ("ESA", "job-results", True),
        ("ESA", "download", True), ("ESA", "job-cancel", True),
        ("JAXA", "job", False), ("JAXA", "job-results", False), ("JAXA", "download", False),
        ("JAXA", "job-cancel", False),
    }
    assert {e["detail"] for e in events if not e["allowed"]} == {"hidden"}
    (download,) = [e for e in events if e["action"] == "download" and e["allowed"]]
    assert download["bytes"] == len(body) == result["file:size"]
    # what the job read is findable by record, with the job named
    read = audit_cli("--partner", "ESA", "--record", f"lunar/{POLAR}")
    assert any(e["action"] == "job-subset" and e["detail"] == f"job {job_id}" for e in read)
    assert ("JAXA", "job", False) in decisions(audit_cli("--record", "jobs/no-such-job"))
    assert any(e["action"] == "job-submit" and e["detail"] == "no partner key"
               for e in audit_cli("--partner", "anonymous"))
    assert any(e["action"] == "jobs" and e["allowed"] for e in audit_cli("--partner", "ESA"))


def test_subsets_record_bytes_served_and_refusals(http: httpx.Client, keys: Keys, audit_cli) -> None:
    since = datetime.now(UTC).isoformat()
    got = http.get(f"collections/lunar/items/{CUBE}/subset", headers=keys["ESA"],
                   params={"bbox": "21,1,22,2", "bands": "900-1200", "format": "netcdf"})
    assert got.status_code == 200, got.text
    hidden = http.get(f"collections/lunar/items/{SECRET}/subset", headers=keys["JAXA"],
                      params={"bbox": "0,-90,10,-89.9"})
    assert hidden.status_code == 404
    (served,) = [e for e in audit_cli("--partner", "ESA", "--record", f"lunar/{CUBE}", "--since", since)
                 if e["bytes"] is not None]
    assert served["action"] == "subset" and served["allowed"] and served["bytes"] == len(got.content)
    (refused,) = audit_cli("--partner", "JAXA", "--record", f"lunar/{SECRET}", "--since", since)
    assert (refused["action"], refused["allowed"], refused["detail"]) == ("subset", False, "hidden")
