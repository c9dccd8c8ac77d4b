"""Issue 16, item 6: a search has a time budget (`Catalog.search_timeout`, from
DATACENTER_API_SEARCH_TIMEOUT): past it the catalog stops the SQL (SQLite: a progress
handler; PostgreSQL: statement_timeout for that search only) and the API answers 503 with
Retry-After and a message that says so, instead of holding a worker; the next search on
the same connection runs unbounded by it."""

from __future__ import annotations

import math

import httpx
import pytest

from api.app import create_app
from datacenter.settings import Settings
from tests.api.conftest import ApiData, serving


def _heavy() -> dict:
    """A search that costs some milliseconds on six items: a 9,000-vertex polygon and a
    1,000-value IN list, evaluated per row."""
    n = 9_000
    ring = [[15 + 4 * math.cos(2 * math.pi * k / n), 5 + 4 * math.sin(2 * math.pi * k / n)] for k in range(n)]
    ring.append(ring[0])
    values = [f"v{i}" for i in range(999)]
    return {"filter-lang": "cql2-json", "filter": {"op": "or", "args": [
        {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [ring]}]},
        {"op": "in", "args": [{"property": "platform"}, values]},
    ]}}


@pytest.fixture
def tight(api_data: ApiData):
    before = api_data.catalog.search_timeout
    app = create_app(api_data.catalog, api_data.store, settings=Settings(api_search_timeout=0.000_001))
    with serving(app) as url:
        yield url
    api_data.catalog.search_timeout = before


def test_a_search_over_its_time_budget_is_503_with_retry_after(tight: str, api_data: ApiData) -> None:
    response = httpx.post(tight + "search", json=_heavy(), timeout=30)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "SearchTimeout"
    assert "DATACENTER_API_SEARCH_TIMEOUT" in response.json()["description"]
    assert response.headers["Retry-After"]
    api_data.catalog.search_timeout = 0  # no budget: the same search is answered
    response = httpx.post(tight + "search", json=_heavy(), timeout=30)
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()["features"]] == ["eq-east"]


def test_a_search_within_the_default_budget_is_answered(http: httpx.Client) -> None:
    response = http.post("search", json=_heavy())
    assert response.status_code == 200, response.text
