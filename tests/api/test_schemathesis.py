"""Property-based requests generated from the app's own OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests (valid and invalid ones):
no response may be a 5xx, and every response that the schema describes must match it —
anonymously over the shared test catalog, and with a partner key and an administrator key
over a catalog of their own (an administrator's generated transactions write to it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from catalog.sqlite import SQLiteCatalog
from datacenter.storage import Store
from tests.api.conftest import PAYLOAD, _collection, add_extra, build_items


@pytest.fixture
def api_schema(api_data):
    app = create_app(api_data.catalog, api_data.store)
    return schemathesis.openapi.from_asgi("/api", app)


@pytest.fixture(params=["partner", "admin"])
def keyed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[object, dict[str, str]]]:
    """A fresh catalog (one item released to ESA only) and the key of `request.param`."""
    catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
    store = Store(str(tmp_path / "store"))
    for cid, title in (("lunar-dem", "DEMs"), ("lunar-images", "Images")):
        catalog.upsert_collection(_collection(cid, title))
    items = add_extra(build_items())
    items[0]["properties"].update({"dc:access": "restricted", "dc:releasable_to": ["ESA"]})
    for item in items:
        store.put_bytes(PAYLOAD, item["assets"]["data"]["href"])
    catalog.upsert_items(items)
    partners = catalog.partner_store()
    issued = partners.add_partner("ESA") if request.param == "partner" else partners.create_admin_key()
    yield create_app(catalog, store), {"Authorization": f"Bearer {issued.secret_text}"}
    catalog.close()


@pytest.fixture
def keyed_schema(keyed):
    return schemathesis.openapi.from_asgi("/api", keyed[0])


schema = schemathesis.pytest.from_fixture("api_schema")
keyed_schema_ = schemathesis.pytest.from_fixture("keyed_schema")


def _checks(case) -> list:
    if "fields" in (case.query or {}) or "fields" in (case.body if isinstance(case.body, dict) else {}):
        # The Fields extension returns partial items by design; stac-fastapi's OpenAPI
        # response model does not say so, so only "no 5xx" applies to those.
        return [not_a_server_error]
    return [not_a_server_error, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(case) -> None:
    case.call_and_validate(checks=_checks(case))


@keyed_schema_.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_with_a_partner_or_admin_key_no_server_error_and_responses_match_the_schema(case, keyed) -> None:
    case.call_and_validate(headers=keyed[1], checks=_checks(case))
