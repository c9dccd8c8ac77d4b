"""FastAPI dependencies: the catalog, the store, the partner store, the audit log and the viewer.

They are coroutines: FastAPI runs a plain `def` dependency in its thread pool, a hop per
dependency per request (five on every STAC route), which under concurrent clients cost more
than the work itself. Only a key lookup, which may wait on the database, leaves the loop.

Tests and later layers swap them with ``app.dependency_overrides[get_catalog] = ...`` (or
`get_viewer`, `get_partners`, ...). The stac-fastapi client is called outside FastAPI's
dependency injection, so `bind_catalog` runs as a route dependency on every STAC route:
FastAPI resolves `get_catalog` and `get_viewer` (overrides included) and leaves the results
on ``request.state``, where `catalog_of` and `viewer_of` find them. The download router
declares the same dependencies directly.
"""

from __future__ import annotations

import hmac
import re

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from api.rate_limits import RateLimiter
from catalog.audit import AuditEvent, AuditLog
from catalog.base import Catalog
from catalog.partners import PartnerStore
from datacenter.access import ANONYMOUS, Viewer
from datacenter.errors import Forbidden, RateLimited, Unauthorized
from datacenter.storage import Store

_KEY_PREFIX = re.compile(r"^(dck_[0-9a-f]{12})_")


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


async def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


async def get_partners(request: Request) -> PartnerStore:
    return request.app.state.partners  # type: ignore[no-any-return]


async def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit  # type: ignore[no-any-return]


def key_prefix(presented: str) -> str | None:
    """The public part of a presented key (``dck_<key id>``) for the audit log, never the
    secret; None when it does not have the shape of one of our keys."""
    match = _KEY_PREFIX.match(presented.strip())
    return match[1] if match else None


def presented_keys(authorization: str | None, x_api_key: str | None) -> list[str]:
    """Every credential the request carries, in the order sent (an empty header is an
    empty credential, which is not valid: never silently anonymous)."""
    keys = []
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        keys.append(value.strip() if scheme.lower() == "bearer" else authorization.strip())
    if x_api_key is not None:
        keys.append(x_api_key.strip())
    return keys


async def get_viewer(
    request: Request,
    authorization: str | None = Header(None, include_in_schema=False),
    x_api_key: str | None = Header(None, include_in_schema=False),
    partners: PartnerStore = Depends(get_partners),
) -> Viewer:
    """Who is asking: `Authorization: Bearer <key>` or `X-API-Key: <key>`; no key is anonymous;
    any credential sent that is not valid now (empty, unknown, revoked, its partner disabled)
    is 401 (`Unauthorized`), even beside a valid one, never silently anonymous. Keys are
    partner or admin keys of the partner store, or one of the static admin keys
    (``DATACENTER_ADMIN_KEYS`` / ``create_app(admin_keys=...)``). A refusal is audited
    (action ``auth``, with the key prefix, never the key) and counted by the failed-login
    limiter (`api.rate_limits`), whose lockout `api.lockout.LockoutMiddleware` applies
    before the request is routed."""
    keys = presented_keys(authorization, x_api_key)
    if not keys:
        return ANONYMOUS
    static: frozenset[str] = getattr(request.app.state, "admin_keys", frozenset())
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    viewers: list[Viewer] = []
    for presented in dict.fromkeys(keys):  # a locked-out one never gets here (`api.lockout`)
        try:
            if not presented:
                raise Unauthorized(
                    "an empty API key was sent; send 'Authorization: Bearer <key>' with the "
                    "whole key, or no key at all to browse public records"
                )
            if any(hmac.compare_digest(presented.encode(), key.encode()) for key in static):
                viewers.append(Viewer(admin=True, key_id="static"))
                continue
            # a key lookup may wait on the database: off the event loop
            viewers.append(await run_in_threadpool(partners.authenticate, presented))
        except Unauthorized as exc:
            await refuse_key(request, presented, str(exc))
            raise
    if len({(v.admin, v.partner_id) for v in viewers}) > 1:
        message = "Authorization and X-API-Key name different keys; send one key"
        await refuse_key(request, keys[0], message)
        raise Unauthorized(message)
    viewer = viewers[0]
    if limiter is not None:
        to_share = [limiter.succeeded(presented) for presented in keys]  # each key is remembered
        if any(to_share) and viewer.key_id not in (None, "static"):
            # the other processes' lockouts learn of this key from the partner store
            await run_in_threadpool(partners.note_success, viewer.key_id)
    if limiter is not None and viewer.partner_id is not None:
        try:
            limiter.partner_request(viewer.partner_id)
        except RateLimited as exc:
            await audit_refusal(request, keys[0], f"rate limited: {exc}", viewer)
            raise
    return viewer


