"""Issue 16, items 9, 10 and 11 over real HTTP, on both catalog backends: any credential
sent that is not valid is 401 (an empty bearer beside a bad X-API-Key included); failed
authentications are limited per client address and per key prefix, and requests per
partner, with 429 and Retry-After; every refusal is audited with the key prefix, never
the key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.rate_limits import RateLimiter
from catalog import open_catalog
from catalog.base import Catalog
from datacenter.settings import Settings
from datacenter.storage import Store
from tests.api.conftest import serving


@dataclass
class Site:
    catalog: Catalog
    url: str


def _collection(cid: str, access: str) -> dict:
    return {"type": "Collection", "id": cid, "description": cid, "license": "other", "links": [],
            "dc:owner": "CNSA", "dc:access": access}


@pytest.fixture(params=["pgstac", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = (str(request.getfixturevalue("pgstac_dsn")) if request.param == "pgstac"
           else f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog = open_catalog(url)
    catalog.upsert_collection(_collection("open", "public"))
    catalog.upsert_collection(_collection("secret", "owner"))
    settings = Settings(api_auth_failures_per_address=5, api_auth_failures_per_key=3,
                        api_partner_requests=8, api_rate_window=60)
    with serving(create_app(catalog, Store(str(tmp_path / "store")), settings=settings)) as base:
        yield Site(catalog, base)
    catalog.close()


def _get(site: Site, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(site.url + path, headers=headers or {}, timeout=10)


# -- item 11 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer", "X-API-Key": "dck_000000000000_" + "A" * 43},
    {"Authorization": "bearer", "X-API-Key": "not-a-key"},
    {"Authorization": "Bearer"},
    {"X-API-Key": ""},
])
def test_an_empty_bearer_or_a_bad_api_key_is_401_never_anonymous(site: Site, headers: dict) -> None:
    response = _get(site, "search", headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_disabled_partners_key_beside_an_empty_bearer_is_401(site: Site) -> None:
    issued = site.catalog.partner_store().add_partner("ESA")
    assert _get(site, "search", {"X-API-Key": issued.secret_text}).status_code == 200
    site.catalog.partner_store().disable_partner("ESA")
    response = _get(site, "search", {"Authorization": "Bearer", "X-API-Key": issued.secret_text})
    assert response.status_code == 401, response.text


def test_a_valid_key_beside_a_bad_one_is_401(site: Site) -> None:
    good = site.catalog.partner_store().add_partner("ESA").secret_text
    response = _get(site, "search", {"Authorization": f"Bearer {good}", "X-API-Key": "wrong"})
    assert response.status_code == 401
    assert _get(site, "search", {"Authorization": f"Bearer {good}", "X-API-Key": good}).status_code == 200


# -- item 10 ---------------------------------------------------------------------------------
def test_every_refusal_is_audited_with_the_key_prefix_never_the_key(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa = partners.add_partner("ESA")
    forged = "dck_0123456789ab_" + "B" * 43
    assert _get(site, "collections", {"Authorization": f"Bearer {forged}"}).status_code == 401
    body = {"type": "Collection", "id": "new", "description": "x", "license": "other", "links": []}
    assert httpx.post(site.url + "collections", json=body, timeout=10).status_code == 401
    assert httpx.post(site.url + "collections", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {esa.secret_text}"}).status_code == 403
    assert _get(site, "collections/secret/queryables",
                {"Authorization": f"Bearer {esa.secret_text}"}).status_code == 404
    events = [e for e in site.catalog.audit_log().query() if not e.allowed]
    seen = {(e.action, e.who, e.key_id, e.record) for e in events}
    assert ("auth", "unknown", "dck_0123456789ab", "/collections") in seen
    assert ("admin", "anonymous", None, "/collections") in seen
    assert ("admin", "ESA", esa.key_id, "/collections") in seen
    assert ("queryables", "ESA", esa.key_id, "secret") in seen
    for event in events:  # the secret part of a key never reaches the log
        assert "B" * 43 not in f"{event.key_id} {event.detail}"
        secret = esa.secret_text.removeprefix(f"dck_{esa.key_id}_")  # may itself hold '_'
        assert len(secret) >= 32 and secret not in f"{event.key_id} {event.detail}"


# -- item 9 ----------------------------------------------------------------------------------
def test_failed_authentications_from_one_address_are_429_with_retry_after(site: Site) -> None:
    statuses = [_get(site, "search", {"Authorization": f"Bearer dck_{i:012x}_" + "C" * 43}).status_code
                for i in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    limited = _get(site, "search", {"Authorization": "Bearer wrong"})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "failed authentications" in limited.json()["description"]
    assert _get(site, "search").status_code == 200  # anonymous browsing goes on
    assert any(e.action == "auth" and "rate limited" in (e.detail or "")
               for e in site.catalog.audit_log().query())


def test_a_locked_out_key_is_refused_at_the_door_whatever_the_route(site: Site) -> None:
    """Past the lockout a request with a key is 429 before routing (`api.lockout`): a route
    that does not exist, or a body the route would refuse, is not even looked at; and each
    such refusal is audited with the key prefix."""
    for i in range(5):
        assert _get(site, "search", {"Authorization": f"Bearer dck_{i:012x}_" + "D" * 43}).status_code == 401
    headers = {"Authorization": "Bearer dck_00000000beef_" + "D" * 43, "Origin": "https://example.org"}
    for response in (_get(site, "no/such/route", headers),
                     httpx.post(site.url + "search", content=b"{not json", headers=headers, timeout=10)):
        assert response.status_code == 429, response.text
        assert response.json()["code"] == "RateLimited" and "failed authentications" in response.json()["description"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["access-control-allow-origin"] == "*"  # a browser can read why
    refused = [e for e in site.catalog.audit_log().query()
               if e.key_id == "dck_00000000beef" and "rate limited" in (e.detail or "")]
    assert {e.record for e in refused} == {"/no/such/route", "/search"}
    assert _get(site, "no/such/route").status_code == 404  # no key: not a credential, routed as ever


def test_a_flood_of_wrong_keys_from_a_shared_address_does_not_lock_out_a_working_partner(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa, kari = partners.add_partner("ESA").secret_text, partners.add_partner("KARI").secret_text
    assert _get(site, "search", {"Authorization": f"Bearer {esa}"}).status_code == 200  # before the flood
    esa_prefix = esa.rsplit("_", 1)[0]
    flood = [_get(site, "search", {"Authorization": f"Bearer {esa_prefix}_" + "C" * 43}).status_code
             for _ in range(7)]  # wrong secrets for ESA's own (public) prefix, from the same address
    assert flood[:3] == [401] * 3 and set(flood[3:]) == {429}  # the prefix is locked
    others = [_get(site, "search", {"Authorization": "Bearer wrong"}).status_code for _ in range(4)]
    assert others == [401, 401, 429, 429]  # and then the address (5 failures)
    assert _get(site, "search", {"Authorization": f"Bearer {esa}"}).status_code == 200  # ESA goes on
    assert _get(site, "search", {"Authorization": f"Bearer {kari}"}).status_code == 429  # no success yet
    partners.disable_partner("ESA")  # a known key is still looked up: a revocation holds at once
    assert _get(site, "search", {"Authorization": f"Bearer {esa}"}).status_code == 401


def test_a_key_known_to_one_process_passes_another_processes_lockout(site: Site, tmp_path: Path) -> None:
    """Two server processes over one catalog (`datacenter serve --workers 2`, or replicas):
    each has its own lockout counters, and a key that authenticated on one passes the other's
    lockout of a shared address, through the partner store; a key that never did waits."""
    partners = site.catalog.partner_store()
    esa, kari = partners.add_partner("ESA").secret_text, partners.add_partner("KARI").secret_text
    assert _get(site, "search", {"Authorization": f"Bearer {esa}"}).status_code == 200  # on the first
    settings = Settings(api_auth_failures_per_address=5, api_auth_failures_per_key=3,
                        api_partner_requests=8, api_rate_window=60)
    with serving(create_app(site.catalog, Store(str(tmp_path / "store")), settings=settings)) as other:
        second = Site(site.catalog, other)
        flood = [_get(second, "search", {"Authorization": "Bearer wrong"}).status_code for _ in range(7)]
        assert set(flood[5:]) == {429}  # the second process has locked the address
        assert _get(second, "search", {"Authorization": f"Bearer {esa}"}).status_code == 200
        assert _get(second, "search", {"Authorization": f"Bearer {kari}"}).status_code == 429
        guess = esa.rsplit("_", 1)[0] + "_" + "E" * 43  # ESA's public prefix, a wrong secret
        assert _get(second, "search", {"Authorization": f"Bearer {guess}"}).status_code == 429
        partners.disable_partner("ESA")  # and a revocation holds at once there too
        assert _get(second, "search", {"Authorization": f"Bearer {esa}"}).status_code == 401


def test_failed_authentications_for_one_key_prefix_are_limited() -> None:
    clock = [0.0]
    limiter = RateLimiter(failures_per_address=100, failures_per_key=3, window=60, clock=lambda: clock[0])
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # spread over addresses
        limiter.check_credentials(address, "dck_0123456789ab")
        limiter.failed_login(address, "dck_0123456789ab")
    with pytest.raises(Exception, match="dck_0123456789ab") as caught:
        limiter.check_credentials("10.0.0.4", "dck_0123456789ab")
    assert caught.value.retry_after == 60  # type: ignore[attr-defined]
    limiter.check_credentials("10.0.0.4", "dck_ffffffffffff")  # another key is not locked
    clock[0] = 61.0
    limiter.check_credentials("10.0.0.4", "dck_0123456789ab")  # the window has passed


def test_a_partners_requests_over_its_rate_are_429(site: Site) -> None:
    partners = site.catalog.partner_store()
    esa, kari = partners.add_partner("ESA").secret_text, partners.add_partner("KARI").secret_text
    statuses = [_get(site, "search", {"Authorization": f"Bearer {esa}"}).status_code for _ in range(10)]
    assert statuses[:8] == [200] * 8 and statuses[8:] == [429, 429], statuses
    limited = _get(site, "search", {"Authorization": f"Bearer {esa}"})
    assert "Retry-After" in limited.headers and "ESA" in limited.json()["description"]
    assert _get(site, "search", {"Authorization": f"Bearer {kari}"}).status_code == 200  # others go on
