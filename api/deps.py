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

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from catalog.audit import AuditLog
from catalog.base import Catalog
from catalog.partners import PartnerStore
from datacenter.access import ANONYMOUS, Viewer
from datacenter.errors import Forbidden, Unauthorized
from datacenter.storage import Store


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


async def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


async def get_partners(request: Request) -> PartnerStore:
    return request.app.state.partners  # type: ignore[no-any-return]


async def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit  # type: ignore[no-any-return]


async def get_viewer(
    request: Request,
    authorization: str | None = Header(None, include_in_schema=False),
    x_api_key: str | None = Header(None, include_in_schema=False),
    partners: PartnerStore = Depends(get_partners),
) -> Viewer:
    """Who is asking: `Authorization: Bearer <key>` or `X-API-Key: <key>`; no key is anonymous;
    a key that is not valid now is 401 (`Unauthorized`), never silently anonymous. Keys are
    partner or admin keys of the partner store, or one of the static admin keys
    (``DATACENTER_ADMIN_KEYS`` / ``create_app(admin_keys=...)``)."""
    presented = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        presented = value.strip() if scheme.lower() == "bearer" else authorization.strip()
    if not presented:
        return ANONYMOUS
    static: frozenset[str] = getattr(request.app.state, "admin_keys", frozenset())
    if any(hmac.compare_digest(presented.encode(), key.encode()) for key in static):
        return Viewer(admin=True, key_id="static")
    # a key lookup may wait on the database: off the event loop
    return await run_in_threadpool(partners.authenticate, presented)


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
        raise Unauthorized(
            f"{request.method} {request.url.path} changes the catalog and needs an admin "
            "key: send 'Authorization: Bearer <key>'"
        )
    raise Forbidden(
        f"the key sent is not an admin key; {request.method} {request.url.path} "
        "is for data center administrators"
    )