async def refuse_key(request: Request, presented: str, reason: str) -> None:
    """Audit a refused credential and count it against the client and the key prefix."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.failed_login(client_address(request), key_prefix(presented))
    await audit_refusal(request, presented, reason)


async def audit_refusal(request: Request, presented: str, reason: str,
                        viewer: Viewer | None = None) -> None:
    """One ``auth`` event, denied: the key prefix (never the key), the route and why."""
    log: AuditLog | None = getattr(request.app.state, "audit", None)
    if log is None:
        return
    await run_in_threadpool(log.record, refusal_event(request.method, request.url.path, presented, reason, viewer))


def refusal_event(method: str, path: str, presented: str, reason: str,
                  viewer: Viewer | None = None) -> AuditEvent:
    """The denied ``auth`` event of a refused credential (its prefix, never the key)."""
    return AuditEvent(who=viewer.label() if viewer else "unknown",
                      key_id=viewer.key_id if viewer else key_prefix(presented),
                      action="auth", record=path, allowed=False, detail=f"{method}: {reason[:200]}")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def bind_catalog(
    request: Request,
    catalog: Catalog = Depends(get_catalog),
    viewer: Viewer = Depends(get_viewer),
    audit: AuditLog = Depends(get_audit),
) -> None:
    request.state.catalog = catalog
    request.state.viewer = viewer
    request.state.audit = audit


def catalog_of(request: Request) -> Catalog:
    """The catalog `bind_catalog` resolved for this request."""
    catalog = getattr(request.state, "catalog", None)
    if catalog is None:  # a route registered without the dependency
        raise RuntimeError(
            f"{request.url.path} has no catalog bound; register it with StacApi so "
            "`bind_catalog` runs as a route dependency"
        )
    return catalog  # type: ignore[no-any-return]


def viewer_of(request: Request) -> Viewer:
    """The viewer `bind_catalog` resolved; a route without it fails closed (500), never open."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None:
        raise RuntimeError(f"{request.url.path} has no viewer bound; register it with StacApi")
    return viewer  # type: ignore[no-any-return]


async def require_admin(request: Request, viewer: Viewer = Depends(get_viewer)) -> None:
    """Let the request through only for an admin viewer (an admin key made by
    ``datacenter admin keys create``, or one of ``DATACENTER_ADMIN_KEYS``): the one gate of
    every write route (STAC transactions). No key is 401, a partner key 403."""
    if viewer.admin:
        return
    if viewer.anonymous:
        error: Exception = Unauthorized(
            f"{request.method} {request.url.path} changes the catalog and needs an admin "
            "key: send 'Authorization: Bearer <key>'"
        )
    else:
        error = Forbidden(
            f"the key sent is not an admin key; {request.method} {request.url.path} "
            "is for data center administrators"
        )
    log: AuditLog = request.app.state.audit
    event = AuditEvent(who=viewer.label(), key_id=viewer.key_id, action="admin",
                       record=request.url.path, allowed=False,
                       detail=f"{request.method}: {'no key' if viewer.anonymous else 'not an admin key'}")
    await run_in_threadpool(log.record, event)
    raise error
