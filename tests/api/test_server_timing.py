"""Every answer says how long the app took (``Server-Timing: app;dur=<ms>``), refusals and
errors included, and a browser's script may read it (CORS exposes it)."""

from __future__ import annotations

import time

import httpx


def app_ms(response: httpx.Response) -> float:
    (entry,) = [p.strip() for p in response.headers["server-timing"].split(",") if p.strip().startswith("app;")]
    name, _, dur = entry.partition(";dur=")
    return float(dur)


def test_answers_carry_the_apps_own_time_within_the_clients(http: httpx.Client) -> None:
    for method, path, status in [("GET", "", 200), ("GET", "search?limit=1", 200),
                                 ("GET", "collections/nope", 404), ("GET", "search?bbox=1,2", 400),
                                 ("DELETE", "collections", 405)]:
        started = time.perf_counter()
        r = http.request(method, path)
        client_ms = (time.perf_counter() - started) * 1000
        assert r.status_code == status, (path, r.text)
        assert 0 < app_ms(r) <= client_ms, (path, r.headers["server-timing"], client_ms)


def test_a_browser_script_may_read_the_timing(http: httpx.Client) -> None:
    r = http.get("", headers={"Origin": "https://example.org"})
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert "server-timing" in exposed
