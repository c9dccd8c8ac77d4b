"""Every schema a served record names in `stac_extensions` resolves: ours from the API itself
(fetched from the running server), the published ones to the offline copies of their schemas."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from api.links import served_schema_url
from datacenter.access import SCHEMA_URL, schema_document
from tests.api.conftest import ApiData

REPO = Path(__file__).resolve().parents[2]
REPO_COPY = REPO / "docs" / "extensions" / "lunar-datacenter.github.io" / "stac-dc" / "v1.0.0" / "schema.json"


def _served_records(http: httpx.Client) -> list[dict]:
    items = http.get("search", params={"limit": 100}).json()["features"]
    collections = http.get("collections").json()["collections"]
    assert items and collections
    return items + collections


def test_every_stac_extensions_url_of_a_served_record_answers_with_a_json_schema(
    http: httpx.Client, live_server: str, stac_offline
) -> None:
    ours = served_schema_url(live_server)
    urls = {url for record in _served_records(http) for url in record.get("stac_extensions", [])}
    assert ours in urls and SCHEMA_URL not in urls
    for url in sorted(urls):
        if url == ours:
            answer = httpx.get(url, timeout=10)
            assert answer.status_code == 200, url
            assert answer.headers["content-type"].startswith("application/schema+json")
            schema = answer.json()
        else:  # a published extension: its URL must be one the offline copies hold
            assert url.startswith("https://stac-extensions.github.io/"), url
            schema = json.loads(stac_offline.resolve(url).read_text(encoding="utf-8"))
        assert schema["$id"].rstrip("#") == url
        assert "json-schema.org" in schema["$schema"]


def test_served_schema_requires_the_url_it_is_served_at(http: httpx.Client, live_server: str) -> None:
    schema = http.get(served_schema_url(live_server).removeprefix(live_server)).json()
    assert schema["properties"]["stac_extensions"]["contains"] == {"const": served_schema_url(live_server)}
    assert schema["definitions"] == schema_document()["definitions"]


def test_served_item_validates_with_our_schema_fetched_from_the_server(
    http: httpx.Client, api_data: ApiData, stac_offline
) -> None:
    """stac-validator (offline for the published schemas) fetches ours over HTTP."""
    item = http.get("collections/lunar-dem/items/south-cap").json()
    assert stac_offline.validate_dict(item) == []
    broken = {**item, "properties": {**item["properties"], "dc:access": "everyone"}}
    assert stac_offline.validate_dict(broken) != [], "our schema was not applied"


def test_schema_behind_a_proxy_prefix_is_named_by_the_public_url(live_server: str) -> None:
    headers = {"Forwarded": "proto=https;host=data.example.org"}
    item = httpx.get(live_server + "collections/lunar-dem/items/south-cap", headers=headers, timeout=10).json()
    assert "https://data.example.org/extensions/dc/v1.0.0/schema.json" in item["stac_extensions"]


@pytest.mark.parametrize("served_base", ["http://127.0.0.1:8000/", "https://data.example.org/stac/"])
def test_record_written_back_through_transactions_is_stored_under_the_schema_id(
    served_base: str,
) -> None:
    from api.links import with_stored_extensions

    record = {"stac_extensions": ["https://x/y.json", served_schema_url(served_base)]}
    assert with_stored_extensions(record)["stac_extensions"] == ["https://x/y.json", SCHEMA_URL]


def test_package_schema_and_repository_copy_are_the_same_file() -> None:
    """The package serves what offline tests validate with (docs/extensions, by `$id`)."""
    assert json.loads(REPO_COPY.read_text(encoding="utf-8")) == schema_document()
