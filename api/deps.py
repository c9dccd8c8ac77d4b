"""FastAPI dependencies: the catalog and the store come from `app.state`.

Tests and later layers (a per-partner access filter wrapping the catalog) swap them with
``app.dependency_overrides[get_catalog] = ...``. The stac-fastapi client is called outside
FastAPI's dependency injection, so `bind_catalog` runs as a route dependency on every STAC
route: FastAPI resolves `get_catalog` (overrides included) and leaves the result on
``request.state``, where `catalog_of` finds it.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request

from catalog.base import Catalog
from datacenter.access import ANONYMOUS, Viewer
from datacenter.storage import Store


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def bind_catalog(request: Request, catalog: Catalog = Depends(get_catalog)) -> None:
    request.state.catalog = catalog


def catalog_of(request: Request) -> Catalog:
    """The catalog `bind_catalog` resolved for this request."""
    catalog = getattr(request.state, "catalog", None)
    if catalog is None:  # a route registered without the dependency
        raise RuntimeError(
            f"{request.url.path} has no catalog bound; register it with StacApi so "
            "`bind_catalog` runs as a route dependency"
        )
    return catalog  # type: ignore[no-any-return]


def require_admin(request: Request) -> None:
    """Let the request through only with ``Authorization: Bearer <admin key>``.

    The admin keys come from ``create_app(..., admin_keys=...)`` (``DATACENTER_ADMIN_KEYS``
    when served). This is the one gate of every write route (STAC transactions), so the
    partner/role check can replace it later without touching the routes.
    """
    keys: frozenset[str] = getattr(request.app.state, "admin_keys", frozenset())
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            status_code=401,
            detail=f"{request.method} {request.url.path} changes the catalog and needs an admin "
            "key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not any(hmac.compare_digest(key.strip().encode(), k.encode()) for k in keys):
        raise HTTPException(
            status_code=403,
            detail=f"the key sent is not an admin key; {request.method} {request.url.path} "
            "is for data center administrators",
        )
def get_viewer(request: Request) -> Viewer:
    """Who is asking. Anonymous until the access layer resolves partners from API keys;
    tests swap it with ``app.dependency_overrides[get_viewer]``."""
    return ANONYMOUS
