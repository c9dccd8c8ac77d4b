"""FastAPI dependencies: the catalog and the store come from `app.state`.

Tests and later layers (a per-partner access filter wrapping the catalog) swap them with
``app.dependency_overrides[get_catalog] = ...``. The stac-fastapi client is called outside
FastAPI's dependency injection, so `bind_catalog` runs as a route dependency on every STAC
route: FastAPI resolves `get_catalog` (overrides included) and leaves the result on
``request.state``, where `catalog_of` finds it.
"""

from __future__ import annotations

from fastapi import Depends, Request

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


def get_viewer(request: Request) -> Viewer:
    """Who is asking. Anonymous until the access layer resolves partners from API keys;
    tests swap it with ``app.dependency_overrides[get_viewer]``."""
    return ANONYMOUS
