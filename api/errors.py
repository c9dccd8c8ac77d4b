"""One status table from `datacenter.errors` to HTTP, and the handlers that use it.

Every error body is ``{"code": <exception class>, "description": <message>}`` (STAC API
spec). Only 5xx are logged with a traceback: a 404 or 400 is the caller's business.

`StacApi(exceptions=STATUS)` receives the table, but stac-fastapi's own handler logs every
error with a traceback, so `install_error_handlers` re-registers the same classes with ours
and also reshapes FastAPI's request-validation (422 -> 400) and HTTP errors into the body.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from stac_fastapi.api.errors import DEFAULT_STATUS_CODES
from starlette.exceptions import HTTPException as StarletteHTTPException

from datacenter.errors import (
    CatalogUnavailable,
    Conflict,
    DatacenterError,
    Forbidden,
    InvalidKey,
    InvalidRequest,
    NotFound,
    PartnerRequired,
    ProductError,
    QuotaExceeded,
    RangeNotSatisfiable,
    RateLimited,
    SearchTimeout,
    StorageError,
    TooLarge,
    Unauthorized,
)

logger = logging.getLogger(__name__)

# Starlette picks the handler of the first class in the exception's MRO, so a subclass
# listed here wins over its bases.
STATUS: dict[type[Exception], int] = {
    **DEFAULT_STATUS_CODES,  # stac-fastapi's own errors, should anything in it raise them
    DatacenterError: 500,
    NotFound: 404,
    InvalidRequest: 400,
    RangeNotSatisfiable: 416,
    Conflict: 409,
    StorageError: 503,
    CatalogUnavailable: 503,
    # a search stopped by the catalog's time budget (`Catalog.search_timeout`); the
    # description says so (not the generic outage text) and carries Retry-After
    SearchTimeout: 503,
    # InvalidKey is a StorageError *and* an InvalidRequest: a key that tries to leave the
    # store is the caller's mistake, not an outage.
    InvalidKey: 400,
    ProductError: 422,
    TooLarge: 413,
    QuotaExceeded: 429,  # carries Retry-After
    PartnerRequired: 401,
    # A key that is not valid now (unknown, revoked, partner disabled); carries
    # `WWW-Authenticate: Bearer`. No key at all is anonymous, never 401 (except on routes
    # that need one: `PartnerRequired`, and admin-only writes).
    Unauthorized: 401,
    Forbidden: 403,
    # failed authentications or a partner's requests over their rate (`api.rate_limits`);
    # carries `Retry-After`
    RateLimited: 429,
}


def error_response(
    status: int, code: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "description": description}, status_code=status, headers=headers
    )


def _table_handler(status: int, retry_after: int):
    def handle(request: Request, exc: Exception) -> JSONResponse:
        # An error may carry response headers (416 carries Content-Range: bytes */size).
        headers = dict(getattr(exc, "headers", None) or {})
        description = str(exc)
        if isinstance(exc, SearchTimeout):
            headers["Retry-After"] = str(retry_after)
        elif status == 503:
            # An outage of a server behind the API (object store, catalog database): the
            # client may retry; the detail (keys, endpoints) is for the log, not the caller.
            logger.error("%s %s: %s", request.method, request.url.path, exc)
            headers["Retry-After"] = str(retry_after)
            description = (
                f"a storage service behind the API is unavailable; retry in {retry_after} seconds"
            )
        elif status >= 500:
            logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(status, type(exc).__name__, description, headers or None)

    return handle


def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {msg}")
    description = "; ".join(parts) or "the request is malformed"
    return JSONResponse(
        jsonable_encoder({"code": "InvalidRequest", "description": description}),
        status_code=400,
    )


def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    try:
        code = HTTPStatus(exc.status_code).phrase.replace(" ", "")
    except ValueError:
        code = "HTTPError"
    description = str(exc.detail)
    if exc.status_code == 404 and description == "Not Found":
        description = f"nothing is served at {request.url.path}"
    return error_response(exc.status_code, code, description, getattr(exc, "headers", None))


def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this response, so the server logs the traceback once.
    return error_response(
        500, "InternalServerError", f"{request.method} {request.url.path} failed unexpectedly; "
        "the server log has the details"
    )


def install_error_handlers(app: FastAPI, *, retry_after: int = 5) -> None:
    """Register the table's handlers (replacing stac-fastapi's) and the body reshapers.

    Every 503 (`StorageError`: the object store, `CatalogUnavailable`: the database, is down)
    carries ``Retry-After: <retry_after>``.
    """
    for exc_class, status in STATUS.items():
        app.add_exception_handler(exc_class, _table_handler(status, retry_after))
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_handler)
