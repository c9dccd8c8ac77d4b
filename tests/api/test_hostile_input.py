"""Hostile requests: each gets a clear 4xx and nothing outside the store is ever read.

(Path traversal in download sub-paths is in test_downloads.py; these cover ids, bodies,
bboxes, limits, nesting and bodies that never finish.) The requests that reach the catalog
are sent anonymously, with a partner key and with an administrator key: a key opens more
records, never a way out of the store.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from datacenter.errors import Conflict
from datacenter.settings import Settings
from tests.api.conftest import serving


def _raw(live_server: str, method: str, raw_path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    parts = urlsplit(live_server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, raw_path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


WHO = ["anonymous", "partner", "admin"]


@pytest.fixture(scope="module")
def issued_keys(api_data) -> dict[str, str]:
    partners = api_data.catalog.partner_store()
    try:
        partner = partners.add_partner("KARI")
    except Conflict:  # the session's catalog already has it (another module ran first)
        partner = partners.rotate_key("KARI")
    return {"partner": partner.secret_text, "admin": partners.create_admin_key().secret_text}


@pytest.fixture(params=WHO)
def auth(request: pytest.FixtureRequest, issued_keys: dict[str, str]) -> dict[str, str]:
    """The Authorization header of the caller (none for anonymous)."""
    key = issued_keys.get(request.param)
    return {"Authorization": f"Bearer {key}"} if key else {}


@pytest.mark.parametrize(
    "raw_path",
    [
        "/collections/..%2F..%2Fetc/items/passwd",
        "/collections/lunar-dem/items/..%2F..%2Fsecret.txt",
        "/collections/lunar-dem/items/%252e%252e%252fsecret.txt/assets/data",
        "/collections/%2e%2e/items/%2e%2e/assets/data",
        "/collections/lunar-dem/items/south-cap/assets/data/%252e%252e%252f%252e%252e%252fsecret.txt",
        "/collections/lunar-images/items/eq-east/assets/cube/%252e%252e/%252e%252e/secret.txt",
        "/collections/lunar-images/items/eq-east/assets/cube/%2Ftmp%2Fsecret.txt",
        "/collections/lunar-images/items/eq-east/assets/cube/s3:%2F%2Fother-bucket%2Fsecret",
        "/collections/lunar-images/items/eq-east/assets/cube/%73%33://other-bucket/secret",
    ],
)
def test_traversal_in_ids_and_asset_paths_is_a_4xx(live_server: str, api_data, raw_path: str,
                                                   auth: dict[str, str]) -> None:
    status, body = _raw(live_server, "GET", raw_path, headers=auth)
    assert 400 <= status < 500, (status, body)
    assert b"TOP SECRET" not in body
    assert json.loads(body)["code"]


def test_search_for_a_traversal_id_finds_nothing(http: httpx.Client, auth: dict[str, str]) -> None:
    response = http.get("search", params={"ids": "../../secret.txt,/etc/passwd"}, headers=auth)
    assert response.status_code == 200
    assert response.json()["features"] == []


def test_oversized_body_is_413_before_it_is_read(live_server: str) -> None:
    # Only the headers are sent: the answer must come without the body ever being read.
    parts = urlsplit(live_server)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2097152\r\n\r\n{\"ids\": [")
        reply = b""
        while b"}" not in reply:
            block = sock.recv(4096)
            if not block:
                break
            reply += block
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"PayloadTooLarge" in reply


def test_oversized_chunked_body_is_413(live_server: str) -> None:
    def chunks():
        yield b'{"ids": ["'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"]}'

    response = httpx.post(f"{live_server}search", content=chunks(),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "bbox",
    ["-1e308,-90,1e308,90", ",".join(["0"] * 1000), "nan,nan,nan,nan", "-180,-91,180,91",
     "inf,-90,180,90"],
)
def test_absurd_bbox_is_400(http: httpx.Client, bbox: str, auth: dict[str, str]) -> None:
    response = http.get("search", params={"bbox": bbox}, headers=auth)
    assert response.status_code == 400, response.text
    assert "bbox" in response.json()["description"]


@pytest.mark.parametrize("limit", ["1000000000", "99999999999999999999999", "-1", "0"])
def test_huge_or_negative_limit_is_400_or_capped(http: httpx.Client, limit: str,
                                                 auth: dict[str, str]) -> None:
    response = http.get("search", params={"limit": limit}, headers=auth)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert len(response.json()["features"]) <= 10_000


def test_deeply_nested_intersects_is_400(http: httpx.Client, auth: dict[str, str]) -> None:
    depth = 5000
    body = '{"intersects": {"type": "Polygon", "coordinates": ' + "[" * depth + "]" * depth + "}}"
    response = http.post("search", content=body, headers={"Content-Type": "application/json", **auth})
    assert response.status_code == 400, response.text


def test_a_body_that_never_finishes_is_408(api_data) -> None:
    app = create_app(api_data.catalog, api_data.store, settings=Settings(api_body_timeout=1.0))
    with serving(app) as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"ids\": [")
            started = time.monotonic()
            reply = b""
            while b"\r\n\r\n" not in reply and time.monotonic() - started < 20:
                sock.sendall(b" ")  # one byte at a time, never the whole body
                time.sleep(0.2)
                sock.settimeout(0.01)
                with contextlib.suppress(TimeoutError, BlockingIOError):
                    reply += sock.recv(4096)
                sock.settimeout(30)
        assert reply.startswith(b"HTTP/1.1 408"), reply
        # and the server still answers everyone else
        assert httpx.get(url, timeout=10).status_code == 200


@pytest.mark.parametrize("body", ["[null, null]", "42", '"text"', "null"])
def test_a_search_body_that_is_not_an_object_is_400(http: httpx.Client, body: str) -> None:
    response = http.post("search", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text


def test_an_empty_query_extension_object_filters_nothing(http: httpx.Client) -> None:
    # found by schemathesis: `"query": {}` became an empty SQL AND on pgstac (a 500)
    everything = http.post("search", json={"limit": 100}).json()["features"]
    response = http.post("search", json={"query": {}, "limit": 100})
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()["features"]] == [f["id"] for f in everything]
