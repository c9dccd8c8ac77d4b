"""Property-based requests generated from the app's own OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests (valid and invalid ones):
no response may be a 5xx, and every response that the schema describes must match it.
(Requests with partner API keys join once the access filter is merged.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app


@pytest.fixture
def api_schema(api_data):
    app = create_app(api_data.catalog, api_data.store)
    return schemathesis.openapi.from_asgi("/api", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(case) -> None:
    checks = [not_a_server_error, response_schema_conformance]
    if "fields" in (case.query or {}) or "fields" in (case.body if isinstance(case.body, dict) else {}):
        # The Fields extension returns partial items by design; stac-fastapi's OpenAPI
        # response model does not say so, so only "no 5xx" applies to those.
        checks = [not_a_server_error]
    case.call_and_validate(checks=checks)
