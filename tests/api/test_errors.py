"""The status table: every data-center error becomes {code, description} with its status;
only server-side (5xx) failures are logged with a traceback."""

from __future__ import annotations

import logging

import httpx
import pytest

from api.app import create_app
from api.deps import get_catalog
from datacenter.errors import (
    Conflict,
    DatacenterError,
    InvalidRequest,
    NotFound,
    ProductError,
    StorageError,
)
from tests.api.conftest import serving


class FailingCatalog:
    """Delegates to the real catalog but fails every search with `error`."""

    def __init__(self, real, error: Exception) -> None:
        self.real, self.error = real, error

    def __getattr__(self, name):
        return getattr(self.real, name)

    def search(self, query):
        raise self.error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("gone"), 404),
        (InvalidRequest("bad"), 400),
        (Conflict("clash"), 409),
        (StorageError("bucket unreachable"), 503),
        (ProductError("cannot read"), 422),
        (DatacenterError("misconfigured"), 500),
        (RuntimeError("bug"), 500),
    ],
)
def test_errors_map_to_status_and_only_5xx_are_logged(api_data, caplog, error, status) -> None:
    app = create_app(api_data.catalog, api_data.store)
    app.dependency_overrides[get_catalog] = lambda: FailingCatalog(api_data.catalog, error)
    caplog.set_level(logging.ERROR)
    with serving(app) as url:
        response = httpx.get(f"{url}search", timeout=10)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "description"}
    if not isinstance(error, DatacenterError):  # a bug: uvicorn logs it, the body stays generic
        assert body["code"] == "InternalServerError" and "bug" not in body["description"]
        return
    if status == 503:  # an outage: retry later; the detail (endpoint, key) goes to the log
        assert body["code"] == type(error).__name__ and "retry" in body["description"]
        assert response.headers["retry-after"] == "5"
        assert any(str(error) in r.getMessage() for r in caplog.records if r.name == "api.errors")
        return
    assert body == {"code": type(error).__name__, "description": str(error)}
    logged_with_traceback = [r for r in caplog.records if r.exc_info and r.name == "api.errors"]
    assert bool(logged_with_traceback) == (status >= 500)


def test_unknown_route_gets_the_standard_error_body(http: httpx.Client) -> None:
    response = http.get("no/such/route")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "description"}
