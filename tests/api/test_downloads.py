"""Downloading assets through the API: whole, by range, HEAD, and attempts to leave the store."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import httpx
import pystac_client
import pytest

from tests.api.conftest import CHECKSUM, PAYLOAD

DATA = "collections/lunar-dem/items/south-cap/assets/data"
CUBE = "collections/lunar-images/items/eq-east/assets/cube"


def test_pystac_client_asset_href_downloads_the_stored_bytes(live_server: str) -> None:
    item = pystac_client.Client.open(live_server).get_collection("lunar-dem").get_item("south-cap")
    href = item.assets["data"].href
    assert href.startswith(live_server)
    response = httpx.get(href)
    assert response.status_code == 200
    assert response.content == PAYLOAD
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert response.headers["content-type"].startswith("image/tiff")
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == f'"{CHECKSUM}"'
    assert "south-cap.tif" in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=10-19", 10, 19), ("bytes=1000-", 1000, 1023), ("bytes=-24", 1000, 1023),
     ("bytes=1020-5000", 1020, 1023), ("bytes=-5000", 0, 1023)],
)
def test_single_range_is_206_with_exact_bytes(http: httpx.Client, header: str, start: int, end: int) -> None:
    response = http.get(DATA, headers={"Range": header})
    assert response.status_code == 206
    assert response.content == PAYLOAD[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(PAYLOAD)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(http: httpx.Client, header: str) -> None:
    response = http.get(DATA, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    assert response.json()["code"] == "RangeNotSatisfiable"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3"])
def test_multi_or_malformed_range_gets_the_whole_object(http: httpx.Client, header: str) -> None:
    response = http.get(DATA, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == PAYLOAD


def test_head_gives_the_headers_without_the_body(http: httpx.Client) -> None:
    response = http.head(DATA)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert response.headers["accept-ranges"] == "bytes"
    ranged = http.head(DATA, headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.headers["content-length"] == "4"


def test_unknown_asset_is_404_listing_the_assets(http: httpx.Client) -> None:
    response = http.get("collections/lunar-dem/items/south-cap/assets/thumbnail")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "AssetNotFound"
    assert "thumbnail" in body["description"] and "data" in body["description"]


def test_asset_of_a_missing_item_is_404(http: httpx.Client) -> None:
    response = http.get("collections/lunar-dem/items/nothing/assets/data")
    assert response.status_code == 404
    assert response.json()["code"] == "ItemNotFound"


def test_file_inside_a_multi_file_asset_is_served(http: httpx.Client) -> None:
    response = http.get(f"{CUBE}/.zarray")
    assert response.status_code == 200
    assert response.content == b'{"zarr_format": 2}'
    chunk = http.get(f"{CUBE}/0.0", headers={"Range": "bytes=4-"})
    assert chunk.status_code == 206 and chunk.content == b"chunk"


def _raw_get(live_server: str, raw_path: str) -> tuple[int, bytes]:
    """GET a path byte for byte (httpx would normalise '..' before sending)."""
    parts = urlsplit(live_server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", raw_path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "raw_path",
    [
        f"/{CUBE}/../../../../../secret.txt",
        f"/{CUBE}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"/{CUBE}/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
        f"/{CUBE}/..%2f..%2f..%2f..%2f..%2fsecret.txt",
        f"/{CUBE}//etc/passwd",
        f"/{CUBE}/%2Fetc%2Fpasswd",
        f"/{CUBE}/s3://bucket/key",
        f"/{CUBE}/file:///etc/passwd",
        f"/{CUBE}/a\\..\\..\\secret.txt",
        "/collections/lunar-dem/items/south-cap/assets/..%2F..%2F..%2Fsecret.txt",
        "/collections/lunar-dem/items/south-cap/assets/%2e%2e",
        "/collections/lunar-dem/items/south-cap/assets/s3:%2F%2Fbucket%2Fkey",
    ],
)
def test_path_traversal_is_refused_and_nothing_outside_the_store_is_read(
    live_server: str, api_data, raw_path: str
) -> None:
    status, body = _raw_get(live_server, raw_path)
    assert 400 <= status < 500, (status, body)
    assert b"TOP SECRET" not in body and b"root:" not in body
    assert api_data.outside.read_bytes().startswith(b"TOP SECRET")  # still there, never served


def test_folder_asset_without_a_part_is_404_without_revealing_the_stored_key(http: httpx.Client) -> None:
    response = http.get(CUBE)
    assert response.status_code == 404
    assert response.json()["code"] == "AssetNotFound"
    assert "cube.zarr" not in response.text


def test_missing_part_of_a_multi_file_asset_is_404_without_the_stored_key(http: httpx.Client) -> None:
    response = http.get(f"{CUBE}/9.9")
    assert response.status_code == 404
    assert "'9.9'" in response.json()["description"] and "cube.zarr" not in response.text
