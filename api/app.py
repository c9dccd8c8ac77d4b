"""The STAC API application factory.

    app = create_app(catalog, store)                 # tests, embedding
    app = app_from_settings(get_settings())          # `datacenter serve`

Nothing is built at import. stac-fastapi's `StacApi` registers the core routes
(landing page, conformance, collections, items, GET/POST search) around our sync
`CatalogClient`; token paging comes from its `TokenPaginationExtension`; our status
table and handlers replace its error bodies; the download router is ours.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.middleware import ProxyHeaderMiddleware
from stac_fastapi.types.config import ApiSettings
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from api import aggregate as aggregate_routes
from api import downloads, extensions
from api.browse import mount_browse
from api.client import CatalogClient
from api.deps import bind_catalog, require_admin
from api.errors import STATUS, install_error_handlers
from api.limits import BodyLimitMiddleware
from api.lockout import LockoutMiddleware
from api.models import (
    CollectionsGetRequest,
    ItemsGetRequest,
    SearchGetRequest,
    SearchPostRequest,
    app_extensions,
)
from api.rate_limits import RateLimiter
from api.request_limits import RequestLimits
from api.subset import job_routes
from api.subset import routes as subset_routes
from api.subset.compute import TaskTally
from api.subset.jobs import JobRunner, start_expiry_sweeper, start_heartbeat
from api.tiles import routes as tile_routes
from api.timing import ServerTimingMiddleware
from api.transactions import Transactions, TransactionsClient
from catalog import open_catalog, open_job_store
from catalog.audit import AuditLog
from catalog.base import Catalog
from catalog.jobs import HEARTBEAT_EVERY, JobStore
from catalog.partners import PartnerStore
from datacenter import STAC_VERSION, __version__
from datacenter.compute import Compute, compute_from_settings, local_threads
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
    runner: JobRunner = app.state.job_runner
    runner.recover()  # jobs a previous process left running can no longer finish
    runner.expire_results()
    stop = threading.Event()
    start_expiry_sweeper(runner, 600.0, stop)
    start_heartbeat(runner, HEARTBEAT_EVERY, stop)
    yield
    stop.set()
    runner.shutdown()
    if getattr(app.state, "owns_jobs", False):
        runner.jobs.close()
    if getattr(app.state, "owns_compute", False):
        app.state.compute.close()
    if getattr(app.state, "owns_catalog", False):
        app.state.catalog.close()


def create_app(
    catalog: Catalog,
    store: Store,
    *,
    settings: Settings | None = None,
    admin_keys: Iterable[str] | None = None,
    compute: Compute | None = None,
    jobs: JobStore | None = None,
    partners: PartnerStore | None = None,
    audit: AuditLog | None = None,
) -> FastAPI:
    """A STAC API over `catalog`, serving asset bytes from `store`, subsets and jobs
    computed on `compute` (default: Dask threads), jobs kept in `jobs` (default: the
    catalog's SQLite file, or ``<home>/jobs.sqlite`` beside another backend). API keys are
    checked against `partners` and decisions written to `audit` (both default to the
    catalog's own).

    Admin keys of `partners` (``datacenter admin keys create``) and the static `admin_keys`
    (by default those of `settings`, ``DATACENTER_ADMIN_KEYS``) may write through the
    Transaction routes (``Authorization: Bearer <key>``) and see every record.
    The caller keeps ownership of `catalog` and `compute` (they are not closed on shutdown).
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
    limits = settings or Settings()
    app.state.request_limits = RequestLimits.from_settings(limits)
    app.state.rate_limiter = RateLimiter.from_settings(limits)
    catalog.search_timeout = limits.api_search_timeout
    app.state.owns_catalog = False
    if admin_keys is None and settings is not None:
        admin_keys = settings.admin_key_set
    app.state.admin_keys = frozenset(k for k in admin_keys or () if k)
    transactions = Transactions(
        client=TransactionsClient(),
        settings=api_settings,
        route_dependencies=[Depends(require_admin)],
    )
    app.state.compute = compute or local_threads()
    settings = settings or Settings()
    if jobs is None:  # beside the catalog: its SQLite file, or its PostgreSQL database
        path, dsn = getattr(catalog, "path", None), getattr(catalog, "dsn", None)
        if dsn is not None:
            jobs = open_job_store(dsn)
        else:
            jobs_file = path if path is not None else (settings.home / "jobs.sqlite").resolve()
            jobs = open_job_store(f"sqlite:///{jobs_file}")
        app.state.owns_jobs = True
    ttl = timedelta(hours=settings.job_result_ttl_hours)
    app.state.subset_tasks = TaskTally()
    app.state.job_runner = JobRunner(catalog, store, jobs, app.state.compute, result_ttl=ttl,
                                     settings=settings, partners=app.state.partners,
                                     audit_log=app.state.audit)
    StacApi(
        app=app,
        settings=api_settings,
        client=CatalogClient(landing_page_id=LANDING_ID),
        stac_version=STAC_VERSION,  # the landing page's, as our items and collections (StacApi sets it on the client)
        extensions=[*app_extensions(), transactions],
        exceptions=STATUS,
        search_get_request_model=SearchGetRequest,
        search_post_request_model=SearchPostRequest,
        items_get_request_model=ItemsGetRequest,
        collections_get_request_model=CollectionsGetRequest,
        # No Brotli/GZip: compressing would break Content-Length and Range on downloads.
        # StacApi adds these in turn, each outside the ones before it: the body limit is
        # outermost, the lockout (locked-out credentials: 429 before routing) inside CORS
        middlewares=[
            Middleware(LockoutMiddleware),
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["OPTIONS", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Content-Type", "Range", "Authorization", "X-API-Key"],
                expose_headers=["Content-Range", "Content-Length", "Accept-Ranges", "ETag", "Server-Timing"],
                max_age=600,
            ),
            Middleware(ProxyHeaderMiddleware),
            Middleware(
                BodyLimitMiddleware,
                max_body_bytes=limits.api_max_body_bytes,
                body_timeout=limits.api_body_timeout,
            ),
            Middleware(ServerTimingMiddleware),  # outermost: it times all the others
        ],
        route_dependencies=[([{"path": "*", "method": "*"}], [Depends(bind_catalog)])],
    )
    app.include_router(downloads.router)
    app.include_router(extensions.router)
    app.include_router(subset_routes.router)
    app.include_router(job_routes.router)
    app.include_router(tile_routes.router)
    app.include_router(aggregate_routes.router)
    mount_browse(app)
    install_error_handlers(app, retry_after=limits.api_retry_after)
    return app


def app_from_settings(settings: Settings) -> FastAPI:
    """The app over the configured catalog and store; the catalog closes on shutdown."""
    url = settings.resolved_catalog_url
    catalog = open_catalog(url, count_limit=settings.search_count_limit)
    # Job state lives in the catalog's database: the SQLite file, or ``datacenter.jobs``
    # in PostgreSQL (shared by every replica).
    app = create_app(
        catalog, Store.from_settings(settings), settings=settings,
        compute=compute_from_settings(settings), jobs=open_job_store(url),
    )
    app.state.owns_jobs = True
    app.state.owns_catalog = True
    app.state.owns_compute = True
    return app
