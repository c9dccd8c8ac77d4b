"""Job results outlive no revocation: each result listing and download re-checks, as the
job's owner sees the catalog now, every item and asset the results were made from, and
that the partner is still enabled. Results that fail are 404, deleted, and the audit log
says why. On each catalog backend (SQLite, pgstac), with its own partner store and jobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from catalog.access_edit import set_access
from tests.api.subset.conftest import POLAR, Served, SubsetData, serve_copy
from tests.api.subset.test_jobs import wait_finished

POLAR_BOX = [-180, -90, 180, -89.8]


@pytest.fixture(scope="module", params=["sqlite", "pgstac"])
def served(request: pytest.FixtureRequest, subset_data: SubsetData,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_copy(request, subset_data, tmp_path_factory.mktemp("revocation")) as served:
        yield served


def run_job(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = http.post("jobs", json=body, headers=headers)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert wait_finished(http, location, headers)["status"] == "successful"
    (result,) = http.get(f"{location}/results", headers=headers).json()["files"]
    assert http.get(result["href"], headers=headers).status_code == 200
    return location, result


def withdrawn_events(served: Served, job_url: str) -> list[Any]:
    job_id = job_url.rsplit("/", 1)[1]
    return [e for e in served.catalog.audit_log().query(record=f"jobs/{job_id}", limit=10_000)
            if (e.detail or "").startswith("results withdrawn") or e.action == "job-withdraw"]


def test_an_item_set_owner_only_takes_the_results_made_from_it_away(served: Served) -> None:
    pid, key = served.partner()
    iid = served.item_copy()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        location, result = run_job(http, key, {"ids": [iid], "bbox": POLAR_BOX})
        job_id = location.rsplit("/", 1)[1]
        assert served.store.exists(f"jobs/{job_id}/{result['name']}")

        set_access(served.catalog, {"dc:access": "owner"}, "lunar", iid)
        assert http.get(f"collections/lunar/items/{iid}", headers=key).status_code == 404

        gone = http.get(result["href"], headers=key)
        assert gone.status_code == 404 and "no longer available" in gone.json()["description"]
        assert not served.store.exists(f"jobs/{job_id}/{result['name']}")  # deleted, not hidden
        assert http.get(f"{location}/results", headers=key).status_code == 404
        assert http.get(result["href"], headers={**key, "Range": "bytes=0-7"}).status_code == 404
        assert http.get(location, headers=key).json()["links"][1:] == []  # no results link
    (refused, by_system) = withdrawn_events(served, location)
    assert (refused.who, refused.action, refused.allowed) == (pid, "download", False)
    assert refused.detail == f"results withdrawn: item lunar/{iid} is no longer visible to {pid}"
    assert (by_system.who, by_system.action) == ("admin", "job-withdraw")


def test_an_asset_made_owner_only_takes_the_results_made_from_it_away(served: Served) -> None:
    pid, key = served.partner()
    iid = served.item_copy()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        location, result = run_job(http, key, {"ids": [iid], "bbox": POLAR_BOX, "variables": ["data"]})
        # results made from "data" only: hiding another asset changes nothing
        set_access(served.catalog, {"dc:access": "owner"}, "lunar", iid, "slope")
        assert http.get(result["href"], headers=key).status_code == 200
        set_access(served.catalog, {"dc:access": "owner"}, "lunar", iid, "data")
        listing = http.get(f"{location}/results", headers=key)
        assert listing.status_code == 404
        assert http.get(result["href"], headers=key).status_code == 404
    (refused, _) = withdrawn_events(served, location)
    assert refused.action == "job-results"
    assert refused.detail == f"results withdrawn: asset(s) data of item lunar/{iid} no longer visible to {pid}"


def test_a_disabled_partners_results_are_withdrawn_by_the_sweep(served: Served) -> None:
    pid, key = served.partner()
    iid = served.item_copy()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        location, result = run_job(http, key, {"ids": [iid], "bbox": POLAR_BOX})
        job_id = location.rsplit("/", 1)[1]
        served.partners.disable_partner(pid)
        assert http.get(result["href"], headers=key).status_code == 401  # the key is dead too
        assert served.store.exists(f"jobs/{job_id}/{result['name']}")
        assert job_id in served.app.state.job_runner.withdraw_revoked()  # the periodic sweep
        assert not served.store.exists(f"jobs/{job_id}/{result['name']}")
        admin = {"Authorization": f"Bearer {served.partners.create_admin_key().secret_text}"}
        assert http.get(f"{location}/results", headers=admin).status_code == 404
    (swept,) = withdrawn_events(served, location)
    assert (swept.action, swept.who) == ("job-withdraw", "admin")
    assert swept.detail == f"results withdrawn: partner {pid} is disabled or removed"


def test_results_still_visible_are_served_and_checked_each_time(served: Served) -> None:
    _pid, key = served.partner()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        location, result = run_job(http, key, {"ids": [POLAR], "bbox": POLAR_BOX})
        for _ in range(3):
            assert http.get(result["href"], headers=key).status_code == 200
        assert served.app.state.job_runner.withdraw_revoked() == []
    assert withdrawn_events(served, location) == []
