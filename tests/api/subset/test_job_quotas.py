"""Partners get fair shares of the job workers, and quotas: a full queue or a used-up day is
429 with Retry-After, a job over its size limit 413. On each catalog backend (the limits
live in its partner store, the jobs in its job store); one job worker, so the order in
which jobs start shows the scheduling."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from catalog.partners import LIMIT_NAMES
from datacenter.errors import InvalidRequest, NotFound
from datacenter.settings import Settings
from tests.api.subset.conftest import POLAR, Served, SubsetData, serve_copy
from tests.api.subset.test_jobs import wait_finished

SLOW = {"ids": [POLAR], "crs": "IAU_2015:30135", "resolution": 8.0}  # ~45 MB, a warp of 0.2-1 s
SMALL = {"ids": [POLAR], "bbox": [-180, -90, 180, -89.8]}  # ~ 80 kB in 0.1 s
CAP = 1024**3


@pytest.fixture(scope="module", params=["sqlite", "pgstac"])
def served(request: pytest.FixtureRequest, subset_data: SubsetData,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("quotas")
    settings = Settings(home=root, job_workers=1, job_max_bytes=CAP, job_retry_after=7)
    with serve_copy(request, subset_data, root, settings) as served:
        yield served


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=60) as client:
        yield client


def submit(http: httpx.Client, key: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return http.post("jobs", json=body, headers=key)


def when(info: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(info[field].replace("Z", "+00:00"))


def test_one_partners_flood_delays_anothers_small_job_by_at_most_one_running_job(
    served: Served, http: httpx.Client
) -> None:
    _a, flood = served.partner()
    _b, small = served.partner()
    flooded = [submit(http, flood, SLOW) for _ in range(3)]
    assert all(r.status_code == 201 for r in flooded), [r.text for r in flooded]
    mine = submit(http, small, SMALL)
    assert mine.status_code == 201, mine.text
    big = [wait_finished(http, r.headers["Location"], flood) for r in flooded]
    little = wait_finished(http, mine.headers["Location"], small)
    assert all(i["status"] == "successful" for i in [*big, little]), [*big, little]
    # the small job ran as soon as the job running when it came had finished: before every
    # flood job still queued then (they were queued before it), after the one running
    came = when(little, "created")
    queued = [b for b in big if when(b, "started") > came]
    assert queued, "every flood job had started before the small one came: make SLOW slower"
    assert when(little, "started") <= min(when(b, "started") for b in queued)
    assert when(little, "finished") <= min(when(b, "started") for b in queued)
    running = [b for b in big if when(b, "started") <= came]
    assert all(when(little, "started") >= when(b, "finished") for b in running)  # one worker


def test_a_full_queue_is_429_with_retry_after_until_a_job_leaves_it(
    served: Served, http: httpx.Client
) -> None:
    pid, key = served.partner()
    _other, busy = served.partner()
    served.partners.set_limits(pid, {"queued_jobs": 1})
    blocker = submit(http, busy, SLOW)  # holds the one worker
    first = submit(http, key, SMALL)
    assert first.status_code == 201 and first.json()["status"] == "accepted"
    refused = submit(http, key, SMALL)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "7"
    assert "waiting to run" in refused.json()["description"]
    assert http.delete(first.headers["Location"], headers=key).status_code == 200
    again = submit(http, key, SMALL)
    assert again.status_code == 201, again.text
    for r, k in ((blocker, busy), (again, key)):
        assert wait_finished(http, r.headers["Location"], k)["status"] == "successful"
    denied = [e for e in served.catalog.audit_log().query(who=pid, limit=1000)
              if e.action == "job-submit" and not e.allowed]
    assert len(denied) == 1 and denied[0].detail.startswith("QuotaExceeded: ")


def test_a_used_up_day_is_429_with_retry_after_when_enough_ages_out(
    served: Served, http: httpx.Client
) -> None:
    pid, key = served.partner()
    done = submit(http, key, SMALL)
    assert done.status_code == 201
    assert wait_finished(http, done.headers["Location"], key)["status"] == "successful"
    estimate = served.app.state.job_runner.jobs.get(done.json()["jobID"]).estimate
    assert estimate > 0
    served.partners.set_limits(pid, {"daily_bytes": estimate * 3 // 2})
    refused = submit(http, key, SMALL)
    assert refused.status_code == 429, refused.text
    assert 86_000 < int(refused.headers["Retry-After"]) <= 86_400  # when the first job ages out
    assert "24 h" in refused.json()["description"]
    served.partners.set_limits(pid, {"daily_bytes": None})  # back to the default (64 GiB)
    assert submit(http, key, SMALL).status_code == 201


def test_a_job_over_its_size_limits_is_413_before_any_work(served: Served, http: httpx.Client) -> None:
    pid, key = served.partner()
    served.partners.set_limits(pid, {"job_bytes": 10_000})
    small = submit(http, key, SMALL)
    assert small.status_code == 413 and f"partner {pid} may submit" in small.json()["description"]
    served.partners.set_limits(pid, {"job_bytes": 0})  # no partner limit: the hard cap remains
    admin = {"Authorization": f"Bearer {served.partners.create_admin_key().secret_text}"}
    for who in (key, admin):
        started = time.monotonic()
        huge = submit(http, who, {**SLOW, "resolution": 1e-7})
        assert huge.status_code == 413, huge.text
        assert "DATACENTER_JOB_MAX_BYTES" in huge.json()["description"]
        assert time.monotonic() - started < 10
    assert not [j for j in http.get("jobs", headers=key).json()["jobs"]]  # no job was made


def test_partner_limits_are_kept_in_the_partner_store(served: Served) -> None:
    pid, _key = served.partner()
    assert served.partners.limits(pid) == {}
    assert served.partners.set_limits(pid, {"queued_jobs": 3, "daily_bytes": 5}) == {
        "queued_jobs": 3, "daily_bytes": 5}
    assert served.partners.set_limits(pid, {"daily_bytes": None}) == {"queued_jobs": 3}
    assert served.partners.limits(pid) == {"queued_jobs": 3}
    limits = served.app.state.job_runner.limits(pid)
    assert (limits.queued_jobs, limits.concurrent_jobs, limits.job_bytes) == (3, 1, 4 * 1024**3)
    with pytest.raises(InvalidRequest, match="unknown partner limit"):
        served.partners.set_limits(pid, {"jobs": 1})
    with pytest.raises(InvalidRequest, match=">= 0"):
        served.partners.set_limits(pid, {"queued_jobs": -1})
    with pytest.raises(NotFound):
        served.partners.set_limits("no-such-partner", {"queued_jobs": 1})
    assert set(LIMIT_NAMES) == {"concurrent_jobs", "queued_jobs", "job_bytes", "daily_bytes"}
