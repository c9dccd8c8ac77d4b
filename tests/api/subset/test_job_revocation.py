"""Job results outlive no revocation: each result listing and download re-checks, as the
job's owner sees the catalog now, every item and asset the results were made from, and
that the partner is still enabled. Results that fail are 404, deleted, and the audit log
says why. On each catalog backend (SQLite, pgstac), with its own partner store and jobs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from catalog.access_edit import set_access
from catalog.base import Catalog, open_catalog
from catalog.partners import PartnerStore
from datacenter.access import SYSTEM
from datacenter.settings import Settings
from tests.api.conftest import serving
from tests.api.subset.conftest import POLAR, SubsetData
from tests.api.subset.test_jobs import wait_finished

POLAR_BOX = [-180, -90, 180, -89.8]


@dataclass
class Served:
    url: str
    catalog: Catalog
    partners: PartnerStore
    store: Any
    app: Any

    def partner(self) -> tuple[str, dict[str, str]]:
        """A new partner of its own (so disabling it touches no other test) and its header."""
        pid = f"P{uuid.uuid4().hex[:8]}"
        return pid, {"Authorization": f"Bearer {self.partners.add_partner(pid).secret_text}"}

    def item_copy(self) -> str:
        """A public copy of the polar DEM (with its owner-only "slope" asset) to revoke."""
        item = self.catalog.get_item("lunar", POLAR, viewer=SYSTEM)
        iid = f"revocable-{uuid.uuid4().hex[:8]}"
        self.catalog.upsert_items([{**item, "id": iid}])
        return iid


@pytest.fixture(scope="module", params=["sqlite", "pgstac"])
def served(request: pytest.FixtureRequest, subset_data: SubsetData,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("revocation")
    if request.param == "pgstac":
        url = request.getfixturevalue("pg_cluster").new_database()
    else:
        url = f"sqlite:///{root / 'catalog.sqlite'}"
    catalog = open_catalog(url)
    catalog.upsert_collection(subset_data.catalog.get_collection("lunar", viewer=SYSTEM))
    catalog.upsert_items([subset_data.catalog.get_item("lunar", POLAR, viewer=SYSTEM)])
    app = create_app(catalog, subset_data.store, settings=Settings(home=root))
    with serving(app) as base:
        yield Served(base, catalog, app.state.partners, subset_data.store, app)
    catalog.close()


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
