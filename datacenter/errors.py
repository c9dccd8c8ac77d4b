"""One exception base for the whole data center.

Every error a user can cause or meet derives from `DatacenterError`; `api/errors.py`
maps these classes to HTTP statuses in one table, and the CLI prints their message as
the one-line reason. Messages say what was found, what was expected and what to do.
"""

from __future__ import annotations


class DatacenterError(Exception):
    """Base of every error the data center raises on purpose."""


class ConfigError(DatacenterError):
    """A setting is missing or malformed."""


class InvalidRequest(DatacenterError):
    """A request parameter is malformed (bbox, datetime, limit, token, ids...)."""


class TooLarge(InvalidRequest):
    """A synchronous request would produce more than the configured limit (HTTP 413)."""


class QuotaExceeded(DatacenterError):
    """A partner's quota is used up for now (HTTP 429 with ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}


class PartnerRequired(DatacenterError):
    """The operation needs an identified partner (an API key), not an anonymous caller."""


class NotFound(DatacenterError):
    """A collection, item or asset does not exist (or the caller may not see it)."""


class CollectionNotFound(NotFound):
    pass


class ItemNotFound(NotFound):
    pass


class AssetNotFound(NotFound):
    pass


class TileNotFound(NotFound):
    """A map tile outside its grid, or where no visible product has pixels."""


class Conflict(DatacenterError):
    """The request conflicts with what is stored (e.g. an item whose collection is missing)."""


class CatalogUnavailable(DatacenterError):
    """The catalog database does not answer (down, restarting, unreachable); retry later."""


class SearchTimeout(DatacenterError):
    """A search ran longer than the catalog's time budget and was stopped (HTTP 503)."""


class StorageError(DatacenterError):
    """The object store failed or refused an operation."""


class DiskFull(StorageError):
    """A disk ingest writes to (the store's, or the temporary folder's) has no space left."""


class InvalidKey(StorageError, InvalidRequest):
    """A storage key tries to leave the store (`..`, absolute path, another scheme)."""


class RangeNotSatisfiable(InvalidRequest):
    """An HTTP Range header asks for bytes outside the object."""


class ProductError(DatacenterError):
    """An input product cannot be ingested; the message is the one-line reason."""


class UnsupportedFormat(ProductError):
    """No reader recognises the file."""


class CorruptProduct(ProductError):
    """The file is truncated, unreadable or disagrees with its label."""


class LabelError(ProductError):
    """The product label is malformed or lacks a required field."""


class MissingDatetime(ProductError):
    """The product carries no acquisition time and none was given with --datetime."""


class Unauthorized(DatacenterError):
    """An API key was given but is unknown, revoked, or belongs to a disabled partner."""

    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DatacenterError):
    """A valid key that may not do this (a partner key on an admin-only route)."""


class RateLimited(DatacenterError):
    """Too many requests (or failed authentications) in the current window (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}
