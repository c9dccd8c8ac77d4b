"""The STAC API application factory.

    app = create_app(catalog, store)                 # tests, embedding
    app = app_from_settings(get_settings())          # `datacenter serve`

Nothing is built at import. stac-fastapi's `StacApi` registers the core routes
(landing page, conformance, collections, items, GET/POST search) around our sync
`CatalogClient`; token paging comes from its `TokenPaginationExtension`; our status
table and handlers replace its error bodies; the download router is ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.middleware import ProxyHeaderMiddleware
from stac_fastapi.types.config import ApiSettings
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from api import downloads
from api.client import CatalogClient
from api.deps import bind_catalog
from api.errors import STATUS, install_error_handlers
from api.models import PAGINATION, ItemsGetRequest, SearchGetRequest, SearchPostRequest
from catalog.audit import AuditLog
from catalog.base import Catalog, open_catalog
from catalog.partners import PartnerStore
from datacenter import __version__
from datacenter.settings import Settings
from datacenter.storage import Store

LANDING_ID = "lunar-datacenter"
TITLE = "Lunar & Deep-Space Science Data Center"
DESCRIPTION = (
    "STAC catalog of lunar and deep-space science products (footprints in longitude/latitude "
    "on the target body) with asset downloads that honour HTTP Range requests."
)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    if getattr(app.state, "owns_catalog", False):
        app.state.catalog.close()


def create_app(
    catalog: Catalog,
    store: Store,
    *,
    settings: Settings | None = None,
    partners: PartnerStore | None = None,
    audit: AuditLog | None = None,
) -> FastAPI:
    """A STAC API over `catalog`, serving asset bytes from `store`; API keys are checked
    against `partners` and decisions written to `audit` (both default to the catalog's own).

    The caller keeps ownership of `catalog` (it is not closed on shutdown).
    """
    api_settings = ApiSettings(
        stac_fastapi_title=TITLE,
        stac_fastapi_description=DESCRIPTION,
        stac_fastapi_version=__version__,
        stac_fastapi_landing_id=LANDING_ID,
    )
    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=__version__,
        openapi_url=api_settings.openapi_url,
        docs_url=api_settings.docs_url,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.catalog = catalog
    app.state.store = store
    app.state.partners = partners if partners is not None else catalog.partner_store()
    app.state.audit = audit if audit is not None else catalog.audit_log()
    app.state.datacenter_settings = settings
    app.state.owns_catalog = False
    StacApi(
        app=app,
        settings=api_settings,
        client=CatalogClient(landing_page_id=LANDING_ID),
        extensions=[PAGINATION],
        exceptions=STATUS,
        search_get_request_model=SearchGetRequest,
        search_post_request_model=SearchPostRequest,
        items_get_request_model=ItemsGetRequest,
        # No Brotli/GZip: compressing would break Content-Length and Range on downloads.
        middlewares=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["OPTIONS", "GET", "HEAD", "POST"],
                allow_headers=["Content-Type", "Range", "Authorization", "X-API-Key"],
                expose_headers=["Content-Range", "Content-Length", "Accept-Ranges", "ETag"],
                max_age=600,
            ),
            Middleware(ProxyHeaderMiddleware),
        ],
        route_dependencies=[([{"path": "*", "method": "*"}], [Depends(bind_catalog)])],
    )
    app.include_router(downloads.router)
    install_error_handlers(app)
    return app


def app_from_settings(settings: Settings) -> FastAPI:
    """The app over the configured catalog and store; the catalog closes on shutdown."""
    catalog = open_catalog(settings.resolved_catalog_url)
    app = create_app(catalog, Store.from_settings(settings), settings=settings)
    app.state.owns_catalog = True
    return app
